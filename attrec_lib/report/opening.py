"""What each notebook opens with: at most five plain bullets of what it found, written from its runs.

A notebook's first cells after its setup display :func:`bullets` of the lines this module builds:

* :func:`claim_lines` -- one short line per claim the notebook tests, from the verdict
  (``verdict.verdicts`` and ``verdict.family_table``, the same rows notebook 08 and the README read):
  the claim, its outcome, and per data set the one comparison that decided it ("fails on LastFM
  (AttRec 0.1274 vs EASE 0.2338 MRR, p < 0.001)"). The baseline named is the one the verdict tested
  first on that data set, the strongest on validation (at its tuned setting where the profile tunes),
  so a notebook names one strongest baseline per data set, the verdict's.
* :func:`dataset_lines` (notebook 00), :func:`verdict_lines` (notebook 08) and
  :func:`repeats_lines` (notebook 10) for the notebooks that test no single claim.

The lines hold no typed number: every figure comes from the tables they are given. The longer
evidence (every test, every set) stays below, in each notebook's tables and its conclusion.
"""
from __future__ import annotations

import re

import pandas as pd

from ..analysis import verdict
from ..rules import stats
from ..analysis.display import dataset_name, p_text, readable_names, share
from . import readme

MAX_BULLETS = 5
TITLE = "**What this notebook found** (written from the runs below; the evidence follows)"

# The claims whose evidence is not a set of comparisons: their line is the first sentence of the
# README's (readme.WHY), which reads the evidence text.
_SENTENCE_CLAIMS = ("released", "runtime", "seq_len")


