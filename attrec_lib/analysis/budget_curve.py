"""How the tuned comparison moves with the tuning budget (notebook 01's budget curve).

For each tuning of a profile (every tuned model over its whole space, then the ``tuned_fixed``
ones) and each tuned data set, the trials are taken in their order (the default first, then the
draws) and, for n = 1 .. all of them, the selection rule is applied to the first n trials: the
chosen trial's validation HR@50 (the best so far) and its test HR@50 (reported, never read by the
choice). AttRec's standing at budget n is its chosen trial's test HR@50 against that of the
strongest learned baseline at n: the baseline whose chosen trial has the best validation HR@50.

The trials are one seed each (the tuning's seed), so the curve shows the choice, not the seeded
rows of Table 2; the tuned rows are the choice at the full budget, rerun with the table's seeds.
"""
from __future__ import annotations

import pandas as pd

from ..rules import selection
from ..study import decisions, tuning
from .display import dataset_name, model_name

ATTREC = "attrec"


def curve(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per budget n = 1 .. len(trials): the trial position the selection rule chooses
    among the first n trials, its validation HR@50 and its (unused) test HR@50."""
    rows = []
    for n in range(1, len(trials) + 1):
        chosen = tuning.choose(trials.iloc[:n])
        best = trials.iloc[chosen]
        rows.append({"trials": n, "chosen trial": int(best["trial"]), "chosen is default": bool(best["default"]),
                     "valid HR@50": float(best["valid_hr@50"]),
                     "test HR@50 (not used)": float(best["test_hr@50 (not used)"])})
    return pd.DataFrame(rows)


def budget_curves(prof) -> pd.DataFrame:
    """:func:`curve` of every tuning of ``prof`` on every tuned data set, with ``dataset`` and
    ``model`` (:func:`decisions.tuning_name`) columns. Runs the trials the cache lacks."""
    parts = []
    for ds in prof.tuned_datasets:
        for m, fixed in decisions.tunings(prof):
            trials = tuning.tune(prof, ds, m, prof.tuning, fixed=fixed)["trials"]
            parts.append(curve(trials).assign(dataset=ds, model=decisions.tuning_name(m, fixed)))
    if not parts:
        return pd.DataFrame(columns=["dataset", "model", "trials", "chosen trial", "chosen is default",
                                     "valid HR@50", "test HR@50 (not used)"])
    out = pd.concat(parts, ignore_index=True)
    return out[["dataset", "model"] + [c for c in out.columns if c not in ("dataset", "model")]]


def standing(curves: pd.DataFrame, baselines) -> pd.DataFrame:
    """Per data set and budget n: the strongest of ``baselines`` at n (the best validation HR@50
    of its choice; ties: the first in ``baselines``' order), its test HR@50, AttRec's, and whether
    AttRec's is higher. Budgets beyond a model's trial count are left out."""
    rows = []
    for (ds, n), part in curves.groupby(["dataset", "trials"], sort=False):
        at = part.set_index("model")
        present = [b for b in baselines if b in at.index]
        if ATTREC not in at.index or not present:
            continue
        candidates = at.loc[present].reset_index()
        best = candidates.iloc[tuning.choose(candidates.rename(columns={"valid HR@50": selection.CHOICE_METRIC}))]
        attrec_test = float(at.loc[ATTREC, "test HR@50 (not used)"])
        rows.append({"dataset": ds, "trials": int(n), "strongest baseline": best["model"],
                     "baseline test HR@50": float(best["test HR@50 (not used)"]),
                     "AttRec test HR@50": attrec_test,
                     "AttRec ahead": attrec_test > float(best["test HR@50 (not used)"])})
    return pd.DataFrame(rows)


def _spans(values) -> list:
    """[(value, first n, last n), ...] of consecutive runs of equal values (n counted from 1)."""
    out = []
    for n, v in enumerate(values, start=1):
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1], n)
        else:
            out.append((v, n, n))
    return out


def standing_sentence(stand: pd.DataFrame, labels: dict) -> str:
    """One generated sentence per data set: whether AttRec's standing against the strongest
    learned baseline (test HR@50 of each one's choice, one seed) changes with the budget."""
    if stand.empty:
        return "No budget curve: this profile tunes no learned model."
    parts = []
    for ds, part in stand.groupby("dataset", sort=False):
        part = part.sort_values("trials")
        spans = _spans(part["AttRec ahead"].tolist())
        last = part.iloc[-1]
        final = (f"at the full budget of {int(last['trials'])} trials the strongest baseline is "
                 f"{labels.get(last['strongest baseline']) or model_name(last['strongest baseline'])} "
                 f"(test HR@50 {last['baseline test HR@50']:.4f} vs AttRec's {last['AttRec test HR@50']:.4f})")
        if len(spans) == 1:
            where = "ahead of" if spans[0][0] else "behind"
            parts.append(f"On {dataset_name(ds)} AttRec's choice is {where} the strongest learned baseline's at every budget "
                         f"from 1 to {int(last['trials'])} trials: the standing does not change with the budget; "
                         f"{final}.")
        else:
            pieces = ", ".join(f"{'ahead' if v else 'behind'} at {a}" + (f"-{b}" if b > a else "")
                               for v, a, b in spans)
            parts.append(f"On {dataset_name(ds)} AttRec's standing against the strongest learned baseline changes with the "
                         f"budget ({pieces} trials); {final}.")
    return " ".join(parts)
