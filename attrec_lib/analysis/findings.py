"""What each notebook found, as a paragraph written from its numbers (Markdown).

One function per notebook, each taking the frames the notebook already computed, so the
paragraph at the top of a notebook changes when the numbers under it change. Data sets, models
and p-values are written as a reader sees them (``display.py``: "ML-100K", "LSTM+", "p = 0.003");
the verdict's outcomes keep their set labels in ``verdict.csv`` and are only rewritten here. ``conclusion``
closes a notebook with the verdict on the paper's claim that the notebook tests
(``verdict.py`` holds the rules). Nothing here trains or reads the cache: ``conclusion`` takes
the verdict rows (``verdict.claim_*``) that the notebook computed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..settings import paper_numbers
from ..data.registry import paper_set
from ..rules import selection
from ..rules.stats import significant
from .display import dataset_name, dataset_names, model_name, p_text, readable_names
from .verdict import outcome_kind

# The paper's reading of Figure 3 (Section 5.4), quoted beside ours.
FIGURE3_PAPER_READING = ("the attention matrix is column distinguishable even they are unintentionally "
                         "trained to achieve this. Each column represents the importance and weight for "
                         "the corresponding action.")


def _label(model: str, labels: dict | None) -> str:
    return (labels or {}).get(model) or model_name(model)


def _list(parts) -> str:
    text = "; ".join(parts) or "nothing to report in this profile"
    return text[0].upper() + text[1:]


def _seed_means(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean, sd and count of test HR@50 over seeds per (data set, setting), the setting's values
    in order of first appearance."""
    keys = ["dataset", column]
    return df.groupby(keys, sort=False)["hr@50"].agg(["mean", "std", "count"]).reset_index()


def _chosen_row(summary: pd.DataFrame, runs: pd.DataFrame, column: str, what: str) -> pd.Series:
    """The row of ``summary`` (one data set's :func:`_seed_means`) for the setting of ``column``
    that the selection rule picks from ``runs`` (the same data set's runs)."""
    value = selection.best(runs, column, what, order=list(summary[column]))
    return summary[summary[column] == value].iloc[0]


def datasets(table: pd.DataFrame) -> str:
    """Notebook 00 (Table 1): which data sets were read, which match the paper's counts."""
    present = table[table["users"].notna()]
    compared = present[present["paper_users"].notna()]
    diffs = compared[["diff_users", "diff_items", "diff_interactions"]].abs().sum(axis=1)
    exact = [dataset_name(d) for d in compared.loc[diffs == 0, "dataset"]]
    off = [f"{dataset_name(r['dataset'])} ({r['diff_users']:+.0f} users, {r['diff_items']:+.0f} items, "
           f"{r['diff_interactions']:+.0f} interactions)" for r in compared[diffs != 0].to_dict("records")]
    missing = [dataset_name(d) for d in table.loc[table["users"].isna(), "dataset"]]
    return (f"**Findings.** {len(present)} of the {len(table)} data sets could be read here. "
            f"Counts equal to the paper's: {', '.join(exact) or 'none'}. "
            f"Different from the paper's: {', '.join(off) or 'none'}. "
            f"Not available offline: {len(missing)} ({', '.join(missing) or 'none'}).")


def comparison(df: pd.DataFrame, test: pd.DataFrame, labels: dict | None = None, light=(),
               heading: str = "Findings") -> str:
    """Notebook 01 (Table 2): AttRec beside the paper's number and beside our best baseline
    (on a ``light`` data set, the best of Pop and the simple baselines, the only ones run there);
    ``heading`` starts the paragraph."""
    parts = []
    means = df.groupby(["dataset", "model"], sort=False)["hr@50"].mean()
    for r in test.to_dict("records"):
        ds = r["dataset"]
        paper = paper_numbers.table2_value(paper_set(ds), "attrec", "hr@50")
        pset = paper_set(ds)
        where = "" if pset == ds else f" on {dataset_name(pset)}, which this set stands in for:"
        vs_paper = f" (paper{where} {paper:.4f}, {r['AttRec HR@50'] - paper:+.4f})" if paper is not None else ""
        if not significant(r["p (HR@50)"]):
            verdict = "not significantly different from it"
        else:
            verdict = "significantly better" if r["ΔHR@50"] > 0 else "significantly worse"
        which = " (of Pop and the simple ones: the learned baselines were not run on this set)" if ds in light else ""
        parts.append(f"on {dataset_name(ds)}, AttRec reaches HR@50 {r['AttRec HR@50']:.4f}{vs_paper}; the strongest "
                     f"baseline here{which} is {_label(r['best baseline'], labels)} at {r['baseline HR@50']:.4f}, "
                     f"so AttRec is {verdict} (Wilcoxon {p_text(r['p (HR@50)'])})")
    if test.empty:
        for ds, part in df.groupby("dataset", sort=False):
            best = selection.best(part, "model", "the best model")
            parts.append(f"on {dataset_name(ds)} the best model on validation is {_label(best, labels)} "
                         f"(test HR@50 {means[(ds, best)]:.4f})")
    return f"**{heading}.** " + _list(parts) + "."