def bullets(lines) -> str:
    """The opening block: the title, then one bullet per line. More than :data:`MAX_BULLETS` lines
    is a bug in the caller (a notebook opens with at most five), not something to cut silently."""
    lines = [str(line).strip() for line in lines if line and str(line).strip()]
    if len(lines) > MAX_BULLETS:
        raise ValueError(f"{len(lines)} opening bullets; a notebook opens with at most {MAX_BULLETS}")
    if not lines:
        return f"{TITLE}: nothing in this profile."
    return TITLE + ":\n\n" + "\n".join(f"* {line}" for line in lines)


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?\.)(\s+[A-Z(]|$)", text.strip())
    return match.group(1) if match else text.strip()


def _set_names(names) -> str:
    """Set labels for a reader; the sets of one data set at several d (Figure 5) as one item,
    "ML-100K at d = 10, 25 and 50"."""
    at_d = [re.fullmatch(r"(\S+) d=(\d+)", s) for s in names]
    if names and all(at_d):
        per = {}
        for m in at_d:
            per.setdefault(m.group(1), []).append(m.group(2))
        return readme._join([f"{dataset_name(ds)} at d = {readme._join(ds_d)}" for ds, ds_d in per.items()])
    return readme._join([readme._set_name(s) for s in names])


def _undecided(names, deciding: pd.DataFrame) -> str:
    """Sets without evidence by name; where AttRec was tested against a baseline there, with the
    baseline the verdict tested first (the strongest on validation), so each data set has one
    strongest baseline wherever the notebook names it."""
    first = {s: deciding[deciding["set"] == s].iloc[0] for s in names}
    if not all(r["a"] == "AttRec" for r in first.values()):
        return _set_names(names)
    return readme._join([f"{readme._set_name(s)} (against {first[s]['b']})" for s in names])


def _decider(rows: pd.DataFrame) -> str:
    """The one comparison that decided a set: its first significant test (Holm), HR@50 before MRR
    in the verdict's order."""
    sig = [r for r in rows.to_dict("records") if stats.significant(readme._holm(r))]
    r = sig[0] if sig else rows.to_dict("records")[0]
    return (f"{readme._arm(r['a'])} {r['mean a']:.4f} vs {readme._arm(r['b'])} {r['mean b']:.4f} "
            f"{r['metric']}, {p_text(readme._holm(r))}")


def claim_line(row: dict, tests: pd.DataFrame, claim_id: str) -> str:
    """One claim in a line: "*claim*: **outcome**. Holds on A (...); fails on B (...); no evidence
    on C and D." Sets that passed or failed carry the comparison that decided them; sets without
    evidence are named only (their numbers are in the notebook's tests table)."""
    mine = tests[tests["claim"] == claim_id] if len(tests) else tests
    head = f"*{row['claim']}*: **{readme.outcome_word(row['outcome'])}**."
    if claim_id in _SENTENCE_CLAIMS or mine.empty:
        why = readme.WHY[claim_id](row, mine, {}) if claim_id in readme.WHY else readable_names(row["evidence"])
        return f"{head} {_first_sentence(why)}"
    deciding = mine[mine["in the family"].astype(bool)]
    groups = readme.set_groups(row["outcome"], list(dict.fromkeys(deciding["set"])))
    parts = []
    for key in ("pass", "fail", "no evidence"):
        names = groups.get(key, [])
        if not names:
            continue
        words = readme.GROUP_WORDS[key]
        if all(s.startswith("against ") for s in names):  # Figure 3's sets name their null model
            words = words.removesuffix(" on")
        if key == "no evidence":
            parts.append(f"{words} {_undecided(names, deciding)}")
        else:
            parts.append(f"{words} " + readme._join(
                [f"{readme._set_name(s)} ({_decider(deciding[deciding['set'] == s])})" for s in names]))
    text = "; ".join(parts)
    return f"{head} {text[:1].upper() + text[1:]}." if text else head


def claim_lines(prof, claim_ids) -> list:
    """The lines of the claims ``claim_ids`` (``verdict.claim_ids()``), in the order given: the
    caller puts the strongest evidence first."""
    ids = [c[0] for c in verdict._claims(prof)]
    table, tests = verdict.verdicts(prof), verdict.family_table(prof)
    out = []
    for cid in claim_ids:
        if cid not in ids:
            raise ValueError(f"unknown claim id {cid!r}; known: {ids}")
        out.append(claim_line(table.iloc[ids.index(cid)].to_dict(), tests, cid))
    return out


def tuning_line(prof) -> str:
    """Notebook 01: which table decides RQ1 (the tuned rows where the profile tunes) and which is
    only shown beside it."""
    if not prof.tuned_models:
        return ("Every model runs at its default settings in this profile (it tunes none): RQ1 is decided on "
                "those rows.")
    sets = readme._join([dataset_name(d) for d in prof.tuned_datasets])
    return (f"RQ1 is decided on the rows where every learned model was tuned alike on validation ({sets}); "
            "elsewhere on the default settings. The default-settings table comes first below, the tuned rows "
            "after it, and the verdict reads only validation numbers to choose.")


def dataset_lines(table: pd.DataFrame) -> list:
    """Notebook 00 (Table 1 with its tie columns): what could be read, how it matches the paper, and
    how much of each sequence's order is ties."""
    present = table[table["users"].notna()]
    compared = present[present["paper_users"].notna()]
    stand_ins = [dataset_name(d) for d in present.loc[present["paper_users"].isna(), "dataset"]]
    diffs = compared[["diff_users", "diff_items", "diff_interactions"]].abs().sum(axis=1)
    exact = [dataset_name(d) for d in compared.loc[diffs == 0, "dataset"]]
    off = [f"{dataset_name(r['dataset'])} ({r['diff_users']:+.0f} users, {r['diff_items']:+.0f} items, "
           f"{r['diff_interactions']:+.0f} interactions)" for r in compared[diffs != 0].to_dict("records")]
    missing = [dataset_name(d) for d in table.loc[table["users"].isna(), "dataset"]]
    lines = [f"{len(compared)} of the paper's data sets could be read here ({readme._join(map(dataset_name, compared['dataset']))})"
             + (f", and {len(stand_ins)} labelled stand-ins for ones that could not ({readme._join(stand_ins)})."
                if stand_ins else ".")]
    lines.append(f"Counts equal to the paper's: {readme._join(exact) or 'none'}; different: {readme._join(off) or 'none'}.")
    if missing:
        lines.append(f"Not available offline, so not run: {len(missing)} ({readme._join(missing)}).")
    if "tied_pairs_pct" in table:
        tied = present.dropna(subset=["tied_pairs_pct"])
        if len(tied):
            lines.append("Consecutive pairs of a user's sequence that share a timestamp (their order is not in the "
                         "data): " + readme._join(f"{share(r['tied_pairs_pct'])} on {dataset_name(r['dataset'])}"
                                                  for r in tied.to_dict("records")) + ".")
    return lines


def verdict_lines(claims: pd.DataFrame) -> list:
    """Notebook 08: the count of outcomes, then the claims by outcome (the paper's), then ours."""
    words = [readme.outcome_word(o) for o in claims["outcome"]]
    paper = [(c, w) for c, w, s in zip(claims["claim"], words, claims["source"]) if s == "paper"]
    ours = [(c, w) for c, w, s in zip(claims["claim"], words, claims["source"]) if s != "paper"]
    counted = [(c, w) for c, w in paper if w in ("holds", "partly", "no", "no evidence")]
    counts = {k: sum(w == k for _, w in counted) for k in ("holds", "partly", "no", "no evidence")}
    said = {"holds": ("holds", "hold"), "partly": ("holds on some data sets only", "hold on some data sets only"),
            "no": ("does not hold", "do not hold"), "no evidence": ("has no evidence either way", "have no evidence either way")}
    lines = [f"Of the paper's {len(counted)} claims tested here, "
             + readme._join([f"{n} {said[k][n != 1]}" for k, n in counts.items() if n]) + "."]
    for kind, lead in (("holds", "Hold"), ("partly", "Hold on some data sets only"), ("no", "Do not hold")):
        names = [c for c, w in counted if w == kind]
        if names:
            lines.append(f"{lead}: " + "; ".join(names) + ".")
    if ours:
        lines.append("Beyond the paper: " + "; ".join(f"{c}: **{w}**" for c, w in ours) + ".")
    return lines[:MAX_BULLETS]


def repeats_lines(share_table: pd.DataFrame, by_targets: pd.DataFrame, verdicts) -> list:
    """Notebook 10: how many targets repeat the history, and the two questions' answers."""
    lines = []
    with_repeats = share_table[share_table["test_repeat"] > 0]
    if len(with_repeats):
        lines.append("Test targets that repeat an item of the user's history: " + readme._join(
            f"{int(r['test_repeat'])} of {int(r['test_targets'])} ({share(r['test_repeat_pct'])}) on {dataset_name(r['dataset'])}"
            for r in with_repeats.to_dict("records")) + "; none on the other data sets.")
    else:
        lines.append("No data set of this profile has a test target that repeats the user's history.")
    for row in verdicts:
        why = readme._why_question(row, pd.DataFrame(), {}).removesuffix(" Decided by notebook 10's own unadjusted tests.")
        lines.append(f"*{row['claim']}* **{readme.outcome_word(row['outcome'])}**. {why}")
    return lines[:MAX_BULLETS]
