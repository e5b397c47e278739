"""The README's generated blocks: its findings and its measured speeds, written from the committed files.

The README holds no typed result number. Between markers

    <!-- generated:findings:begin --> ... <!-- generated:findings:end -->
    <!-- generated:datasets:begin --> ... <!-- generated:datasets:end -->
    <!-- generated:bench:begin --> ... <!-- generated:bench:end -->

it carries text this module writes: :func:`findings_block` (and :func:`datasets_block`, Table 1's sizes) from the CSVs ``make paper`` publishes
under ``figures/`` (the verdict, its tests, Tables 1-5, Figures 4-5, the tie order and notebook 10's
tables), :func:`bench_block` from the benchmark JSON files under ``bench/``. Both are pure functions of
the tables they are given (:func:`load_tables`, :func:`load_bench` read them); :func:`render` puts
them between their markers and leaves every other line as it is.

``make readme`` (``python -m attrec_lib.report.readme``) rewrites the README; ``make paper`` does the
same after it published over the committed files. ``--check`` rewrites nothing and exits 1, printing
a diff, when the README differs from what the committed files give (tests/test_readme.py).
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis import repeats, verdict
from ..rules import stats
from ..settings import paper_numbers, paths
from ..settings.atomic import replace_atomically
from ..analysis.display import dataset_name, model_name, p_text, readable_names, share

BLOCKS = ("findings", "datasets", "bench")

# The notebook that shows each claim's evidence (the verdict notebook has them all).
CLAIM_NOTEBOOK = {
    "released": "01-main-comparison", "rq1": "01-main-comparison", "simple": "01-main-comparison",
    "self_attention": "02-self-attention", "aggregation": "03-aggregation", "figure3": "04-attention-heatmaps",
    "omega": "05-omega-and-length", "seq_len": "05-omega-and-length", "dims": "06-latent-dimension",
    "runtime": "07-runtime", "sequential": "09-tie-order",
}
VERDICT_NOTEBOOK = "08-verdict"
REPEATS_NOTEBOOK = "10-repeats-and-timeline"

# The CSVs the findings read: required ones first; notebook 10's may be absent (not yet published).
REQUIRED = ("verdict", "verdict-tests")
OPTIONAL = ("table1-datasets", "table2-comparison", "table2-comparison-tuned", "table3-self-attention",
            "table5-runtime", "figure5-latent-dimension", "tie-order",
            "repeats-share", "repeats-rq1-by-targets", "repeats-first-occurrence-rq1", "repeats-timeline-rq1",
            "repeats-timeline-who", "repeats-kendall", "repeats-verdict")
BENCH_FILES = {"cpu": "cpu-1thread-quiet-xeon-torch2.11.json", "gpu": "gpu-NVIDIA_H200.json",
               "grid": "grid-wall-quick.json"}

SHAPED = {"ml-1m-shaped": "a synthetic set of ML-1M's size"}  # the benchmark's generated sets
OUTCOME_WORDS = {"holds": "holds", "partly": "partly", "no": "no", "no evidence": "no evidence",
                 "not tested": "not tested", "yes": "yes"}
GROUP_WORDS = {"pass": "holds on", "fail": "fails on", "no evidence": "no evidence on"}


# --- markers -------------------------------------------------------------------------------------

def markers(name: str) -> tuple:
    return f"<!-- generated:{name}:begin -->", f"<!-- generated:{name}:end -->"


def replace_block(text: str, name: str, block: str) -> str:
    """``text`` with the lines between block ``name``'s markers replaced by ``block``; a README
    without both markers (or with them twice) is an error naming the block."""
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"README: the markers {begin} ... {end} must appear once each, in that order")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{block.strip()}\n{end}{tail}"


# --- reading -------------------------------------------------------------------------------------

def load_tables(figures: Path) -> dict:
    """The CSVs :func:`findings_block` reads, by name (a missing optional one is absent)."""
    figures = Path(figures)
    out = {}
    for name in REQUIRED + OPTIONAL:
        path = figures / f"{name}.csv"
        if path.is_file():
            out[name] = pd.read_csv(path)
        elif name in REQUIRED:
            raise FileNotFoundError(f"{path}: the README's findings are written from it (make paper publishes it)")
    return out


def load_bench(bench: Path) -> dict:
    """The benchmark JSON files :func:`bench_block` reads, by role (a missing one is absent)."""
    out = {}
    for role, name in BENCH_FILES.items():
        path = Path(bench) / name
        if path.is_file():
            out[role] = json.loads(path.read_text())
    return out


# --- small pieces --------------------------------------------------------------------------------

def _join(items) -> str:
    items = [i for i in items if i]
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _link(notebook: str) -> str:
    return f"[notebook {notebook[:2]}](notebooks/{notebook}.ipynb)"


def _set_name(label) -> str:
    """A verdict set label for a reader: "lastfm L=3" -> "LastFM at L = 3"."""
    return readable_names(label)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _mean(cell) -> str:
    """A table cell "0.5009 ± 0.0071" (several seeds) or 0.5009 (one) -> "0.5009"."""
    return f"{cell:.4f}" if isinstance(cell, (int, float, np.floating)) else str(cell).split(" ")[0]


def _holm(r) -> float:
    return float(r["p (Holm)"]) if pd.notna(r["p (Holm)"]) else float(r["p (raw)"])


def _metric(m) -> str:
    return {"hr@50": "HR@50", "mrr": "MRR"}.get(str(m), str(m))


def _arm(label) -> str:
    """A test arm's label for a sentence: "ω=0 (short-term only)" -> "short-term only"."""
    gloss = re.fullmatch(r"ω=\S+ \(((?:short|long)-term only)\)", str(label))
    return gloss.group(1) if gloss else str(label)