def ablation(df: pd.DataFrame, column: str, reference, value_labels: dict | None = None) -> str:
    """Notebooks 02 and 03 (Tables 3 and 4): per data set the best setting of ``column`` and how
    the paper's choice (``reference``) compares, against the seed-to-seed sd."""
    def name(v):
        return (value_labels or {}).get(v, str(v))

    parts = []
    for ds, part in _seed_means(df, column).groupby("dataset", sort=False):
        best = _chosen_row(part, df[df["dataset"] == ds], column, "the best setting")
        ref = part[part[column] == reference]
        if ref.empty:
            continue
        ref = ref.iloc[0]
        sd = float(np.nanmax([best["std"], ref["std"], 0.0]))
        gap = ref["mean"] - best["mean"]
        beyond = selection.beyond_seed_sd(gap, best["std"], ref["std"])
        others = ", ".join(f"{name(r[column])} {r['mean']:.4f}" for r in part.to_dict("records")
                           if r[column] != reference)
        if best[column] == reference:
            verdict = f"the best here, by {ref['mean'] - part[part[column] != reference]['mean'].max():+.4f}"
        else:
            verdict = (f"{gap:+.4f} from the best ({name(best[column])}), "
                       f"{'beyond' if beyond else 'within'} the seed sd ({sd:.4f})")
        parts.append(f"on {dataset_name(ds)}, {name(reference)} gives HR@50 {ref['mean']:.4f} (others: {others}): {verdict}")
    return "**Findings.** " + _list(parts) + "."


def self_attention(df: pd.DataFrame) -> str:
    return ablation(df, "cfg.self_attention", True, {True: "with self-attention", False: "without"})


def aggregation(df: pd.DataFrame) -> str:
    return ablation(df, "cfg.aggregation", "mean", {"mean": "mean aggregation"})


def column_share(weights) -> float:
    """How column-distinguishable an attention map is: the share of the variance of its
    off-diagonal weights explained by which column (attended item) they are in (1: every row
    puts the same weight on each column; 0: the column says nothing)."""
    w = np.asarray(weights, dtype=float)
    off = ~np.eye(w.shape[0], dtype=bool)
    values = w[off]
    if values.var() == 0:
        return 0.0
    col_means = np.array([w[off[:, j], j].mean() for j in range(w.shape[1])])
    explained = col_means[np.nonzero(off)[1]]
    return float(explained.var() / values.var())


def attention(maps: dict) -> str:
    """Notebook 04 (Figure 3): per user, the most-attended position and how column-distinguishable
    the map is, beside the paper's reading."""
    parts = []
    for label, weights in maps.items():
        w = np.asarray(weights, dtype=float)
        L = w.shape[0]
        off = ~np.eye(L, dtype=bool)
        col = np.array([w[off[:, j], j].mean() for j in range(L)])
        top = int(col.argmax())
        pos = "t" if top == L - 1 else f"t-{L - 1 - top}"
        parts.append(f"{dataset_names(label)}: column (attended item) explains {column_share(w):.0%} of the variance of the "
                     f"weights; the item at {pos} gets the most attention on average ({col[top]:.3f}, "
                     f"uniform would be {1 / (L - 1):.3f})")
    return (f"**Findings.** The paper reads Figure 3 as: \"{FIGURE3_PAPER_READING}\" Ours: "
            + _list(parts) + ".")


def attention_conclusion(maps: dict, threshold: float = 0.5) -> str:
    """Notebook 04's closing paragraph: the paper's reading holds for a user when the column
    explains at least ``threshold`` of the variance of the off-diagonal weights."""
    shares = {label: column_share(w) for label, w in maps.items()}
    held = [label for label, share in shares.items() if share >= threshold]
    return (f"**Conclusion.** The paper's reading (column-distinguishable maps) holds for {len(held)} of the "
            f"{len(shares)} users shown, by our rule that the attended column explains at least "
            f"{threshold:.0%} of the variance of the off-diagonal weights "
            f"({', '.join(f'{dataset_names(k)}: {v:.0%}' for k, v in shares.items())}). Two users are an illustration, "
            "not evidence; the paper's Figure 3 is no more than that either.")


