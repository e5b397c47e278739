"""The study's one selection rule, and the seed rules beside it.

Every choice the study makes between candidates (a tuning trial, the strongest baseline, the best
omega, L, aggregation or d, the best sequential and order-blind model) goes through
:func:`ranking` / :func:`best`: candidates are ranked on the **mean validation HR@50 over their
seeds** (:data:`CHOICE_METRIC`, the validation-selected epoch's), highest first. A test metric
never chooses. **Tie rule** (one, for every choice): equal means keep the candidates' order, which
is the order the caller passes in ``order`` or else the order in which candidates first appear in
the frame (trial order for the tuning, Table 2's model order for the baselines, ascending
omega / L / d for the sweeps, as their builders emit them).

The released protocol picks its epoch on the test item (``test_selected`` in
:mod:`attrec_lib.training.train`): that is the authors' protocol, reported as such, and it never
takes part in a choice here (:func:`choice_column` refuses frames whose runs lack validation).

Beside the rule: :func:`seed_mean` (the mean over seeds that every table and choice reports) and
:func:`beyond_seed_sd` (the study's "larger than seed-to-seed noise" rule). The significance rule
is :func:`attrec_lib.rules.stats.significant`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# What every choice of the study reads: mean validation HR@50 of the validation-selected epoch.
CHOICE_METRIC = "valid_hr@50"


def choice_column(df: pd.DataFrame, what: str) -> str:
    """:data:`CHOICE_METRIC`, after checking that every row of ``df`` has it (released-protocol
    runs have no validation item and cannot take part in a choice); ``what`` names the choice."""
    if CHOICE_METRIC not in df.columns or df[CHOICE_METRIC].isna().any():
        raise ValueError(f"{what} chooses on {CHOICE_METRIC}, which some runs lack (released protocol runs "
                         "have no validation item and cannot take part in a choice)")
    return CHOICE_METRIC


def seed_mean(df: pd.DataFrame, by, column: str = CHOICE_METRIC) -> pd.Series:
    """Mean of ``column`` over the runs (seeds) of each group of ``by``, groups in order of first
    appearance."""
    return df.groupby(by, sort=False)[column].mean()


def ranking(df: pd.DataFrame, by, what: str, order=None) -> list:
    """The candidates (values of column ``by``) ranked by mean validation HR@50 over their seeds,
    best first; ties keep ``order`` (default: first appearance in ``df``). ``order`` also restricts
    the candidates to those it lists. ``what`` names the choice in errors."""
    means = seed_mean(df, by, choice_column(df, what))
    candidates = list(means.index) if order is None else [c for c in order if c in means.index]
    if not candidates:
        raise ValueError(f"{what}: no candidates to choose from")
    values = [means[c] for c in candidates]
    # Stable sort on the negated mean: equal means keep the candidates' order.
    return [candidates[i] for i in np.argsort(-np.asarray(values, dtype=float), kind="stable")]


def best(df: pd.DataFrame, by, what: str, order=None):
    """The candidate that :func:`ranking` puts first: highest mean validation HR@50, ties to the
    earliest in ``order`` (default: first appearance)."""
    return ranking(df, by, what, order)[0]


def beyond_seed_sd(delta: float, *sds: float) -> bool:
    """The study's noise rule: a difference counts only when it is larger than the larger
    seed-to-seed sd of the two sides (a missing sd, e.g. one seed, counts as 0)."""
    finite = [float(s) for s in sds if s is not None and np.isfinite(s)]
    return bool(abs(delta) > max(finite + [0.0]))
