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

from .distributions import LogUniform
from .fpmc import FPMC, FPMCConfig


@dataclass(frozen=True)
class FMCConfig(FPMCConfig):
    """FPMC's fields and defaults (d is the size of L and F; there is no U or V).

    Rendle et al. 2010 give FMC no item bias; ``item_bias=True`` is ours, as for FPMC.
    """


PRESETS = {"paper": FMCConfig()}

SEARCH_SPACE = {  # learning rate and regularisation; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "l2": LogUniform(1e-6, 1e-2),
}


class FMC(FPMC):
    config_class, presets = FMCConfig, PRESETS  # training: FPMC's (Adam 1e-3)
    search_space = SEARCH_SPACE
    user_term = False