def omega_and_length(omega: pd.DataFrame, seq_len: pd.DataFrame) -> str:
    """Notebook 05 (Figure 4): the best ω and L per data set, and the two ends of the ω sweep."""
    parts = []
    om = _seed_means(omega, "cfg.omega")
    sl = _seed_means(seq_len, "cfg.seq_len")
    for ds, part in om.groupby("dataset", sort=False):
        best = _chosen_row(part, omega[omega["dataset"] == ds], "cfg.omega", "the best omega")
        ends = part.set_index("cfg.omega")["mean"]
        text = (f"on {dataset_name(ds)} the best ω on validation is {best['cfg.omega']:g} (test HR@50 {best['mean']:.4f}, "
                f"paper: 0.2-0.4)")
        if 0.0 in ends and 1.0 in ends:
            side = "short-term alone beats long-term alone" if ends[0.0] > ends[1.0] else \
                "long-term alone beats short-term alone"
            text += f"; {side} ({ends[0.0]:.4f} vs {ends[1.0]:.4f})"
        lens = sl[sl["dataset"] == ds]
        if len(lens):
            b = _chosen_row(lens, seq_len[seq_len["dataset"] == ds], "cfg.seq_len", "the best L")
            text += (f"; the best L on validation is {int(b['cfg.seq_len'])} ({b['mean']:.4f}; test HR@50 spans "
                     f"{lens['mean'].min():.4f}-{lens['mean'].max():.4f} over L)")
        parts.append(text)
    return "**Findings.** " + _list(parts) + "."


def latent_dimension(dims: pd.DataFrame, labels: dict | None = None) -> str:
    """Notebook 06 (Figure 5): at each d, the best model, and AttRec's rank."""
    parts = []
    dims = dims[dims["model"] != "pop"]
    for ds, part in dims.groupby("dataset", sort=False):
        wins, ranks = [], []
        for d, at in part.groupby("cfg.d"):
            order = selection.ranking(at, "model", "the best model at each d")
            wins.append(f"d={d:g}: {_label(order[0], labels)}")
            if "attrec" in order:
                ranks.append(order.index("attrec") + 1)
        text = f"on {dataset_name(ds)} ({part['model'].nunique()} models) the best model is " + ", ".join(wins)
        if ranks:
            text += f"; AttRec ranks {', '.join(map(str, ranks))} at d = {', '.join(f'{d:g}' for d in sorted(part['cfg.d'].unique()))}"
        parts.append(text)
    return "**Findings.** " + _list(parts) + "."


def runtime(table5: pd.DataFrame) -> str:
    """Notebook 07 (Table 5): Caser's epoch time over AttRec's, ours beside the paper's."""
    parts = []
    for r in table5.to_dict("records"):
        a, c = r["attrec s/epoch (ours)"], r["caser s/epoch (ours)"]
        pa, pc = r["attrec s/epoch (paper GPU)"], r["caser s/epoch (paper GPU)"]
        text = f"on {dataset_name(r['dataset'])} an epoch takes {a:.2f} s for AttRec and {c:.2f} s for Caser ({c / a:.2f}x)"
        if np.isfinite(pa) and np.isfinite(pc):
            text += f"; the paper's GPU: {pa:.3f} s and {pc:.3f} s ({pc / pa:.2f}x)"
        parts.append(text + f" [{r['device']}]")
    return "**Findings.** " + _list(parts) + "."


