"""FMC ("MC" in the AttRec paper's Table 2): a factorised first-order Markov chain.

Reference: the transition part of FPMC, Rendle, Freudenthaler, Schmidt-Thieme. "Factorizing
Personalized Markov Chains for Next-Basket Recommendation". WWW 2010 (FMC in their Sec. 6).

Score: ``y(i | prev) = <L_i, F_prev> + b_i`` with ``prev = inputs[:, -1]`` (no user term).
Loss: BPR, mean over (target t, negative t) pairs, plus the per-pair L2 of the rows touched.

Deviations: as in fpmc.py (shifted previous items for the training targets by default, Adam
1e-3 mini-batches over our windows, item bias ``b_i`` on by default, d = 100, untuned L2).
"""
from __future__ import annotations

from dataclasses import dataclass

from ._shared import TRAIN_PREV_CHOICES
from .base import check_choice, check_range
from .fpmc import FPMC


@dataclass(frozen=True)
class FMCConfig:
    d: int = 100  # latent dimension of L and F (AttRec paper: 100 for every model)
    seq_len: int = 5  # L: windows as AttRec's; only inputs[:, -1] is read
    n_targets: int = 3  # T: targets per window (AttRec's MovieLens setting)
    train_prev: str = "shifted"  # previous item of each training target: "shifted" or "last_input"
    item_bias: bool = True  # add b_i (ours); FMC in Rendle et al. 2010 has none
    l2: float = 1e-4  # lambda of the per-pair L2 (untuned, ours)
    init_std: float = 0.01  # std of the normal initialisation (Rendle et al.: N(0, 0.01))

    def validate(self):
        check_range("d", self.d, 1)
        check_range("seq_len (L)", self.seq_len, 1)
        check_range("n_targets (T)", self.n_targets, 1)
        check_choice("train_prev", self.train_prev, TRAIN_PREV_CHOICES)
        check_range("l2", self.l2, 0.0)
        check_range("init_std", self.init_std, 0.0, low_open=True)
        return self


PRESETS = {"paper": FMCConfig()}


class FMC(FPMC):
    user_term = False

    def __init__(self, n_users: int, n_items: int, config: FMCConfig = FMCConfig()):
        super().__init__(n_users, n_items, config)


MODEL, CONFIG = FMC, FMCConfig
TRAINING = {
    None: {"optimizer": "adam", "lr": 1e-3},
    "paper": {"optimizer": "adam", "lr": 1e-3},
}
