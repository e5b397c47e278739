"""HRM: hierarchical representation model, with average pooling at both layers.

Reference: Pengfei Wang, Jiafeng Guo, Yanyan Lan, Jun Xu, Shengxian Wan, Xueqi Cheng.
"Learning Hierarchical Representation Model for Next Basket Recommendation". SIGIR 2015.

Score: ``y(u, i) = <h_u, V_i> + b_i`` with the two-layer aggregation
``t = mean(X_j for j in the last n_last items)`` (layer 1, the last "transaction") and
``h_u = mean(U_u, t)`` (layer 2). Average pooling at both layers, as the AttRec paper ran HRM.
Padded inputs are left out of the layer-1 mean.
Loss: HRM's negative sampling, i.e. a sampled logistic loss (binary cross-entropy with the
sampled negatives): ``-log sigmoid(y_pos) - log sigmoid(-y_neg)`` averaged over targets and
negatives, plus the per-pair L2 of the rows touched.

Deviations from Wang et al. 2015:

* A transaction is one item; layer 1 pools the last ``n_last`` items (default 1, the previous
  "basket"). Every one of the T targets of a window is predicted from the same ``h_u``.
* One uniform negative per target (HRM draws k negatives from the popularity distribution).
* Separate input (X, with a zero PAD row) and output (V) item tables, and an output item bias
  ``b_i`` (ours; ``item_bias=False`` drops it).
* Mini-batch Adam (lr 1e-3) instead of SGD; untuned L2; d = 100 (the AttRec paper's rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .distributions import LogUniform
from ._shared import bce_loss, normal_table, padded_table, sq
from .base import Batch, ModelConfig, SequentialRecommender, check_range


@dataclass(frozen=True)
class HRMConfig(ModelConfig):
    d: int = 100  # latent dimension (AttRec paper: 100 for every model)
    n_last: int = 1  # items pooled at layer 1 (HRM: the last transaction = 1 item here)
    item_bias: bool = True  # output bias b_i (ours)
    l2: float = 1e-4  # lambda of the per-pair L2 (HRM tunes it; untuned, ours)
    init_std: float = 0.01  # std of the normal initialisation (ours)

    def validate(self):
        super().validate()
        check_range("d", self.d, 1)
        check_range("n_last", self.n_last, 1, self.seq_len)
        check_range("l2", self.l2, 0.0)
        check_range("init_std", self.init_std, 0.0, low_open=True)
        return self


PRESETS = {"paper": HRMConfig()}

SEARCH_SPACE = {  # learning rate and regularisation; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "l2": LogUniform(1e-6, 1e-2),
}


class HRM(SequentialRecommender):
    config_class, presets = HRMConfig, PRESETS
    search_space = SEARCH_SPACE
    training = {"optimizer": "adam", "lr": 1e-3}

    def __init__(self, n_users: int, n_items: int, config: HRMConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        d, std = config.d, config.init_std
        self.U = normal_table(n_users, d, std)
        self.X = padded_table(n_items, d, std)  # input items (+ PAD row)
        self.V = normal_table(n_items, d, std)  # output items
        self.b = nn.Parameter(torch.zeros(n_items), requires_grad=config.item_bias)

    def hidden(self, users, inputs) -> torch.Tensor:
        """(B, d) h_u = mean(U_u, mean of the last n_last item vectors)."""
        last = inputs[:, -self.config.n_last:]  # (B, k)
        valid = (last != self.n_items).unsqueeze(-1)  # (B, k, 1)
        t = (self.X(last) * valid).sum(1) / valid.sum(1).clamp_min(1)  # (B, d)  layer 1
        return 0.5 * (self.U[users] + t)  # layer 2

    def score(self, users, inputs):
        return self.hidden(users, inputs) @ self.V.T + self.b  # (B, N)

    def loss(self, batch: Batch) -> torch.Tensor:
        h = self.hidden(batch.users, batch.inputs)[:, None, :]  # (B, 1, d)
        pos = (h * self.V[batch.targets]).sum(-1) + self.b[batch.targets]  # (B, T)
        neg = (h * self.V[batch.negatives]).sum(-1) + self.b[batch.negatives]
        last = batch.inputs[:, -self.config.n_last:]
        reg = (sq(self.U[batch.users]) + sq(self.X(last)).sum(1))[:, None] + sq(self.V[batch.targets]) \
            + sq(self.V[batch.negatives]) + self.b[batch.targets] ** 2 + self.b[batch.negatives] ** 2
        return bce_loss(pos, neg) + self.config.l2 * reg.mean()