def _split_sources(claims: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the paper's claims, the questions beyond the paper) of the verdict rows."""
    if "source" not in claims:
        return claims, claims.iloc[0:0]
    paper = claims["source"] == "paper"
    return claims[paper], claims[~paper]


def _kinds(claims: pd.DataFrame) -> list:
    return [outcome_kind(o) for o in claims["outcome"]]


def verdict(claims: pd.DataFrame) -> str:
    """Notebook 08: how many of the paper's claims hold, partly hold, fail or cannot be decided
    (the released-number row, a check of the paper's protocol, is not counted among them; the
    answers beyond the paper are listed after)."""
    claims, ours = _split_sources(claims)
    kinds = _kinds(claims)
    protocol = claims[[k == "protocol" for k in kinds]]
    tested = claims[[k != "protocol" for k in kinds]]
    tested_kinds = [k for k in kinds if k != "protocol"]
    counts = {k: tested_kinds.count(k) for k in ("holds", "partly", "no", "no evidence", "not tested")
              if tested_kinds.count(k)}
    listed = ", ".join(f"{n} {k}" for k, n in counts.items())

    def which(kind):
        return ", ".join(c for c, k in zip(tested["claim"], tested_kinds) if k == kind) or "none"

    text = (f"**Findings.** Of the paper's {len(tested)} claims tested here: {listed}. "
            f"Holding: {which('holds')}. Partly: {which('partly')}. Not holding: {which('no')}. "
            f"No evidence either way (within seed noise): {which('no evidence')}.")
    text += "".join(f" *{c}*: {readable_names(o)} (not counted as a claim)."
                    for c, o in zip(protocol["claim"], protocol["outcome"]))
    text += "".join(f" Beyond the paper: *{c}*: {readable_names(o)}." for c, o in zip(ours["claim"], ours["outcome"]))
    return text


def datasets_conclusion(table: pd.DataFrame) -> str:
    """Notebook 00's closing paragraph: which data sets the later notebooks can use."""
    present = list(table.loc[table["users"].notna(), "dataset"])
    stand_ins = [dataset_name(d) for d, p in zip(table["dataset"], table["paper_users"]) if d in present and pd.isna(p)]
    return (f"**Conclusion.** The later notebooks can run on {', '.join(map(dataset_name, present)) or 'no data set'}"
            + (f"; of these, {', '.join(stand_ins)} are stand-ins, never compared with the paper's rows "
               "as if they were the paper's data" if stand_ins else "")
            + ". Every other row of the paper's Table 1 waits for its raw file.")


def verdict_conclusion(claims: pd.DataFrame) -> str:
    """Notebook 08's closing paragraph: the claims that do not hold, with the rule that decided
    (the paper's claims counted; a question beyond the paper listed after them)."""
    paper, _ = _split_sources(claims)
    paper = paper[[k != "protocol" for k in _kinds(paper)]]
    kinds = _kinds(claims)
    failing = claims[[k not in ("holds", "protocol") for k in kinds]]
    n_hold = sum(k == "holds" for k in _kinds(paper))
    if failing.empty:
        return f"**Conclusion.** All {len(paper)} claims of the paper tested here hold."
    return (f"**Conclusion.** {n_hold} of the paper's {len(paper)} claims tested here hold as stated. "
            "The others: " + " ".join(f"*{r['claim']}*{' (beyond the paper)' if r.get('source', 'paper') != 'paper' else ''}"
                                      f": {readable_names(r['outcome'])} (rule: {dataset_names(r['rule'])})." for r in failing.to_dict("records")))


def conclusion(rows) -> str:
    """A notebook's closing paragraph from the verdict rows (``verdict.claim_*``) of the claims
    it tests."""
    rows = list(rows)
    if not rows:
        return "**Conclusion.** No claim of the paper is tested in this profile."
    return "**Conclusion.** " + " ".join(
        f"*{r['claim']}*: **{readable_names(r['outcome'])}**. Rule: {dataset_names(r['rule'])}. "
        f"Test: {dataset_names(r['test and metric'])}. Evidence: {dataset_names(r['evidence'])}." for r in rows)


def edge_choices(choices: pd.DataFrame, widened: dict | None = None) -> str:
    """Notebook 01: every tuning whose chosen value of a continuous parameter is the largest or
    smallest value its trials tried (the ``edge`` column of ``study.tuned_choices`` /
    ``study.simple_baseline_choices``), and what was done about it. ``widened``: {model label:
    {parameter: (old low, old high)}} for the models whose range was widened and retuned."""
    widened = widened or {}
    flagged = choices[choices["edge"] != "-"]
    fixed = [f"{m}'s range was widened ({', '.join(f'{k} from [{lo:g}, {hi:g}]' for k, (lo, hi) in w.items())}) "
             "and it was retuned; its choice is now inside the range tried"
             for m, w in widened.items() if m not in set(flagged["model"]) and m in set(choices["model"])]
    if flagged.empty:
        return ("**Edges.** No chosen value of a continuous parameter is the largest or smallest value tried: "
                "every choice lies inside the range its trials covered."
                + "".join(f" {s[0].upper() + s[1:]}." for s in fixed))
    parts, reasons = [], []
    for model, part in flagged.groupby("model", sort=False):
        where = "; ".join(f"{dataset_name(r['dataset'])}: {r['edge']}" for r in part.to_dict("records"))
        parts.append(f"{model} on {len(part)} of {int((choices['model'] == model).sum())} data sets ({where})")
        if model in widened:
            ranges = ", ".join(f"{k} from [{lo:g}, {hi:g}]" for k, (lo, hi) in widened[model].items())
            reasons.append(f"{model}'s range was already widened ({ranges}) and it was retuned; it is still on "
                           "the edge, so its best setting may lie further out")
    unwidened = [m for m in dict.fromkeys(flagged["model"]) if m not in widened]
    if unwidened:
        reasons.append(f"{', '.join(unwidened)}: not widened here (a retune reruns every trial of the model on "
                       "every data set it is tuned on, beyond this build's compute), so read such a choice as "
                       "'at least this far out' and the tuned row as a lower bound on what the model can reach")
    return ("**Edges.** Chosen on the edge of the range tried: " + "; ".join(parts) + ". "
            + ". ".join(s[0].upper() + s[1:] for s in reasons + fixed) + ".")
