"""FPMC: factorising personalised Markov chains (first order, one item per basket).

Reference: Steffen Rendle, Christoph Freudenthaler, Lars Schmidt-Thieme. "Factorizing
Personalized Markov Chains for Next-Basket Recommendation". WWW 2010.

Score: ``y(u, i | prev) = <U_u, V_i> + <L_i, F_prev> + b_i`` where ``prev`` is the item read
last (``inputs[:, -1]``); the user-previous-item term of the full tensor factorisation cancels
under BPR and is dropped, as in the paper (Sec. 5.1). ``F`` has an extra zero row for PAD.
Loss: S-BPR, mean over (target t, negative t) pairs of ``-log sigmoid(y_pos - y_neg)`` plus
``l2`` times the squared norms of the rows each pair touches, averaged over pairs.

Deviations from Rendle et al. 2010:

* Baskets of one item (next-item setting); the previous "basket" is the previous item.
* Training: for target t of a window the previous item is target t-1 (``train_prev="shifted"``,
  true consecutive transitions as in the paper); ``"last_input"`` pairs every target with
  ``inputs[:, -1]`` instead. Scoring always uses ``inputs[:, -1]``.
* Mini-batch Adam (lr 1e-3) over our windows with one uniform negative per target instead of
  LearnSBPR's bootstrap SGD; hyperparameters untuned (the AttRec paper grid-searched, values
  not reported).
* Item bias ``b_i`` (``item_bias=True``, our choice; ``False`` gives the paper's model).
* d = 100 for every factor (the AttRec paper's fairness rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .distributions import LogUniform
from ._shared import TRAIN_PREV_CHOICES, bpr_loss, normal_table, padded_table, previous_items, sq
from .base import Batch, ModelConfig, SequentialRecommender, check_choice, check_range


@dataclass(frozen=True)
class FPMCConfig(ModelConfig):
    d: int = 100  # latent dimension of U, V, L, F (AttRec paper: 100 for every model)
    train_prev: str = "shifted"  # previous item of each training target: "shifted" or "last_input"
    item_bias: bool = True  # add b_i (ours); Rendle et al. 2010 have none
    l2: float = 1e-4  # lambda of the per-pair L2 (Rendle et al. tune it; untuned, ours)
    init_std: float = 0.01  # std of the normal initialisation (Rendle et al.: N(0, 0.01))

    def validate(self):
        super().validate()
        check_range("d", self.d, 1)
        check_choice("train_prev", self.train_prev, TRAIN_PREV_CHOICES)
        check_range("l2", self.l2, 0.0)
        check_range("init_std", self.init_std, 0.0, low_open=True)
        return self


PRESETS = {"paper": FPMCConfig()}

SEARCH_SPACE = {  # learning rate and regularisation; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "l2": LogUniform(1e-6, 1e-2),
}


class FPMC(SequentialRecommender):
    config_class, presets = FPMCConfig, PRESETS
    search_space = SEARCH_SPACE
    # Adam 1e-3 (as the AttRec authors' PRME code); the paper's baseline settings are not reported.
    training = {"optimizer": "adam", "lr": 1e-3}
    user_term = True  # FMC (fmc.py) switches the <U_u, V_i> term off

    def __init__(self, n_users: int, n_items: int, config: FPMCConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        d, std = config.d, config.init_std
        if self.user_term:
            self.U = normal_table(n_users, d, std)  # user -> item factors
            self.V = normal_table(n_items, d, std)
        self.L = normal_table(n_items, d, std)  # next item, transition side
        self.F = padded_table(n_items, d, std)  # previous item (+ PAD row)
        self.b = nn.Parameter(torch.zeros(n_items), requires_grad=config.item_bias)

    def _pair_scores(self, users, prev, items):  # users (B,), prev (B, K), items (B, K) -> (B, K)
        s = (self.L[items] * self.F(prev)).sum(-1) + self.b[items]
        if self.user_term:
            s = s + (self.U[users][:, None, :] * self.V[items]).sum(-1)
        return s

    def score(self, users, inputs):
        s = self.F(inputs[:, -1]) @ self.L.T + self.b  # (B, N)
        if self.user_term:
            s = s + self.U[users] @ self.V.T
        return s

    def loss(self, batch: Batch) -> torch.Tensor:
        prev = previous_items(batch, self.config.train_prev)  # (B, T)
        pos = self._pair_scores(batch.users, prev, batch.targets)
        neg = self._pair_scores(batch.users, prev, batch.negatives)
        reg = (sq(self.F(prev)) + sq(self.L[batch.targets]) + sq(self.L[batch.negatives])
               + self.b[batch.targets] ** 2 + self.b[batch.negatives] ** 2)  # (B, T)
        if self.user_term:
            reg = reg + sq(self.U[batch.users])[:, None] + sq(self.V[batch.targets]) + sq(self.V[batch.negatives])
        return bpr_loss(pos, neg) + self.config.l2 * reg.mean()
