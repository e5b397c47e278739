"""BPR-MF: matrix factorisation trained with Bayesian personalised ranking.

Reference: Steffen Rendle, Christoph Freudenthaler, Zeno Gantner, Lars Schmidt-Thieme.
"BPR: Bayesian Personalized Ranking from Implicit Feedback". UAI 2009.

Score: ``y(u, i) = <U_u, V_i> + b_i`` (no sequence is read).
Loss: BPR-Opt, mean over (target t, negative t) pairs of ``-log sigmoid(y(u, pos) - y(u, neg))``,
plus ``l2`` times the squared norms of the rows each pair touches (U_u, V_pos, V_neg, b_pos,
b_neg), averaged over pairs.

Deviations from Rendle et al. 2009:

* Training pairs come from our windows (every training item of a user is a target, one uniform
  negative per target per epoch, excluding the window's targets) rather than LearnBPR's
  bootstrap sampling of (u, i, j) triples; a target appearing in T windows is seen T times.
* Mini-batches with Adam (lr 1e-3) instead of per-triple SGD; the paper's baselines were tuned
  by grid search (values not reported), ours are not tuned.
* An item bias ``b_i`` (``item_bias=True``; our choice, like TransRec's beta_i, since popularity
  matters on MovieLens; Rendle et al. have none and ``item_bias=False`` drops it).
* d = 100 (the AttRec paper's fairness rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .distributions import LogUniform
from ._shared import bpr_loss, normal_table, sq
from .base import Batch, ModelConfig, SequentialRecommender, check_range


@dataclass(frozen=True)
class BPRMFConfig(ModelConfig):
    d: int = 100  # latent dimension (AttRec paper: 100 for every model)
    item_bias: bool = True  # add b_i (ours, like TransRec's beta_i); Rendle et al. 2009 have none
    l2: float = 1e-4  # lambda of the per-pair L2 (BPR-Opt's lambda_Theta; untuned, ours)
    init_std: float = 0.01  # std of the normal initialisation (ours; Rendle et al. use N(0, 0.1^2))

    def validate(self) -> "BPRMFConfig":
        super().validate()
        check_range("d", self.d, 1)
        check_range("l2", self.l2, 0.0)
        check_range("init_std", self.init_std, 0.0, low_open=True)
        return self


PRESETS = {"paper": BPRMFConfig()}

SEARCH_SPACE = {  # learning rate and regularisation; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "l2": LogUniform(1e-6, 1e-2),
}


class BPRMF(SequentialRecommender):
    config_class, presets = BPRMFConfig, PRESETS
    search_space = SEARCH_SPACE
    # Adam 1e-3: the AttRec authors' PRME code (our notes) and Caser/SASRec use it; the paper's own
    # baseline settings are not reported.
    training = {"optimizer": "adam", "lr": 1e-3}

    def __init__(self, n_users: int, n_items: int, config: BPRMFConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        self.U = normal_table(n_users, config.d, config.init_std)
        self.V = normal_table(n_items, config.d, config.init_std)
        self.b = nn.Parameter(torch.zeros(n_items), requires_grad=config.item_bias)

    def _pair_scores(self, users, items):  # (B, K)
        return (self.U[users][:, None, :] * self.V[items]).sum(-1) + self.b[items]

    def score(self, users, inputs):
        return self.U[users] @ self.V.T + self.b  # (B, N)

    def loss(self, batch: Batch) -> torch.Tensor:
        pos = self._pair_scores(batch.users, batch.targets)  # (B, T)
        neg = self._pair_scores(batch.users, batch.negatives)
        reg = (sq(self.U[batch.users])[:, None] + sq(self.V[batch.targets]) + sq(self.V[batch.negatives])
               + self.b[batch.targets] ** 2 + self.b[batch.negatives] ** 2)  # (B, T)
        return bpr_loss(pos, neg) + self.config.l2 * reg.mean()
