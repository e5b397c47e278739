"""Tables of the study: aggregate run rows over seeds, put the paper's numbers beside ours,
and test AttRec against the best baseline per user.

The functions take the DataFrame that ``grid.run_grid`` returns (plus, for paired tests, the
per-user ranks of the runs: :func:`per_user` reads them through ``compute.run``, which computes a
run the cache lacks) and return a DataFrame, or show one in a notebook. Every choice
made here (the strongest baseline, the "best here" setting) reads validation HR@50
(``valid_hr@50``, at the validation-selected epoch) only; test numbers are shown beside.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display
from scipy import stats

from ..runs import compute
from ..settings import paper_numbers, paths
from ..data.registry import paper_set
from ..training.evaluate import per_user_metrics
from ..rules import selection
from ..rules.stats import significant
from ..rules.selection import CHOICE_METRIC, choice_column
from .display import dataset_name

METRICS = ("hr@50", "mrr", "hr@10", "ndcg@10")


def _fmt(mean: float, sd: float, n: int) -> str:
    if n <= 1 or np.isnan(sd):
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {sd:.4f}"


def aggregate(df: pd.DataFrame, by, metrics=("hr@50", "mrr")) -> pd.DataFrame:
    """Mean, sd and count over seeds of each metric, grouped by ``by``."""
    by = [by] if isinstance(by, str) else list(by)
    cols = [m for m in metrics if m in df.columns] + [c for c in (CHOICE_METRIC, "test_sel_hr@50", "test_sel_mrr",
                                                                  "seconds_per_epoch", "epoch") if c in df]
    g = df.groupby(by, sort=False)[cols]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=1).add_suffix("_sd")).join(
        g.size().rename("seeds"))
    return out.reset_index()


def comparison_table(df: pd.DataFrame, labels: dict | None = None) -> pd.DataFrame:
    """Table 2: per (data set, model) our HR@50 and MRR (mean ± sd over seeds, validation-selected),
    the paper's numbers for the same data set (or the set a stand-in stands in for), and the
    difference; AttRec's test-selected numbers are shown beside, labelled."""
    agg = aggregate(df, ["dataset", "model"])
    rows = []
    for r in agg.to_dict("records"):
        pset = paper_set(r["dataset"])
        p_hr = paper_numbers.table2_value(pset, r["model"], "hr@50")
        p_mrr = paper_numbers.table2_value(pset, r["model"], "mrr")
        rows.append({
            "dataset": r["dataset"],
            "model": (labels or {}).get(r["model"], r["model"]),
            "seeds": r["seeds"],
            "HR@50 (ours)": _fmt(r["hr@50_mean"], r["hr@50_sd"], r["seeds"]),
            "HR@50 (paper)": "-" if p_hr is None else f"{p_hr:.4f}",
            "ΔHR@50": "-" if p_hr is None else f"{r['hr@50_mean'] - p_hr:+.4f}",
            "MRR (ours)": _fmt(r["mrr_mean"], r["mrr_sd"], r["seeds"]),
            "MRR (paper)": "-" if p_mrr is None else f"{p_mrr:.4f}",
            "HR@50 test-selected": f"{r['test_sel_hr@50_mean']:.4f}",
            "s/epoch": f"{r['seconds_per_epoch_mean']:.2f}",
            "paper set": pset if pset != r["dataset"] else "",
        })
    return pd.DataFrame(rows)


def not_run_rows(datasets, models) -> pd.DataFrame:
    """Rows for the paper's data sets that could not be run here, with the paper's numbers."""
    rows = []
    for ds in datasets:
        for m in models:
            p_hr = paper_numbers.table2_value(ds, m, "hr@50")
            if p_hr is None:
                continue
            rows.append({"dataset": ds, "model": m, "status": "not run: data not available",
                         "HR@50 (paper)": f"{p_hr:.4f}",
                         "MRR (paper)": f"{paper_numbers.table2_value(ds, m, 'mrr'):.4f}"})
    return pd.DataFrame(rows)


def per_user(specs, selection: str | None = None) -> pd.DataFrame:
    """Per-user test metrics of cached runs (long form: key, user, hr@50, mrr, ...)."""
    frames = []
    for spec in specs:
        result = compute.run(spec, progress=False)
        sel = selection or compute.headline_selection(result)
        pu = result["per_user"][sel]
        metrics = per_user_metrics(np.asarray(pu["test_ranks"]))
        frame = pd.DataFrame({"user": pu["test_users"], **metrics})
        frame["dataset"], frame["model"], frame["seed"] = spec.dataset, spec.model, spec.seed
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


