"""Paired comparisons of two models over users *and* seeds, and Holm-Bonferroni over a family.

Why this method
---------------
A model's number in this study is a mean over users of a per-user metric (HR@50 is 0/1 per
user, MRR the reciprocal rank), averaged again over training seeds. Two sources of noise enter
it: which users the data set happens to hold, and which seed a run was trained with. A test
that first averages each user's seeds and then compares users (the Wilcoxon test of
``tables.paired_test``) sees only the first; with three seeds per model, the seed-to-seed spread
of HR@50 (0.004-0.009 on ML-100K) is of the same size as the differences the verdict decides on.

:func:`compare` therefore uses a **two-level (users x seeds) bootstrap**. Each replicate

1. draws the users with replacement (``n`` of ``n``): users are the paired unit, the same
   user's test item is scored by both models, so one draw weights both models alike;
2. draws each model's seeds with replacement, ``k - 1`` of its ``k`` seeds (one where it has one).
   A seed is a whole training run, shared by every user, so it is drawn once per replicate,
   not per user. Drawing ``k - 1`` rather than ``k`` makes the bootstrap variance of a mean of
   ``k`` seeds equal to the usual ``s^2 / k`` instead of ``(k-1)/k`` of it, which matters at
   ``k = 3``. Seeds of two different models are unrelated (AttRec's seed 0 and TransRec's seed
   0 share nothing), so they are drawn independently; two selections of the *same* runs
   (``paired_seeds=True``, e.g. the validation- and test-selected epoch of one run) draw one
   set of seed indices for both;

and computes the difference of the weighted means. The 95% interval is the percentile
interval of the replicates. The p-value is the normal one of the bootstrap standard error,
``2 Phi(-|d| / se*)`` (one-sided ``Phi(-d / se*)``): a mean over hundreds of users is close to
normal, and unlike the share of replicates beyond 0 (which cannot go below ``1 / n_boot``) it
does not floor at a value that Holm's adjustment over ~50 tests multiplies past 0.05.
:func:`compare` also returns that share (``p percentile``), for a check of the agreement.
Resampling both levels of a crossed design counts the user x seed interaction twice, so the
interval is slightly conservative: a difference it calls significant is not seed noise. A model
with one seed (the deterministic simple baselines) contributes no seed variance, which is right:
rerunning it gives the same numbers.

Why not scipy here: ``scipy.stats.bootstrap`` resamples one level (observations, or pairs with
``paired=True``), not runs and users at once; ``scipy.stats.wilcoxon`` is what the old test used
and stays in ``tables.paired_test``. scipy has no Holm step-down (``false_discovery_control``
controls the false discovery rate, Benjamini-Hochberg/Yekutieli, a weaker guarantee than the
family-wise error the verdict's "holds" needs), so :func:`holm` is written here.

Everything is seeded (``seed``), so the same inputs give the same interval and p on every run.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

ALPHA = 0.05  # the level of every test of the verdict, after Holm's adjustment
N_BOOT = 2000  # replicates per comparison (interval and standard error)
SEED = 0
METRICS = ("hr@50", "mrr")
METHOD = "two-level bootstrap over users and seeds"
_CHUNK = 250  # replicates drawn at a time (memory: seeds x chunk x users values)


def _check_matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 2:
        raise ValueError(f"{name} must be a (seeds x users) matrix with at least two users, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds a missing or infinite per-user value")
    return x


def _seed_weights(rng, k: int, size: int) -> np.ndarray:
    """(size x k) weights of a draw of k - 1 seeds of k with replacement (k = 1: weight 1)."""
    if k == 1:
        return np.ones((size, 1))
    draws = rng.integers(0, k, size=(size, k - 1))
    weights = np.zeros((size, k))
    np.add.at(weights, (np.repeat(np.arange(size), k - 1), draws.ravel()), 1.0)
    return weights / (k - 1)


def bootstrap_replicates(a, b=None, n_boot: int = N_BOOT, seed: int = SEED, paired_seeds: bool = False) -> np.ndarray:
    """``n_boot`` replicates of mean(a) - mean(b) (or of mean(a) with ``b`` None) under the
    two-level bootstrap of the module docstring. ``a``, ``b``: (seeds x users) arrays whose
    columns are the same users in the same order."""
    a = _check_matrix(a, "a")
    if b is not None:
        b = _check_matrix(b, "b")
        if b.shape[1] != a.shape[1]:
            raise ValueError(f"a and b must hold the same users: {a.shape[1]} vs {b.shape[1]} columns")
        if paired_seeds and b.shape[0] != a.shape[0]:
            raise ValueError(f"paired_seeds needs the same seeds in a and b: {a.shape[0]} vs {b.shape[0]} rows")
    n = a.shape[1]
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for start in range(0, n_boot, _CHUNK):
        size = min(_CHUNK, n_boot - start)
        users = rng.integers(0, n, size=(size, n))  # each replicate's users, drawn with replacement
        wa = _seed_weights(rng, a.shape[0], size)
        value = np.einsum("rs,sr->r", wa, a[:, users].mean(axis=2))  # seed means of the drawn users
        if b is not None:
            wb = wa if paired_seeds else _seed_weights(rng, b.shape[0], size)
            value = value - np.einsum("rs,sr->r", wb, b[:, users].mean(axis=2))
        out[start:start + size] = value
    return out


def _p_percentile(reps: np.ndarray, alternative: str) -> float:
    """The share of replicates beyond 0 (+1 corrected): what the percentile interval inverts."""
    n = len(reps)
    low = (np.sum(reps <= 0) + 1) / (n + 1)
    if alternative == "greater":
        return float(low)
    return float(min(1.0, 2 * min(low, (np.sum(reps >= 0) + 1) / (n + 1))))


def _p_normal(delta: float, se: float, alternative: str) -> float:
    """p of ``delta`` under a normal null with the bootstrap standard error ``se``."""
    if se == 0:
        return 1.0 if delta == 0 or (alternative == "greater" and delta < 0) else 0.0
    z = delta / se
    return float(special.ndtr(-z) if alternative == "greater" else min(1.0, 2 * special.ndtr(-abs(z))))


def compare(a, b, n_boot: int = N_BOOT, seed: int = SEED, paired_seeds: bool = False,
            alternative: str = "two-sided", level: float = 0.95) -> dict:
    """The difference mean(a) - mean(b) of two (seeds x users) matrices of one metric, with its
    percentile interval (``level``) and p-value from :func:`bootstrap_replicates`.
    ``alternative``: "two-sided" or "greater" (a > b)."""
    if alternative not in ("two-sided", "greater"):
        raise ValueError(f"alternative must be 'two-sided' or 'greater', got {alternative!r}")
    a, b = _check_matrix(a, "a"), _check_matrix(b, "b")
    reps = bootstrap_replicates(a, b, n_boot, seed, paired_seeds)
    tail = (1 - level) / 2
    lo, hi = np.quantile(reps, [tail, 1 - tail])
    delta = float(a.mean() - b.mean())
    se = float(reps.std(ddof=1))
    return {"mean a": float(a.mean()), "mean b": float(b.mean()), "delta": delta, "se": se,
            "ci low": float(lo), "ci high": float(hi), "p": _p_normal(delta, se, alternative),
            "p percentile": _p_percentile(reps, alternative), "users": a.shape[1],
            "seeds a": a.shape[0], "seeds b": b.shape[0], "alternative": alternative, "method": METHOD}


def mean_interval(a, n_boot: int = N_BOOT, seed: int = SEED, level: float = 0.95) -> tuple:
    """(mean, low, high) of one (seeds x users) matrix under the same bootstrap."""
    a = _check_matrix(a, "a")
    reps = bootstrap_replicates(a, None, n_boot, seed)
    tail = (1 - level) / 2
    lo, hi = np.quantile(reps, [tail, 1 - tail])
    return float(a.mean()), float(lo), float(hi)


def matrices(users: pd.DataFrame, label_a, label_b, metric: str, by: str = "model") -> tuple:
    """(seeds x users) arrays of ``metric`` for ``users[by] == label_a`` and ``label_b`` from a
    long per-user frame (columns ``by``, ``seed``, ``user``, ``metric``; ``tables.per_user``),
    restricted to the users both have, in the same column order."""
    for col in (by, "seed", "user", metric):
        if col not in users.columns:
            raise ValueError(f"per-user frame lacks column {col!r} (has {list(users.columns)})")
    wide = {}
    for label in (label_a, label_b):
        part = users[users[by] == label]
        if part.empty:
            raise ValueError(f"per-user frame has no rows with {by} == {label!r}")
        if part.duplicated(["seed", "user"]).any():
            raise ValueError(f"per-user frame has several rows per (seed, user) for {by} == {label!r}")
        wide[label] = part.pivot(index="seed", columns="user", values=metric)
    common = wide[label_a].columns.intersection(wide[label_b].columns)
    a, b = (wide[label][common].dropna(axis=1) for label in (label_a, label_b))
    common = a.columns.intersection(b.columns)
    return a[common].to_numpy(float), b[common].to_numpy(float)


def compare_users(users: pd.DataFrame, label_a, label_b, metrics=METRICS, by: str = "model", **kwargs) -> dict:
    """:func:`compare` of ``label_a`` against ``label_b`` for each metric: ``{metric: result}``."""
    return {m: compare(*matrices(users, label_a, label_b, m, by), **kwargs) for m in metrics}


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given; NaN stays NaN and is not counted
    in the family). The i-th smallest of m p-values is multiplied by m - i + 1, then made
    monotone from the smallest up and capped at 1; rejecting where the adjusted p < alpha keeps
    the family-wise error rate at alpha."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"holm takes a 1-D sequence of p-values, got shape {p.shape}")
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise ValueError("holm: p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(valid)
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def significant(p_adjusted: float, alpha: float = ALPHA) -> bool:
    """The study's significance rule: True where a p-value (Holm-adjusted wherever a family of
    tests decides, as in the verdict) is below ``alpha`` (NaN: no test, False)."""
    return bool(np.isfinite(p_adjusted) and p_adjusted < alpha)
