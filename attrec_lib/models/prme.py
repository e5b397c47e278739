"""PRME: personalised ranking metric embedding (two Euclidean spaces).

Reference: Shanshan Feng, Xutao Li, Yifeng Zeng, Gao Cong, Yeow Meng Chee, Quan Yuan.
"Personalized Ranking Metric Embedding for Next New POI Recommendation". IJCAI 2015.

Score (minus a weighted squared distance, higher is better)::

    y(u, i | prev) = -(alpha * ||U_u - P_i||^2 + (1 - alpha) * ||S_prev - S_i||^2)

with ``alpha = 0.2`` on the user-preference space, the weighting of the AttRec authors' PRME
code (our notes); ``prev = inputs[:, -1]``; ``S`` has an extra zero row for PAD.
Loss: BPR, mean over (target t, negative t) pairs of ``-log sigmoid(y_pos - y_neg)``, plus the
per-pair L2 of the rows touched.

Deviations from Feng et al. 2015:

* No time-interval threshold (PRME-G's switch to the preference space alone when the previous
  check-in is too old): we have no meaningful time gaps within windows.
* The paper weights the preference distance by alpha and tunes it; we fix 0.2 on the preference
  term as the authors' PRME code did.
* Training targets' previous item is the preceding target (``train_prev="shifted"``).
* Adam 1e-3 (the authors' PRME code) over our windows, one uniform negative per target; d = 100.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .distributions import LogUniform
from ._shared import TRAIN_PREV_CHOICES, bpr_loss, normal_table, padded_table, previous_items, sq
from .base import Batch, ModelConfig, SequentialRecommender, check_choice, check_range, squared_distances


@dataclass(frozen=True)
class PRMEConfig(ModelConfig):
    d: int = 100  # dimension of both spaces (AttRec paper: 100 for every model)
    alpha: float = 0.2  # weight of the user-preference distance (AttRec authors' PRME code: 0.2/0.8)
    train_prev: str = "shifted"  # previous item of each training target: "shifted" or "last_input"
    l2: float = 1e-4  # lambda of the per-pair L2 (Feng et al. tune it; untuned, ours)
    init_std: float = 0.01  # std of the normal initialisation (ours)

    def validate(self):
        super().validate()
        check_range("d", self.d, 1)
        check_range("alpha", self.alpha, 0.0, 1.0)
        check_choice("train_prev", self.train_prev, TRAIN_PREV_CHOICES)
        check_range("l2", self.l2, 0.0)
        check_range("init_std", self.init_std, 0.0, low_open=True)
        return self


PRESETS = {"paper": PRMEConfig()}

SEARCH_SPACE = {  # learning rate and regularisation; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "l2": LogUniform(1e-6, 1e-2),
}


class PRME(SequentialRecommender):
    config_class, presets = PRMEConfig, PRESETS
    search_space = SEARCH_SPACE
    # Adam 1e-3: the AttRec authors' PRME code (our notes)
    training = {"optimizer": "adam", "lr": 1e-3}

    def __init__(self, n_users: int, n_items: int, config: PRMEConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        d, std = config.d, config.init_std
        self.U = normal_table(n_users, d, std)  # users, preference space
        self.P = normal_table(n_items, d, std)  # items, preference space
        self.S = padded_table(n_items, d, std)  # items, sequential space (+ PAD row)

    def _pair_scores(self, users, prev, items):  # (B,), (B, K), (B, K) -> (B, K)
        a = self.config.alpha
        pref = sq(self.U[users][:, None, :] - self.P[items])
        seq = sq(self.S(prev) - self.S(items))
        return -(a * pref + (1.0 - a) * seq)

    def score(self, users, inputs):
        a = self.config.alpha
        pref = squared_distances(self.U[users], self.P)  # (B, N)
        seq = squared_distances(self.S(inputs[:, -1]), self.S.weight[: self.n_items])
        return -(a * pref + (1.0 - a) * seq)

    def loss(self, batch: Batch) -> torch.Tensor:
        prev = previous_items(batch, self.config.train_prev)  # (B, T)
        pos = self._pair_scores(batch.users, prev, batch.targets)
        neg = self._pair_scores(batch.users, prev, batch.negatives)
        reg = (sq(self.U[batch.users])[:, None] + sq(self.S(prev))
               + sq(self.P[batch.targets]) + sq(self.P[batch.negatives])
               + sq(self.S(batch.targets)) + sq(self.S(batch.negatives)))
        return bpr_loss(pos, neg) + self.config.l2 * reg.mean()