TIE_DECIMALS = 9  # per-user differences are rounded to this many decimals before ranking


def paired_test(users: pd.DataFrame, model_a: str, model_b: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """AttRec-vs-baseline test over users (per-user metrics averaged over seeds first).

    Reports the mean per-user difference of HR@50 and MRR, a paired bootstrap 95% interval of
    the HR@50 difference, and Wilcoxon signed-rank p-values (two-sided) for both metrics.
    """
    per = users.groupby(["model", "user"])[["hr@50", "mrr"]].mean()
    a, b = per.loc[model_a], per.loc[model_b]
    common = a.index.intersection(b.index)
    diff = a.loc[common] - b.loc[common]
    rng = np.random.default_rng(seed)
    boots = rng.choice(diff["hr@50"].to_numpy(), size=(n_boot, len(diff)), replace=True).mean(1)
    lo, hi = np.percentile(boots, [2.5, 97.5])

    def wilcoxon(x):
        # Rounded first: per-user metrics averaged over seeds differ by float noise where they
        # should tie (1/3 - 0 = 0.3333333333333333 but 2/3 - 1 = -0.33333333333333337), and the
        # signed-rank test ranks such near-ties apart, all losses above all gains of the same
        # size: on ML-100K (AttRec vs SKNN) that turned p = 0.026 into p = 0.48.
        x = np.round(x.to_numpy(), TIE_DECIMALS)
        return float(stats.wilcoxon(x).pvalue) if np.any(x != 0) else 1.0

    return {"users": len(diff), "ΔHR@50": float(diff["hr@50"].mean()), "ΔHR@50 95% CI": (float(lo), float(hi)),
            "p (HR@50)": wilcoxon(diff["hr@50"]), "ΔMRR": float(diff["mrr"].mean()), "p (MRR)": wilcoxon(diff["mrr"])}


def strongest_baseline(part: pd.DataFrame, baselines) -> tuple[str, pd.Series]:
    """The baseline with the highest mean validation HR@50 over seeds (one data set's rows), and
    the per-model means of the rows (validation and test HR@50)."""
    col = choice_column(part, "the strongest baseline")
    means = part.groupby("model")[[col, "hr@50"]].mean()
    cands = part[part["model"].isin(baselines)]
    if cands.empty:
        raise ValueError(f"no baseline among {sorted(set(part['model']))}")
    return str(selection.best(cands, "model", "the strongest baseline", order=list(baselines))), means


def tuned_settings(prof, dataset: str) -> str:
    """How the learned models' settings of ``dataset``'s rows in the tuned tables were got, as every
    table labels them: ``"tuned"`` (its own trials, chosen on its validation HR@50), ``"chosen on
    <source>"`` for a data set of the profile's ``tuned_from`` (the setting each model's tuning chose
    on the source, run here), ``"default"`` where the profile tunes nothing on it."""
    if dataset in prof.tuned_datasets:
        return "tuned"
    source = dict(prof.tuned_from).get(dataset)
    return "default" if source is None else f"chosen on {dataset_name(source)}"


def attrec_vs_best_baseline(df: pd.DataFrame, specs, baselines) -> pd.DataFrame:
    """Per data set: the strongest baseline, chosen by mean validation HR@50, and the paired
    test of AttRec against it on the test item (validation-selected epochs)."""
    rows = []
    by_key = {s.key: s for s in specs}
    for ds, part in df.groupby("dataset", sort=False):
        if "attrec" not in set(part["model"]) or not set(part["model"]) & set(baselines):
            continue
        best, means = strongest_baseline(part, baselines)
        keys = part[part["model"].isin(["attrec", best])]["key"]
        users = per_user([by_key[k] for k in keys])
        test = paired_test(users, "attrec", best)
        lo, hi = test.pop("ΔHR@50 95% CI")
        rows.append({"dataset": ds, "best baseline": best, "chosen on": CHOICE_METRIC,
                     "baselines run": len(set(part["model"]) & set(baselines)),
                     "baseline valid HR@50": means.loc[best, CHOICE_METRIC],
                     "AttRec HR@50": means.loc["attrec", "hr@50"], "baseline HR@50": means.loc[best, "hr@50"],
                     **test, "CI low": lo, "CI high": hi,
                     "AttRec better (p<0.05)": bool(test["ΔHR@50"] > 0 and significant(test["p (HR@50)"]))})
    return pd.DataFrame(rows)


def show(df: pd.DataFrame, floatfmt: str = "{:.4f}") -> None:
    """Print a table as fixed text (what nbval compares): no index, fixed float format."""
    with pd.option_context("display.width", 250, "display.max_columns", 50, "display.max_rows", 500):
        print(df.to_string(index=False, float_format=lambda v: floatfmt.format(v)))


def ablation_table(df: pd.DataFrame, column: str, paper: dict, values=None, value_labels=None) -> pd.DataFrame:
    """Tables 3 and 4: HR@50 (mean ± sd over seeds) per data set and setting, with the paper's.
    "best here" marks the setting with the highest mean validation HR@50."""
    choice = choice_column(df, "ablation_table")
    rows = []
    values = list(values) if values is not None else list(dict.fromkeys(df[column]))
    for ds, part in df.groupby("dataset", sort=False):
        pset = paper_set(ds)
        for v in values:
            rows_v = part[part[column] == v]
            sel = rows_v["hr@50"]
            if sel.empty:
                continue
            label = (value_labels or {}).get(v, v)
            p = paper.get(pset, {})
            p_value = p.get(label) if isinstance(p, dict) else None
            rows.append({"dataset": ds, "setting": label, "seeds": len(sel),
                         "HR@50 (ours)": _fmt(sel.mean(), sel.std(ddof=1), len(sel)),
                         "HR@50 (paper)": "-" if p_value is None else f"{p_value:.4f}",
                         "paper set": pset if pset != ds else "", "_choice": rows_v[choice].mean()})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    chosen = {ds: selection.best(part, column, "ablation_table", order=values)
              for ds, part in df.groupby("dataset", sort=False)}
    out["best here"] = [(value_labels or {}).get(chosen[ds], chosen[ds]) == label
                        for ds, label in zip(out["dataset"], out["setting"])]
    return out.drop(columns="_choice")


def runtime_table(df: pd.DataFrame) -> pd.DataFrame:
    """Table 5: seconds per training epoch of AttRec and Caser (median over the run's epochs)."""
    rows = []
    for ds, part in df.groupby("dataset", sort=False):
        pset = paper_set(ds)
        row = {"dataset": ds}
        for m in paper_numbers.TABLE5_MODELS:
            sel = part[part["model"] == m]
            row[f"{m} s/epoch (ours)"] = float(sel["seconds_per_epoch"].iloc[0]) if len(sel) else float("nan")
            paper = paper_numbers.TABLE5.get(pset, {}).get(m)
            row[f"{m} s/epoch (paper GPU)"] = paper if paper is not None else float("nan")
        row["caser / attrec (ours)"] = row["caser s/epoch (ours)"] / row["attrec s/epoch (ours)"]
        row["device"] = part["device"].iloc[0]
        row["paper set"] = pset if pset != ds else ""
        rows.append(row)
    return pd.DataFrame(rows)


def bench_table(path) -> pd.DataFrame:
    """The rows of one ``make bench`` JSON file (bench/*.json) as a table."""
    data = json.loads(Path(path).read_text())
    rows = []
    for r in data.get("rows", []):
        rows.append({"data set": r["dataset"], "model/preset": f"{r['model']}/{r['preset']}",
                     "compiled": bool(r.get("compiled")), "threads": r["threads"],
                     "s/epoch": r["epoch_s"], "floor s/epoch": r.get("floor_epoch_s"),
                     "s/eval": r["eval_s"], "peak MiB": r["peak_mib"], "device": r["device"]})
    return pd.DataFrame(rows)


# Readable names for the columns the run rows and tables carry (the rest keep their name).
COLUMN_LABELS = {
    "dataset": "data set", "model": "model", "seed": "seed", "seeds": "seeds", "protocol": "protocol",
    "hr@50": "HR@50", "mrr": "MRR", "hr@10": "HR@10", "ndcg@10": "NDCG@10", "epoch": "epoch",
    "test_sel_hr@50": "HR@50 (best test epoch)", "test_sel_mrr": "MRR (best test epoch)",
    "test_sel_epoch": "best test epoch", "epochs_run": "epochs run",
    "cfg.omega": "ω", "cfg.seq_len": "L", "cfg.d": "d", "cfg.aggregation": "aggregation",
    "cfg.self_attention": "self-attention", "seconds_per_epoch": "s/epoch",
    "paper set": "paper's data set", "best here": "best here", "actions_per_user": "actions/user",
}


def readable(df: pd.DataFrame, labels: dict | None = None) -> pd.DataFrame:
    """The table a reader sees: model names as in the paper (``labels``, e.g.
    ``study.MODEL_LABELS``), readable column names, integer settings (d, L) as integers."""
    out = df.copy()
    for col in ("model", "best baseline"):
        if labels and col in out:
            out[col] = out[col].map(lambda v: labels.get(v, v))
    for col in ("cfg.d", "cfg.seq_len", "seed", "seeds", "epoch", "test_sel_epoch", "epochs_run", "users"):
        if col in out and pd.api.types.is_numeric_dtype(out[col]) and out[col].notna().all():
            out[col] = out[col].astype(int)
    return out.rename(columns=_column_label)


def _column_label(name) -> str:
    """``COLUMN_LABELS``, then Table 1's ``paper_x`` -> "x (paper)" and ``diff_x`` -> "Δx"."""
    name = str(name)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    for prefix, pattern in (("paper_", "{} (paper)"), ("diff_", "Δ{}")):
        if name.startswith(prefix):
            return pattern.format(_column_label(name[len(prefix):]))
    return name.replace("_pct", " %").replace("_", " ")


def _column_format(name: str, dtype):
    """Number format by what a column holds: p-values in scientific notation, differences signed."""
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return None
    if name == "ω":
        return "{:g}"
    if name.startswith("p (") or name.startswith("p-value"):
        return "{:.2e}"
    if name.startswith("Δ") or name.startswith("CI "):
        return "{:+.4f}"
    if pd.api.types.is_float_dtype(dtype):
        return "{:.4f}"
    return None


def styled(df: pd.DataFrame, name: str, caption: str | None = None, floatfmt: str | None = None):
    """A pandas Styler of an already readable table: no index, one number format per column,
    missing values as "–", a fixed id (``name``) so the HTML is the same on every run."""
    formats = {}
    for col, dtype in df.dtypes.items():
        fmt = _column_format(str(col), dtype)
        if fmt == "{:.4f}" and floatfmt:
            fmt = floatfmt
        if fmt:
            formats[col] = fmt
    sty = df.style.hide(axis="index").format(formats, na_rep="–").set_uuid(name)
    sty = sty.set_table_styles([
        {"selector": "th", "props": "text-align: left; padding: 2px 8px;"},
        {"selector": "td", "props": "padding: 2px 8px; vertical-align: top;"},
    ])
    if caption:
        sty = sty.set_caption(caption)
    return sty


def plain(df: pd.DataFrame, floatfmt: str | None = None) -> str:
    """The same table as fixed text (what nbval compares, and what a terminal shows)."""
    cols = {}
    for col, dtype in df.dtypes.items():
        fmt = _column_format(str(col), dtype)
        fmt = floatfmt if fmt == "{:.4f}" and floatfmt else fmt
        if fmt:
            cols[col] = df[col].map(lambda v, f=fmt: "–" if pd.isna(v) else f.format(v))
    text = df.assign(**cols) if cols else df
    text = text.astype(object).where(text.notna(), "–")
    return text.to_string(index=False)


class _Table:
    """A table with both representations, so a notebook renders HTML and nbval/terminals see text."""

    def __init__(self, html: str, text: str):
        self.html, self.text = html, text

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return self.text


COLLAPSE_ROWS = 20  # a displayed table longer than this is folded (HTML <details>); its CSV is linked


def table_csv(table: pd.DataFrame, name: str) -> str:
    """Write a displayed table as ``<figures>/<name>.csv`` (``paths.figures_dir()``: the scratch
    folder, or what ``make paper`` publishes) and return its path relative to the repository. A
    notebook that also saves a frame of its own under the same name (``plotting.save_table``) does
    so after displaying it, so that file is the saved frame (tests/test_tables.py checks the order)."""
    folder = paths.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / f"{name}.csv", index=False)
    return f"figures/{name}.csv"


def display_table(df: pd.DataFrame, name: str, labels: dict | None = None, caption: str | None = None,
                  floatfmt: str | None = None):
    """Show ``df`` in a notebook as an HTML table (plain text beside it in the same output) and
    return the readable frame. ``name`` fixes the HTML ids and the CSV the table is saved as
    (:func:`table_csv`, linked under the table); ``labels`` maps model names. A table of more than
    :data:`COLLAPSE_ROWS` rows is folded, its row count in the summary line."""
    table = readable(df, labels)
    csv = table_csv(table, name)
    html = styled(table, name, caption, floatfmt).to_html()
    if len(table) > COLLAPSE_ROWS:
        html = (f'<details class="long-table"><summary>{caption or name}: {len(table)} rows '
                f'(click to show; the CSV below has them all)</summary>\n{html}</details>\n')
    html += f'<p class="table-csv">Data: <a href="../{csv}">{csv}</a></p>\n'
    display(_Table(html, plain(table, floatfmt)))
    return table