def _vs(r, metric: bool = False) -> str:
    """ "AttRec 0.5009 vs TransRec 0.4970, p = 1.00": one test row of verdict-tests.csv."""
    unit = f" {r['metric']}" if metric else ""
    return f"{_arm(r['a'])} {r['mean a']:.4f} vs {_arm(r['b'])} {r['mean b']:.4f}{unit}, {p_text(_holm(r))}"


def set_groups(outcome: str, sets) -> dict:
    """``{"pass" | "fail" | "no evidence": [set, ...]}`` from a verdict outcome such as
    ``"partly (pass: a; fail: b, c)"``, reading set labels (which may hold commas) from ``sets``."""
    kind = verdict.outcome_kind(outcome)
    sets = list(dict.fromkeys(sets))
    if kind == "holds":
        return {"pass": sets}
    if kind == "no evidence":
        return {"no evidence": sets}
    inner = re.search(r"\((.*)\)\s*$", str(outcome))
    groups = {}
    if not inner:
        return groups
    known = sorted(sets, key=len, reverse=True)
    for part in inner.group(1).split("; "):
        key, _, rest = part.partition(": ")
        found = []
        while rest:
            hit = next((s for s in known if rest.startswith(s)), None)
            if hit is None:
                raise ValueError(f"verdict outcome {outcome!r}: {rest!r} is not one of the sets {sets}")
            found.append(hit)
            rest = rest[len(hit):].lstrip(", ")
        groups[key] = found
    return groups


def evidence_by_set(evidence: str) -> dict:
    """The verdict's evidence text split per set ("set: text | set: text")."""
    out = {}
    for part in str(evidence).split(" | "):
        key, _, text = part.partition(": ")
        out[key] = text
    return out


def _notes(row, tests) -> list:
    """Sets of the evidence that have no test (a set not counted) with the verdict's note."""
    tested = set(tests["set"])
    out = []
    for s, text in evidence_by_set(row["evidence"]).items():
        if s not in tested and text.startswith("not counted"):
            out.append(f"{_set_name(s)}: {text}.")
    return out


# --- one sentence per claim ----------------------------------------------------------------------

def _grouped(row, tests, describe) -> str:
    """ "holds on A (...); fails on B (...); no evidence on C (...)" over the claim's sets."""
    dec = tests[tests["in the family"].astype(bool)]
    sets = list(dict.fromkeys(dec["set"]))
    groups = set_groups(row["outcome"], sets)
    parts = []
    for key in ("pass", "fail", "no evidence"):
        names = groups.get(key, [])
        if names:
            words = GROUP_WORDS[key]
            if all(s.startswith("against ") for s in names):  # Figure 3's sets name their null model
                words = words.removesuffix(" on")
            parts.append(f"{words} " + _join(_group_sets(names, lambda s: describe(dec[dec["set"] == s], key))))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""


