"""Figure 3 against a null model: is the column pattern of AttRec's attention maps learned?

The paper reads its Figure 3 (two users) as "column distinguishable": each column (attended
item) gets about the same weight from every query position. A softmax over query-key products
with one shared projection (W_Q = W_K) can produce such columns without learning anything: an
item whose embedding has a large norm scores high against every query. So the same statistic is
measured, over *every* user's test input (not two), on three models:

* ``trained``: Figure 3's own run (:func:`builders.figure3_spec`) at its validation-selected epoch;
* ``untrained``: the same architecture at its initialisation (seeded; nothing learned);
* ``trained on shuffled sequences``: the same settings trained on each user's sequence in a random
  order (tie rule ``user_shuffled:<seed>``, :func:`claim_specs.figure3_null_spec`): it learns the
  items but no order.

All three score the same inputs (each user's last L items before the test item, stable ties).
The statistic is :func:`findings.column_share` per map: the share of the variance of the
off-diagonal weights explained by the column. The paper's reading, as a testable claim: the
trained model's maps are more column-structured than both null models' (mean share over users,
paired over users, one-sided, 95% bootstrap interval; Holm over the two comparisons). One seed
per model, so only user-to-user noise enters; the runs are single runs, as the paper's figure is.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import models
from ..rules import stats
from ..runs import compute, runspec
from ..study import claim_specs
from ..study import builders
from .attention import stable, weights
from .display import p_text

NULL_LABELS = ("trained", "untrained", "trained on shuffled sequences")
ORDER_FREE = 0.9  # the shuffled model keeps this share of the gain or more: the pattern does not need the order
THRESHOLD = 0.5  # a map is called column-distinguishable where the column explains >= half the variance


def column_shares(maps: np.ndarray) -> np.ndarray:
    """:func:`findings.column_share` of each (L x L) map of a (n, L, L) array, vectorised."""
    maps = np.asarray(maps, dtype=float)
    if maps.ndim != 3 or maps.shape[1] != maps.shape[2] or maps.shape[1] < 2:
        raise ValueError(f"maps must be an (n, L, L) array with L >= 2, got shape {maps.shape}")
    L = maps.shape[1]
    off = ~np.eye(L, dtype=bool)
    values = maps[:, off]  # (n, L(L-1)), row-major: column index of each entry below
    cols = np.nonzero(off)[1]
    col_means = np.stack([values[:, cols == j].mean(axis=1) for j in range(L)], axis=1)  # (n, L)
    explained = col_means[:, cols]
    total = values.var(axis=1)
    out = np.zeros(len(maps))
    nz = total > 0
    out[nz] = explained[nz].var(axis=1) / total[nz]
    return out


def _untrained(spec, split):
    torch.manual_seed(spec.seed)
    mcfg = models.make_config(spec.model, None, **spec.model_config)
    return models.build(spec.model, split.n_users, split.n_items, mcfg).eval()


def all_maps(prof) -> dict:
    """``{label: (users, L, L) attention weights}`` of the three models of the module docstring
    on every user's test input (trains the null model's weights if they are not cached)."""
    spec = builders.figure3_spec(prof)
    null = claim_specs.figure3_null_spec(prof)
    split = runspec.load_split(spec.dataset, spec.tie_rule, True)
    null_split = runspec.load_split(null.dataset, null.tie_rule, True)
    if (null_split.n_items, null_split.n_users) != (split.n_items, split.n_users):
        raise ValueError(f"the shuffled split of {spec.dataset} numbers its items or users differently")
    inputs = torch.as_tensor(split.eval_inputs("test", spec.model_config["seq_len"]))
    trained = {"trained": compute.trained_model(spec), "untrained": _untrained(spec, split),
               "trained on shuffled sequences": compute.trained_model(null)}
    return {label: weights(model, inputs) for label, model in trained.items()}


def share_table(maps: dict) -> pd.DataFrame:
    """Per model: users, mean and median column share, and the share of users at or above
    :data:`THRESHOLD`."""
    rows = []
    for label, m in maps.items():
        s = column_shares(m)
        rows.append({"model": label, "users": len(s), "mean column share": stable(s.mean()),
                     "median column share": stable(np.median(s)), f"users with share >= {THRESHOLD:g}":
                     stable((s >= THRESHOLD).mean())})
    return pd.DataFrame(rows)


def null_tests(maps: dict) -> pd.DataFrame:
    """The trained model's mean column share against each null model's, paired over users,
    one-sided (trained greater), with the 95% interval and Holm over the comparisons."""
    shares = {label: column_shares(m) for label, m in maps.items()}
    rows = []
    for null in NULL_LABELS[1:]:
        r = stats.compare(shares["trained"][None, :], shares[null][None, :], alternative="greater")
        rows.append({"against": null, "trained": r["mean a"], "null": r["mean b"], "Δ column share": r["delta"],
                     "CI low": r["ci low"], "CI high": r["ci high"], "p (one-sided)": r["p"]})
    out = pd.DataFrame(rows)
    out["p (Holm)"] = stats.holm(out["p (one-sided)"].to_numpy())
    numbers = out.columns.drop("against")
    out[numbers] = out[numbers].map(stable)  # the same digits on every CPU (see attention.weights)
    return out


def reading_outcome(tests: pd.DataFrame) -> str:
    """The paper's reading (a learned column pattern): holds where the trained maps are more
    column-structured than both null models' (Holm p < alpha); partly where only than the
    untrained one's (learned, but not from the order); no where not even than the untrained one's."""
    better = {r["against"]: stats.significant(r["p (Holm)"]) and r["Δ column share"] > 0
              for r in tests.to_dict("records")}
    if all(better.values()):
        return "holds"
    if better.get("untrained"):
        return "partly (beyond the untrained model, not beyond the one trained on shuffled sequences)"
    return "no (not beyond the untrained model: the architecture makes the columns)"


def conclusion(table: pd.DataFrame, tests: pd.DataFrame) -> str:
    """The paragraph that tests the paper's reading against the null models (numbers from code)."""
    shares = table.set_index("model")["mean column share"]
    parts = "; ".join(f"against the {r['against']} model {r['null']:.3f}: Δ {r['Δ column share']:+.3f} "
                      f"[{r['CI low']:+.3f}, {r['CI high']:+.3f}], one-sided {p_text(r['p (one-sided)'])} "
                      f"(Holm {p_text(r['p (Holm)'])})" for r in tests.to_dict("records"))
    gain = shares["trained"] - shares["untrained"]
    kept = (shares["trained on shuffled sequences"] - shares["untrained"]) / gain if gain else float("nan")
    return (f"**Null model.** Over all {int(table['users'].iloc[0])} users the column explains on average "
            f"{shares['trained']:.1%} of the variance of the trained model's off-diagonal weights; {parts}. "
            f"Training on shuffled sequences reaches {kept:.0%} of the trained model's gain over the untrained one"
            + (", so the column pattern is learned from the items, not from their order. " if kept >= ORDER_FREE else
               ", so part of the column pattern needs the order of the items. ") +
            f"The paper's reading, that training makes the maps column-distinguishable: "
            f"**{reading_outcome(tests)}** (bootstrap over users, one run per model).")
