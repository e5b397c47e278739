"""How much of each result is the order of tied timestamps (notebook 09, one verdict row).

Table 2's runs keep the raw file's order inside a tie (``tie_rule="stable"``); the same runs
under ``"shuffled:<seed>"`` put every tied block in a random order (the run's seed), so what a
model learns from, and is scored on, no longer includes the file's order. The runs come from
:func:`attrec_lib.study.decisions.tie_order_specs`; this module compares them:

* :func:`shift_table`: per data set and model, HR@50 and MRR under both rules and the change,
  with a paired Wilcoxon test over users (per-user metrics averaged over seeds first);
* :func:`signal_table`: under each rule, the best sequential and the best non-sequential model,
  both chosen on *validation* HR@50, and the paired test of the first against the second on the
  test item; a data set "carries a sequential signal beyond the order of tied timestamps" when,
  under shuffled ties, the sequential model is better with p < 0.05;
* :func:`findings`: the paragraph the notebook opens with, written from those two tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..engines import grid
from ..rules import selection
from ..rules.stats import significant
from ..settings import paper_numbers
from ..study import decisions, profiles
from . import tables
from .display import dataset_name, p_text
from ..data.preprocess import parse_tie_rule, shuffled_tie_rule
from ..data.registry import paper_set
from ..data.ties import test_item_popularity as dataset_test_item_popularity

RULES = profiles.TIE_ORDER_RULES
SHIFT_COLUMNS = ("dataset", "model", "label", "sequential", "seeds", "hr@50 stable", "hr@50 stable sd",
                 "hr@50 shuffled", "hr@50 shuffled sd", "Δhr@50", "Δhr@50 %", "beyond seed sd", "hr@50 paper",
                 "mrr stable", "mrr shuffled", "Δmrr", "p (HR@50)")
SIGNAL_COLUMNS = ("dataset", "rule", "best sequential", "best non-sequential", "sequential HR@50",
                  "non-sequential HR@50", "gap", "p (HR@50)", "signal (p<0.05)")


def runs(prof) -> tuple:
    """``(df, specs)``: the run rows of both rules (column ``rule``: stable or shuffled) and their
    specs. Runs missing from the cache are computed."""
    specs = [s for rule in RULES for s in decisions.tie_order_specs(prof, rule)]
    df = grid.run_grid(specs, progress=False)
    if df.empty:  # no data set of the profile is present: the empty columns the tables expect
        df = pd.DataFrame(columns=["dataset", "model", "seed", "tie_rule", "key", "hr@50", "mrr", "valid_hr@50"])
    df["rule"] = [parse_tie_rule(r)[0] for r in df["tie_rule"]]
    return df, specs


def _users(df: pd.DataFrame, specs, label: str) -> pd.DataFrame:
    """Per-user test metrics of the runs in ``df`` (long form), ``model`` set to ``df[label]``,
    so that :func:`attrec_lib.analysis.tables.paired_test` can pair two rules as well as two models."""
    by_key = {s.key: s for s in specs}
    frames = []
    for key, value in zip(df["key"], df[label]):
        frame = tables.per_user([by_key[key]])
        frame["model"] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _paired(df: pd.DataFrame, specs, label: str, a: str, b: str) -> dict:
    return tables.paired_test(_users(df, specs, label), a, b)


def shift_table(df: pd.DataFrame, specs) -> pd.DataFrame:
    """Per (data set, model): mean and sd over seeds of HR@50 and MRR under each rule, the change
    (shuffled - stable), whether it exceeds the seed sd, and the paired test over users."""
    rows = []
    for (ds, model), part in df.groupby(["dataset", "model"], sort=False):
        by_rule = {r: part[part["rule"] == r] for r in RULES}
        if any(p.empty for p in by_rule.values()):
            continue
        st, sh = by_rule["stable"], by_rule["shuffled"]
        delta = sh["hr@50"].mean() - st["hr@50"].mean()
        test = _paired(part, specs, "rule", "shuffled", "stable")
        rows.append({"dataset": ds, "model": model, "label": profiles.MODEL_LABELS.get(model, model),
                     "sequential": model not in profiles.NON_SEQUENTIAL, "seeds": len(st),
                     "hr@50 stable": st["hr@50"].mean(), "hr@50 stable sd": st["hr@50"].std(ddof=1),
                     "hr@50 shuffled": sh["hr@50"].mean(), "hr@50 shuffled sd": sh["hr@50"].std(ddof=1),
                     "Δhr@50": delta, "Δhr@50 %": 100.0 * delta / st["hr@50"].mean() if st["hr@50"].mean() else np.nan,
                     "beyond seed sd": selection.beyond_seed_sd(delta, st["hr@50"].std(ddof=1),
                                                                sh["hr@50"].std(ddof=1)),
                     "hr@50 paper": paper_numbers.table2_value(paper_set(ds), model, "hr@50"),
                     "mrr stable": st["mrr"].mean(), "mrr shuffled": sh["mrr"].mean(),
                     "Δmrr": sh["mrr"].mean() - st["mrr"].mean(), "p (HR@50)": test["p (HR@50)"]})
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def _best_on_validation(part: pd.DataFrame, models) -> str | None:
    """The model of ``models`` that the selection rule picks (ties: the first listed); None
    when none of them ran."""
    mine = part[part["model"].isin(models)]
    return None if mine.empty else selection.best(mine, "model", "the best model", order=list(models))


def signal_table(df: pd.DataFrame, specs) -> pd.DataFrame:
    """Per data set and rule: the best sequential and best non-sequential model (validation HR@50),
    their test HR@50 and the paired test of the first against the second."""
    rows = []
    for (ds, rule), part in df.groupby(["dataset", "rule"], sort=False):
        present = list(dict.fromkeys(part["model"]))
        seq = _best_on_validation(part, [m for m in present if m not in profiles.NON_SEQUENTIAL])
        ref = _best_on_validation(part, [m for m in present if m in profiles.NON_SEQUENTIAL])
        if seq is None or ref is None:
            continue
        pair = part[part["model"].isin([seq, ref])]
        test = _paired(pair, specs, "model", seq, ref)
        hr = pair.groupby("model")["hr@50"].mean()
        rows.append({"dataset": ds, "rule": rule, "best sequential": seq, "best non-sequential": ref,
                     "sequential HR@50": hr[seq], "non-sequential HR@50": hr[ref], "gap": test["ΔHR@50"],
                     "p (HR@50)": test["p (HR@50)"],
                     "signal (p<0.05)": bool(test["ΔHR@50"] > 0 and significant(test["p (HR@50)"]))})
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def _label(model: str) -> str:
    return profiles.MODEL_LABELS.get(model, model)


def _tie_context(ds: str, ties) -> str:
    if ties is None or ds not in set(ties["dataset"]):
        return ""
    row = ties[ties["dataset"] == ds].iloc[0]
    if pd.isna(row["tied_pairs_pct"]):
        return " (no timestamps)"
    return (f" ({row['tied_pairs_pct']:.1f} % of consecutive pairs and {row['test_tied_pct']:.1f} % of "
            f"test items tied, timestamps by the {row['time_granularity']})")


def _dataset_findings(ds: str, shift: pd.DataFrame, signal: pd.DataFrame, df: pd.DataFrame, ties=None) -> str:
    part = shift[shift["dataset"] == ds]
    lo, hi = part.loc[part["Δhr@50"].idxmin()], part.loc[part["Δhr@50"].idxmax()]
    text = (f"On {dataset_name(ds)}{_tie_context(ds, ties)}, taking the file order out of the ties moves HR@50 by {lo['Δhr@50']:+.4f} "
            f"({lo['label']}) to {hi['Δhr@50']:+.4f} ({hi['label']}); {int(part['beyond seed sd'].sum())} of "
            f"{len(part)} models move by more than their seed-to-seed sd.")
    for flag, what in ((True, "sequential"), (False, "non-sequential")):
        group = part[part["sequential"] == flag]
        if len(group):
            text += f" The {what} models move by {group['Δhr@50'].mean():+.4f} on average."
    best = {r: _best_on_validation(df[(df["dataset"] == ds) & (df["rule"] == r)], list(dict.fromkeys(part["model"])))
            for r in RULES}
    text += (f" The best model on validation is {_label(best['stable'])} with stable ties and "
             f"{_label(best['shuffled'])} with shuffled ties.")
    rows = signal[signal["dataset"] == ds].set_index("rule")
    if "shuffled" in rows.index:
        s = rows.loc["shuffled"]
        verb = "beats" if s["signal (p<0.05)"] else "does not beat"
        text += (f" With shuffled ties the best sequential model ({_label(s['best sequential'])}, HR@50 "
                 f"{s['sequential HR@50']:.4f}) {verb} the best non-sequential one ({_label(s['best non-sequential'])}, "
                 f"{s['non-sequential HR@50']:.4f}; paired Wilcoxon {p_text(s['p (HR@50)'])})")
        if "stable" in rows.index:
            text += f"; the gap between them is {s['gap']:+.4f} against {rows.loc['stable', 'gap']:+.4f} with stable ties"
        text += "."
    return text


def findings(shift: pd.DataFrame, signal: pd.DataFrame, df: pd.DataFrame, ties: pd.DataFrame | None = None) -> str:
    """The notebook's opening paragraph, one part per data set, written from the numbers
    (``ties``: :func:`attrec_lib.data.ties.tie_table` of the same data sets, for context)."""
    if shift.empty:
        return "No data set of this profile has runs under both tie rules."
    return "\n\n".join(_dataset_findings(ds, shift, signal, df, ties) for ds in dict.fromkeys(shift["dataset"]))


def display_table(shift: pd.DataFrame) -> pd.DataFrame:
    """:func:`shift_table` with readable column names and mean ± sd strings, for the notebook."""
    rows = []
    for r in shift.to_dict("records"):
        rows.append({"dataset": r["dataset"], "model": r["label"], "seeds": r["seeds"],
                     "HR@50 stable ties": tables._fmt(r["hr@50 stable"], r["hr@50 stable sd"], r["seeds"]),
                     "HR@50 shuffled ties": tables._fmt(r["hr@50 shuffled"], r["hr@50 shuffled sd"], r["seeds"]),
                     "ΔHR@50": f"{r['Δhr@50']:+.4f}", "Δ %": f"{r['Δhr@50 %']:+.1f}",
                     "beyond seed sd": r["beyond seed sd"], "p (per user)": f"{r['p (HR@50)']:.3g}",
                     "MRR stable": f"{r['mrr stable']:.4f}", "MRR shuffled": f"{r['mrr shuffled']:.4f}",
                     "HR@50 paper": "-" if r["hr@50 paper"] is None or pd.isna(r["hr@50 paper"]) else f"{r['hr@50 paper']:.4f}"})
    return pd.DataFrame(rows)


def test_item_popularity(prof) -> pd.DataFrame:
    """:func:`attrec_lib.data.ties.test_item_popularity` for every data set of the profile, under
    the stable rule and the shuffled rule of each seed."""
    rules = ["stable", *(shuffled_tie_rule(s) for s in (prof.seeds if prof.tie_order_seeds is None else prof.tie_order_seeds))]
    frames = [dataset_test_item_popularity(ds, rules) for ds in prof.datasets]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