def _group_sets(names, describe) -> list:
    """Each set as "name (what decided it)"; the sets of one data set at several d (Figure 5) as one
    item, "ML-100K at d = 10 and 25 (d = 10: ...; d = 25: ...)"."""
    at_d = [re.fullmatch(r"(\S+) d=(\d+)", s) for s in names]
    if not all(at_d):
        return [f"{_set_name(s)} ({describe(s)})" for s in names]
    out = {}
    for s, m in zip(names, at_d):
        out.setdefault(m.group(1), []).append((m.group(2), describe(s)))
    return [f"{dataset_name(ds)} at d = {_join([d for d, _ in items])} ("
            + "; ".join(f"d = {d}: {text}" if len(items) > 1 else text for d, text in items) + ")"
            for ds, items in out.items()]


def _deciding_rows(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """The rows that decided a set: the significant ones; for a set with no evidence the one with
    the smallest p."""
    sig = rows[[stats.significant(_holm(r)) for r in rows.to_dict("records")]]
    if key != "no evidence" and len(sig):
        return sig
    return rows.loc[[rows["p (Holm)"].fillna(1.0).idxmin()]]


def _describe_pairs(rows: pd.DataFrame, key: str) -> str:
    return "; ".join(_vs(r) for r in _deciding_rows(rows, key).to_dict("records"))


def _why_better(row, tests, tables) -> str:
    return " ".join([_grouped(row, tests, _describe_pairs)] + _notes(row, tests))


def _why_comparison(row, tests, tables) -> str:
    """RQ1 and the simple baselines: per data set AttRec against the strongest baseline on
    validation (the first candidate), HR@50 and MRR, and how many more were within noise."""
    def describe(rows, key):
        strongest = rows["b"].iloc[0]
        mine = rows[rows["b"] == strongest]
        text = "; ".join(f"{r['mean a']:.4f} vs {r['mean b']:.4f} {r['metric']}, {p_text(_holm(r))}"
                         for r in mine.to_dict("records"))
        others = [b for b in dict.fromkeys(rows["b"]) if b != strongest]
        more = f"; tested too, within one seed sd of it on validation: {_join(others)}" if others else ""
        return f"against {strongest}: {text}{more}"
    out = [_grouped(row, tests, describe)]
    tuned = tables.get("table2-comparison-tuned")
    if tuned is not None and row["claim_id"] == "rq1":
        att = tuned[tuned["model"] == "AttRec"]
        lifts, borrowed = [], []
        for ds, part in att.groupby("dataset", sort=False):
            by = dict(zip(part["settings"], part["HR@50 (ours)"]))
            how = next((h for h in by if h != "default"), None)  # "tuned", or "chosen on <set>" (tuned_from)
            if "default" in by and how is not None:
                lifts.append(f"{_mean(by['default'])} to {_mean(by[how])} on {dataset_name(ds)}"
                             + ("" if how == "tuned" else f" (at the settings {how})"))
                if how != "tuned":
                    borrowed.append(f"on {dataset_name(ds)} at the settings {how}")
        lifts = [lift if i == 0 else f"from {lift}" for i, lift in enumerate(lifts)]
        if lifts:
            where = f" ({_join(borrowed)})" if borrowed else ""
            out.append("Each baseline named is the strongest on validation HR@50, at its tuned setting where the study "
                       f"tunes every learned model alike{where}; tuning moved AttRec's test HR@50 from "
                       f"{_join(lifts)}.")
    return " ".join(out)


def _why_released(row, tests, tables) -> str:
    ev = str(row["evidence"])
    found = re.findall(r"(\S+) (hr@50|mrr): ours ([\d.]+) \[([\d.]+), ([\d.]+)\], paper ([\d.]+)", ev)
    gaps = re.findall(r"\(([abc])\) ([^;|\[]+?) ([+-][\d.]+) \[", ev)
    if not found:
        return readable_names(ev)
    parts = [f"{_metric(m)} {ours} (95% interval {lo}-{hi}; paper {paper})" for _, m, ours, lo, hi, paper in found]
    text = (f"With the authors' settings and protocol (no validation item, the epoch chosen on the test item) "
            f"AttRec reaches on {dataset_name(found[0][0])} {_join(parts)}.")
    if gaps:
        text += (" From our headline number (epoch chosen on validation) to the paper's: "
                 + "; ".join(f"{what} {change}" for _, what, change in gaps) + ".")
    return text


def _why_seq_len(row, tests, tables) -> str:
    best = {}
    for label in dict.fromkeys(tests["set"]).keys() | set(evidence_by_set(row["evidence"])):
        for ds, per_user, L in re.findall(r"(\S+) \((\d+)/user, best L=(\d+)\)", str(label)):
            best[ds] = (int(per_user), int(L))
    order = sorted(best.items(), key=lambda kv: kv[1][0])
    text = ("The best L on validation, data sets from sparse to dense (training items per user): "
            + _join(f"{L} on {dataset_name(ds)} ({n})" for ds, (n, L) in order) + ".") if order else ""
    dec = tests[tests["in the family"].astype(bool)]
    if len(dec):
        text += (" Each denser set's best L against the sparser set's, on the denser set: "
                 + "; ".join(f"L = {r['a'][2:]} {r['mean a']:.4f} vs L = {r['b'][2:]} {r['mean b']:.4f} "
                             f"({p_text(_holm(r))})" for r in dec.to_dict("records")) + ".")
    return text


def _why_runtime(row, tests, tables) -> str:
    found = re.findall(r"(\S+): AttRec ([\d.]+) s, Caser ([\d.]+) s per epoch \(AttRec/Caser ([\d.]+)\) \[(.+?)\]",
                       str(row["evidence"]))
    out = [f"On {dataset_name(ds)} AttRec's epoch takes {a} s and Caser's {c} s (ratio {ratio}; the rule allows "
           f"{verdict.RUNTIME_RATIO:g}), from `{source.split(' (')[0]}`" for ds, a, c, ratio, source in found]
    text = "; ".join(out) + "." if out else readable_names(row["evidence"])
    t5 = tables.get("table5-runtime")
    if t5 is not None and len(t5):
        cpu = [f"{dataset_name(r['dataset'])} {r['attrec s/epoch (ours)']:.2f} s vs {r['caser s/epoch (ours)']:.2f} s"
               for r in t5.to_dict("records")]
        text += f" On one CPU thread (Table 5, the cached runs): AttRec vs Caser {_join(cpu)}."
    paper = paper_numbers.TABLE5["ml-100k"]
    return text + f" The paper: {paper['attrec']:.3f} vs {paper['caser']:.3f} s on ML-100K (its GPU)."


def _why_omega(row, tests, tables) -> str:
    text = _why_better(row, tests, tables)
    best = [(s, m.group(1)) for s, t in evidence_by_set(row["evidence"]).items()
            if (m := re.search(r"best ω on validation (\S+)", t))]
    if best:
        low, high = paper_numbers.FIGURE4A_BEST_OMEGA
        text += (" The best ω on validation: " + _join(f"{v} on {_set_name(s)}" for s, v in best)
                 + f" (the paper: {low:g}-{high:g}).")
    return text


def _why_dims(row, tests, tables) -> str:
    text = _why_better(row, tests, tables)
    dims = tables.get("figure5-latent-dimension")
    dims = None if dims is None else dims.dropna(subset=["cfg.d"])  # Pop has no d
    if dims is None or dims.empty:
        return text
    means = dims.groupby(["dataset", "cfg.d", "model"], sort=False)["hr@50"].mean().reset_index()
    ranks = []
    for ds, part in means.groupby("dataset", sort=False):
        per_d = []
        for d, at in part.groupby("cfg.d", sort=True):
            order = at.sort_values("hr@50", ascending=False, kind="stable")["model"].tolist()
            if "attrec" in order:
                per_d.append((int(d), order.index("attrec") + 1, len(order)))
        if per_d:
            ranks.append(f"{', '.join(str(r) for _, r, _ in per_d)} of {per_d[0][2]} on {dataset_name(ds)}")
    if ranks:
        ds_d = sorted(int(d) for d in dims["cfg.d"].unique())
        text += (f" By mean test HR@50 (reported, not used to choose) AttRec ranks, at d = "
                 f"{', '.join(map(str, ds_d))}, among the models with a d: {'; '.join(ranks)}.")
    return text


def _why_sequential(row, tests, tables) -> str:
    text = _why_better(row, tests, tables)
    reported = tests[~tests["in the family"].astype(bool)]
    if len(reported):
        text += (" With the file's order inside ties (reported, not counted): "
                 + "; ".join(f"{_set_name(r['set'])}, {r['a']} {r['mean a']:.4f} vs {r['b']} {r['mean b']:.4f}"
                             for r in reported.to_dict("records")) + ".")
    ties = tables.get("tie-order")
    if ties is not None and len(ties):
        moves = []
        for ds, part in ties.groupby("dataset", sort=False):
            lo, hi = part.loc[part["Δhr@50"].idxmin()], part.loc[part["Δhr@50"].idxmax()]
            moves.append(f"on {dataset_name(ds)} from {lo['Δhr@50']:+.4f} ({lo['label']}) to {hi['Δhr@50']:+.4f} "
                         f"({hi['label']}) over {_count(int(part['seeds'].max()), 'seed')}")
        text += " Shuffling the order inside tied timestamps moves each model's HR@50 " + "; ".join(moves) + "."
    t1 = tables.get("table1-datasets")
    if t1 is not None and "tied_pairs_pct" in t1:
        tied = t1.dropna(subset=["tied_pairs_pct"])
        tied = tied[tied["dataset"].isin(set(ties["dataset"]))] if ties is not None else tied
        if len(tied):
            text += (" Consecutive pairs of a user's sequence that share a timestamp: "
                     + _join(f"{share(r['tied_pairs_pct'])} on {dataset_name(r['dataset'])}"
                             for r in tied.to_dict("records")) + ".")
    return text


WHY = {"released": _why_released, "rq1": _why_comparison, "simple": _why_comparison, "self_attention": _why_better,
       "aggregation": _why_better, "omega": _why_omega, "seq_len": _why_seq_len, "dims": _why_dims,
       "figure3": _why_better, "runtime": _why_runtime, "sequential": _why_sequential}


def outcome_word(outcome: str) -> str:
    kind = verdict.outcome_kind(outcome)
    return OUTCOME_WORDS.get(kind, str(outcome))


def _before_after(part: str) -> str:
    """``"lastfm: A (EASE) -> B (EASE) on ..."`` -> ``"lastfm: A (EASE) becomes B (EASE) on ..."``,
    or ``"lastfm: A (EASE) stays so on ..."`` where the answer after is the answer before."""
    if " -> " not in part:
        return part
    left, right = part.split(" -> ", 1)
    head, before = left.rsplit(": ", 1) if ": " in left else ("", left)
    lead = f"{head}: " if head else ""
    if right.startswith(before) and (len(right) == len(before) or right[len(before)] == " "):
        return f"{lead}{before} stays so{right[len(before):]}"
    return f"{lead}{before} becomes {right}"


def _why_question(row, tests, tables) -> str:
    """Notebook 10's questions: per data set, RQ1's answer before -> after (the verdict's evidence)."""
    parts = [readable_names(_before_after(p)) for p in str(row["evidence"]).split("; ") if p]
    text = "; ".join(parts)
    return (text[:1].upper() + text[1:] + "." if text else "") + " Decided by notebook 10's own unadjusted tests."


def claim_bullet(row: dict, tests: pd.DataFrame, tables: dict) -> str:
    """One claim: its text, its outcome, why (with the numbers), where the evidence is."""
    cid = row.get("claim_id")
    if isinstance(cid, float):  # not a claim id (NaN): a row the verdict added
        cid = None
    mine = tests[tests["claim"] == cid] if cid else tests.iloc[0:0]
    if row["claim"] in repeats.QUESTIONS:
        why, notebook = _why_question(row, mine, tables), REPEATS_NOTEBOOK
    else:
        why = WHY[cid](row, mine, tables) if cid in WHY else readable_names(row["evidence"])
        notebook = CLAIM_NOTEBOOK.get(cid, VERDICT_NOTEBOOK)
    source = "" if row.get("source") in (None, "paper") or pd.isna(row.get("source")) else f" ({row['source']})"
    why = why.strip()
    why = why[:1].upper() + why[1:] + ("" if not why or why.endswith(".") else ".")
    return (f"* **{row['claim']}**{source}: **{outcome_word(row['outcome'])}**. {why + ' ' if why else ''}"
            f"Evidence: {_link(notebook)}.")


# --- notebook 10's paragraph ---------------------------------------------------------------------

def _answer_phrase(r) -> str:
    return (f"{r['answer']} (AttRec {r['AttRec HR@50']:.4f} vs {model_name(r['best baseline'])} "
            f"{r['baseline HR@50']:.4f}, {p_text(r['p (HR@50)'])}, {int(r['users'])} users)")


def repeats_paragraph(tables: dict, with_verdict: bool = True) -> str:
    """What the repeat-target and global-timeline views change and what they do not (notebook 10);
    ``with_verdict``: end with its two verdict rows (when the verdict table does not have them)."""
    if tables.get("repeats-share") is None:
        return (f"**Repeat targets and the global timeline** ({_link(REPEATS_NOTEBOOK)}): its tables are not among "
                "the published CSVs yet, so this paragraph has no numbers; `make paper` publishes them and rewrites it.")
    out = []
    sh = tables["repeats-share"]
    rep = sh[sh["test_repeat"] > 0]
    for r in rep.to_dict("records"):
        out.append(f"On {dataset_name(r['dataset'])} {r['test_repeat']} of {r['test_targets']} test targets "
                   f"({share(100.0 * r['test_repeat'] / r['test_targets'])}) repeat an item of the user's history, "
                   "which the protocol leaves as the one history item to rank.")
    none = sh[sh["repeated_pairs"] == 0]["dataset"].map(dataset_name).tolist()
    if none:
        out.append(f"{_join(none)} have no repeats.")
    empty = pd.DataFrame(columns=["dataset", "targets", "split", "answer"])
    by = tables.get("repeats-rq1-by-targets", empty)
    for ds in rep["dataset"]:
        rows = {r["targets"]: r for r in by[by["dataset"] == ds].to_dict("records")}
        if "all" in rows and "novel" in rows:
            change = "changes" if rows["all"]["answer"] != rows["novel"]["answer"] else "does not change"
            out.append(f"Counting novel targets only {change} RQ1 there: {_answer_phrase(rows['all'])} on all "
                       f"targets, {_answer_phrase(rows['novel'])} on novel ones.")
    first = tables.get("repeats-first-occurrence-rq1")
    if first is not None and len(first):
        for ds, part in first.groupby("dataset", sort=False):
            rows = {r["split"]: r for r in part.to_dict("records")}
            if len(rows) == 2:
                (_, a), (_, b) = rows.items()
                out.append(f"Keeping each (user, item) of {dataset_name(ds)} at its first occurrence (the rerun's "
                           f"seeds on both sides): {_answer_phrase(a)} before, {_answer_phrase(b)} after.")
    tl = tables.get("repeats-timeline-rq1", empty)
    who = tables.get("repeats-timeline-who")
    who = {r["dataset"]: r for r in who.to_dict("records")} if who is not None else {}
    for ds, part in tl.groupby("dataset", sort=False):
        rows = {r["split"]: r for r in part.to_dict("records")}
        if len(rows) != 2:
            continue
        (_, a), (_, b) = rows.items()
        w = who.get(ds)
        cut = (f" (one cut at {str(w['cut (UTC)'])[:10]}, {w['after_cut_pct']:.0f}% of interactions after it; "
               f"{int(w['evaluated_users'])} of {int(w['users'])} users evaluated)") if w else ""
        out.append(f"On one global timeline {dataset_name(ds)}{cut} goes from {_answer_phrase(a)} to "
                   f"{_answer_phrase(b)}.")
    taus = tables.get("repeats-kendall")
    if taus is not None and len(taus):
        out.append("The models' order by test HR@50 against leave-last-out's (Kendall's tau, 1: the same order): "
                   + _join(f"{r['kendall tau']:.2f} on {dataset_name(r['dataset'])} ({r['comparison']}, "
                           f"{int(r['models'])} models)" for r in taus.to_dict("records")) + ".")
    every = pd.concat([by, tl] + ([first] if first is not None else []), ignore_index=True)
    every = every.drop(columns=["split"], errors="ignore").drop_duplicates()
    wins = int((every["answer"] == "AttRec better").sum())
    if len(every):
        out.append(f"What no view changes: AttRec is ahead of the strongest baseline in none of these {len(every)} "
                   "comparisons." if wins == 0 else
                   f"AttRec is ahead of the strongest baseline in {wins} of these {len(every)} comparisons.")
    verdicts = tables.get("repeats-verdict", pd.DataFrame()) if with_verdict else pd.DataFrame()
    if len(verdicts):
        out.append("Verdict rows: " + "; ".join(f"{r['claim']} {readable_names(r['outcome'])}"
                                              for r in verdicts.to_dict("records")) + ".")
    return (f"**Repeat targets and the global timeline** ({_link(REPEATS_NOTEBOOK)}; RQ1's answer there is the "
            "unadjusted two-sided test at p < 0.05): " + " ".join(out))


# --- the blocks ----------------------------------------------------------------------------------

def findings_block(tables: dict) -> str:
    """The README's findings, from :func:`load_tables`'s tables: one bullet per claim of the
    verdict, then notebook 10's paragraph."""
    claims = tables["verdict"].copy()
    tests = tables["verdict-tests"]
    ids = verdict.claim_ids()
    claims["claim_id"] = claims["claim"].map(ids)
    is_question = claims["claim"].isin(repeats.QUESTIONS)
    kinds = [outcome_word(o) for o in claims.loc[~is_question, "outcome"]]
    order = list(OUTCOME_WORDS.values()) + [k for k in dict.fromkeys(kinds) if k not in OUTCOME_WORDS.values()]
    counts = {k: kinds.count(k) for k in order if k in kinds}
    n_questions = int(is_question.sum())
    questions = (f", then notebook 10's {n_questions} question{'s' if n_questions > 1 else ''} on repeat targets "
                 "and the split" if n_questions else "")
    family = int(tests["in the family"].astype(bool).sum())
    lines = [
        f"Written by `make readme` (`attrec_lib/report/readme.py`) from the committed `figures/verdict.csv`, "
        f"`figures/verdict-tests.csv` and the tables beside them; edit the generator, not this text. "
        f"{len(kinds)} claims: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + questions + ". "
        f"Every headline number is test HR@50 or MRR at the epoch chosen on validation, mean over seeds; "
        f"a p-value is Holm-adjusted over the verdict's {family} deciding tests unless it says otherwise "
        f"(raw p in `figures/verdict-tests.csv`); every test is a two-level bootstrap over users and seeds. "
        f"The rule of each claim: {_link(VERDICT_NOTEBOOK)}.",
        "",
    ]
    lines += [claim_bullet(r, tests, tables) for r in claims.to_dict("records")]
    lines += ["", repeats_paragraph(tables, with_verdict=not is_question.any())]
    return "\n".join(lines)


def _mib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def bench_block(bench: dict) -> str:
    """The README's measured speeds, from :func:`load_bench`'s JSON files."""
    out = []
    grid = bench.get("grid")
    if grid:
        t = {row["workers"]: row for row in grid["timings"]}
        serial, ray = t.get(0), next((row for w, row in sorted(t.items()) if w), None)
        if serial and ray:
            same = all(c.get("identical") for c in grid.get("identical", []))
            out.append(f"`make bench-grid` on {grid['cpus']} cores (`bench/{BENCH_FILES['grid']}`): "
                       f"the {grid['profile']} profile's {grid['runs']} runs from an empty cache took "
                       f"{_minutes(serial['wall_seconds'])} serially and {_minutes(ray['wall_seconds'])} on "
                       f"{ray['workers']} Ray workers ({serial['wall_seconds'] / ray['wall_seconds']:.2f}x), "
                       f"peak memory {_mib(serial['pss_mib'])} in one process against {_mib(ray['pss_mib'])} "
                       f"PSS over Ray's {ray['processes']} processes; "
                       f"{'every result identical' if same else 'results DIFFER between the two'}.")
    cpu, gpu = bench.get("cpu"), bench.get("gpu")
    if cpu:
        rows = {(r["dataset"], r["model"], r["preset"]): r for r in cpu["rows"]}
        parts = [f"{model_name(m)}{' (' + p + ')' if m == 'attrec' else ''} {r['epoch_s']:.2f} s"
                 for (ds, m, p), r in rows.items() if ds == "ml-100k"]
        target = cpu.get("targets", {}).get("ml-100k/attrec/paper", {}).get("epoch_s")
        att = rows.get(("ml-100k", "attrec", "paper"))
        met = "" if target is None or att is None else (
            f"; the target of {target:g} s for AttRec (paper) is {'met' if att['epoch_s'] <= target else 'not met'}")
        out.append(f"`make bench`, one thread on a quiet {cpu['cpus']}-core machine (`bench/{BENCH_FILES['cpu']}`): "
                   f"seconds per ML-100K epoch: {_join(parts)}{met}.")
    if gpu and not gpu.get("dry_run"):
        parts = [f"{r['epoch_s']:.2f} s on {SHAPED.get(r['dataset'], dataset_name(r['dataset']))}" for r in gpu["rows"]
                 if r["model"] == "attrec" and r["preset"] == "paper"]
        paper = paper_numbers.TABLE5
        out.append(f"`make gpu-check` on an {gpu['card']} (`bench/{BENCH_FILES['gpu']}`): AttRec's epoch takes "
                   f"{_join(parts)}; the paper's GPU: "
                   f"{paper['ml-100k']['attrec']:.3f} s on ML-100K, {paper['ml-1m']['attrec']:.1f} s on ML-1M.")
    return "\n".join(f"* {line}" for line in out) if out else "No benchmark file under `bench/`."


def datasets_block(tables: dict) -> str:
    """The README's sizes of the data sets run here, from Table 1 (``figures/table1-datasets.csv``)."""
    t1 = tables.get("table1-datasets")
    if t1 is None:
        return "Table 1 (`figures/table1-datasets.csv`) is not published yet."
    out = []
    for r in t1.dropna(subset=["users"]).to_dict("records"):
        ours = f"{int(r['users']):,} users, {int(r['items']):,} items, {int(r['interactions']):,} interactions"
        paper = ("" if pd.isna(r.get("paper_users")) else
                 f"; the paper: {int(r['paper_users']):,} / {int(r['paper_items']):,} / {int(r['paper_interactions']):,}")
        out.append(f"* {dataset_name(r['dataset'])}: {ours}{paper}; {readable_names(r['status'])}")
    return ("Run here (Table 1, [`figures/table1-datasets.csv`](figures/table1-datasets.csv)):\n\n" + "\n".join(out)
            if out else "No data set of Table 1 is available here.")


def render(text: str, tables: dict, bench: dict) -> str:
    """The README ``text`` with every generated block (:data:`BLOCKS`) rewritten."""
    text = replace_block(text, "findings", findings_block(tables))
    text = replace_block(text, "datasets", datasets_block(tables))
    return replace_block(text, "bench", bench_block(bench))


def rendered(readme: Path | None = None, figures: Path | None = None, bench: Path | None = None) -> tuple:
    """(README as it is, README as the committed files give it)."""
    readme = Path(readme or paths.REPO_ROOT / "README.md")
    current = readme.read_text()
    return current, render(current, load_tables(figures or paths.FIGURES_DIR), load_bench(bench or paths.REPO_ROOT / "bench"))


def check(readme: Path | None = None, figures: Path | None = None, bench: Path | None = None) -> str:
    """'' when the README's blocks are what the files give; else a unified diff (README -> generated)."""
    current, new = rendered(readme, figures, bench)
    if current == new:
        return ""
    return "".join(difflib.unified_diff(current.splitlines(True), new.splitlines(True), "README.md (committed)",
                                        "README.md (generated from figures/ and bench/)"))


def write(readme: Path | None = None, figures: Path | None = None, bench: Path | None = None) -> bool:
    """Rewrite the README's generated blocks (atomically); True when something changed."""
    readme = Path(readme or paths.REPO_ROOT / "README.md")
    current, new = rendered(readme, figures, bench)
    if current == new:
        return False
    replace_atomically(readme, lambda fh: fh.write(new.encode()))
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.report.readme", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 with a diff if the README differs")
    args = parser.parse_args(argv)
    if args.check:
        diff = check()
        if diff:
            print(diff, end="")
            print("README.md: its generated blocks differ from the committed figures/ and bench/ (make readme)",
                  file=sys.stderr)
            return 1
        print("README.md: generated blocks match figures/ and bench/")
        return 0
    print("README.md: " + ("generated blocks rewritten" if write() else "generated blocks already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
