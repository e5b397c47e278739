"""Learned models that score below popularity: is it their training, or the data?

A learned model whose Table 2 HR@50 is below Pop's on a data set is looked at again with runs the
study makes anyway: its tuning trials (other learning rates and regularisation, a longer epoch
cap), its tuned row (the setting chosen on validation, every seed), and the tie-order study's runs
(the same data with the order inside same-timestamp blocks shuffled, where Pop is rerun too). Each
piece of evidence is one row: the model's HR@50 against Pop's *under the same conditions*.
Nothing here chooses anything; the tuned row's setting was chosen on validation by ``tuning``.
"""
from __future__ import annotations

import pandas as pd

from ..engines import grid
from ..runs import store
from ..study import decisions, profiles
from .display import dataset_name, model_name

EVIDENCE = ("Table 2 (default settings)", "tuning trials (one seed each)", "tuned (chosen on validation)",
            "ties shuffled (tie-order study)")
COLUMNS = ("dataset", "model", "evidence", "runs", "HR@50 mean", "HR@50 best run", "Pop HR@50",
           "runs above Pop")


def below_pop_models(table2: pd.DataFrame, models) -> dict:
    """{dataset: [model, ...]} of the ``models`` whose mean test HR@50 (validation-selected, over
    seeds) in ``table2`` (run_grid rows) is below Pop's on that data set; order as given."""
    out = {}
    if table2.empty:
        return out
    for ds, part in table2.groupby("dataset", sort=False):
        means = part.groupby("model")["hr@50"].mean()
        if "pop" not in means:
            continue
        below = [m for m in models if m in means and means[m] < means["pop"]]
        if below:
            out[ds] = below
    return out


def evidence_table(groups: dict) -> pd.DataFrame:
    """One row per (data set, model, evidence): ``groups`` maps (dataset, model, evidence) to a pair
    of run_grid frames (the model's runs, Pop's runs under the same conditions). Pop's figure is its
    mean; "runs above Pop" counts the model's runs whose HR@50 is above that mean."""
    rows = []
    for (ds, model, evidence), (runs, pop) in groups.items():
        if runs.empty or pop.empty:
            continue
        pop_hr = float(pop["hr@50"].mean())
        rows.append({"dataset": ds, "model": model, "evidence": evidence, "runs": len(runs),
                     "HR@50 mean": float(runs["hr@50"].mean()), "HR@50 best run": float(runs["hr@50"].max()),
                     "Pop HR@50": pop_hr, "runs above Pop": int((runs["hr@50"] > pop_hr).sum())})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def evidence(prof) -> pd.DataFrame:
    """The evidence table of ``prof``: every learned model below Pop in its Table 2, from cached
    runs only (a group of runs with one not cached is left out, never computed here)."""
    learned = [m for m in profiles.available_models(profiles.LEARNED_MODELS) if m != "attrec"]
    table2 = _cached(decisions.table2_specs(prof, learned + ["pop"]))  # read once: every group below filters it
    targets = below_pop_models(table2, learned)
    trials = decisions.learned_trial_specs(prof)
    tuned = decisions.tuned_table2_specs(prof, cached_only=True)
    shuffled = decisions.tie_order_specs(prof, "shuffled", cached_only=True)
    groups = {}
    for ds, models in targets.items():
        pop, shuffled_pop = _rows(table2, ds, "pop"), _cached(shuffled, ds, "pop")
        for m in models:
            groups[ds, m, EVIDENCE[0]] = (_rows(table2, ds, m), pop)
            groups[ds, m, EVIDENCE[1]] = (_cached(trials, ds, m), pop)
            groups[ds, m, EVIDENCE[2]] = (_cached(tuned, ds, m), pop)
            groups[ds, m, EVIDENCE[3]] = (_cached(shuffled, ds, m), shuffled_pop)
    return evidence_table(groups)


def _rows(df: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    return df[(df["dataset"] == dataset) & (df["model"] == model)]


def _cached(specs, dataset: str | None = None, model: str | None = None) -> pd.DataFrame:
    """run_grid rows of ``specs`` (narrowed to ``dataset`` and ``model`` when given), or an empty
    frame when any of them is not cached: a partial group is never shown as the whole."""
    specs = [s for s in specs if dataset in (None, s.dataset) and model in (None, s.model)]
    if not specs or any(store.load_result(s) is None for s in specs):
        return pd.DataFrame()
    return grid.run_grid(specs, progress=False)


def findings(table: pd.DataFrame, labels: dict | None = None) -> str:
    """One sentence per model of ``table`` (:func:`evidence_table`), read off its rows."""
    if table.empty:
        return "No learned model scores below Pop in Table 2 of this profile (or its runs are not cached)."
    out = []
    for (ds, model), part in table.groupby(["dataset", "model"], sort=False):
        name = (labels or {}).get(model) or model_name(model)
        rows = {r["evidence"]: r for _, r in part.iterrows()}
        base = rows[EVIDENCE[0]]
        text = (f"**{name} on {dataset_name(ds)}**: HR@50 {base['HR@50 mean']:.4f} against Pop's {base['Pop HR@50']:.4f} "
                f"with its default settings.")
        trials = rows.get(EVIDENCE[1])
        if trials is not None:
            if trials["runs above Pop"] == 0:
                text += (f" None of its {trials['runs']} tuning settings lifts it above Pop (best "
                         f"{trials['HR@50 best run']:.4f}): not a matter of its learning rate, regularisation or "
                         "epoch cap.")
            else:
                text += (f" {trials['runs above Pop']} of its {trials['runs']} tuning settings are above Pop (best "
                         f"{trials['HR@50 best run']:.4f}): its default training is part of the gap.")
        tuned = rows.get(EVIDENCE[2])
        if tuned is not None:
            side = "above" if tuned["HR@50 mean"] > tuned["Pop HR@50"] else "still below"
            text += f" The setting chosen on validation gives {tuned['HR@50 mean']:.4f} over {tuned['runs']} seeds, {side} Pop."
        shuffled = rows.get(EVIDENCE[3])
        if shuffled is not None:
            side = "above" if shuffled["HR@50 mean"] > shuffled["Pop HR@50"] else "below"
            text += (f" With the order inside same-timestamp blocks shuffled ({shuffled['runs']} run(s)) it scores "
                     f"{shuffled['HR@50 mean']:.4f}, {side} Pop's {shuffled['Pop HR@50']:.4f} on the same data")
            text += (": being below Pop depends on the order the data gives to tied events." if side == "above"
                     else ".")
        out.append(text)
    return "\n\n".join(out)
