"""The study's conclusion: every claim of the paper, the test that decides it, and the outcome.

Two steps, so the rules are pure functions a reader (and a unit test) can check on a frame:

1. *gather*: each ``_gather_*`` reads cached runs (``grid.run_grid``: nothing is recomputed
   when the notebooks ran first) and makes the claim's tests with :mod:`attrec_lib.rules.stats` (the
   two-level bootstrap over users and seeds), one row per (set, comparison, metric) in a *tests
   frame* (:data:`TEST_COLUMNS`);
2. *decide*: Holm-Bonferroni over every deciding test of every claim (the family: ``role ==
   "decides"``), then each ``rule_*`` turns its claim's rows into ``(outcome, evidence)``.

Outcomes (:func:`combine`): per set ``pass`` (the claim's direction, Holm p < 0.05), ``fail`` (the
opposite direction, Holm p < 0.05) or ``no evidence`` (within seed and user noise); per claim
``holds`` (every set passes), ``partly (pass: ...; fail: ...; no evidence: ...)`` (some pass),
``no (...)`` (none passes, some fail) or ``no evidence (within seed noise)``. The released-number
row says ``reproducible under the paper's protocol`` or not, and is not counted as a claim that holds.

Every choice (the strongest baseline, the best omega, L or model at each d, the best
sequential and order-blind models) reads mean validation HR@50 over seeds only; the tests read
test metrics at the validation-selected epoch. The verdict table (:func:`verdicts`) has the
columns :data:`COLUMNS`; :func:`family` returns every test with its raw and Holm p.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import models
from ..rules import stats
from ..study import claim_specs
from ..engines import grid
from ..runs import runspec, store
from ..settings import paper_numbers, paths
from ..rules import selection
from ..study import builders, decisions, profiles
from . import attention_null, repeats, tables, tie_order
from ..settings.atomic import replace_atomically
from ..data.preprocess import parse_tie_rule
from ..data.registry import paper_set

ALPHA = stats.ALPHA
CHOICE = selection.CHOICE_METRIC  # the metric every choice reads (mean over seeds)
RUNTIME_RATIO = 1.5  # the runtime claim holds where AttRec's epoch costs at most this many Caser epochs
COLUMNS = ("claim", "rule", "test and metric", "evidence", "raw p", "Holm p", "outcome",
           "paper says", "paper's number", "source")
TEST_COLUMNS = ("claim", "set", "a", "b", "metric", "mean a", "mean b", "delta", "ci low", "ci high", "p",
                "alternative", "role", "seeds a", "seeds b", "users", "note")
# "yes": the answer to a yes/no question beyond the paper (repeats.verdict_rows: "yes (on: ...)")
OUTCOME_KINDS = ("holds", "partly", "no", "no evidence", "protocol", "not tested", "yes")
TEST = f"{stats.METHOD} ({stats.N_BOOT} replicates), 95% percentile interval, Holm-Bonferroni over the verdict's tests"
REPRODUCIBLE = "reproducible under the paper's protocol"
METRIC_NAMES = {"hr@50": "HR@50", "mrr": "MRR"}


def outcome_kind(outcome: str) -> str:
    """The kind of an outcome string without its sets: one of :data:`OUTCOME_KINDS`."""
    text = str(outcome)
    for kind in ("no evidence", "not tested", "partly", "holds", "yes"):
        if text.startswith(kind):
            return kind
    if REPRODUCIBLE in text:
        return "protocol"
    if text.startswith("no"):
        return "no"
    raise ValueError(f"unknown verdict outcome {outcome!r}")


def _label(model) -> str:
    return models.LABELS.get(model, model)


# --- per-user test metrics of runs, read once -------------------------------------------------

_PER_USER: dict = {}


def _users(specs, arm: str, selection: str | None = None) -> pd.DataFrame:
    """Long per-user frame (``tables.per_user``) of ``specs`` with column ``arm`` = ``arm``."""
    frames = []
    for spec in specs:
        key = (spec.key, selection)
        if key not in _PER_USER:
            _PER_USER[key] = tables.per_user([spec], selection)
        frames.append(_PER_USER[key])
    out = pd.concat(frames, ignore_index=True)
    out["arm"] = arm
    return out


_STATS_SOURCE = hashlib.sha256(Path(stats.__file__).read_bytes()).hexdigest()


def _cached_compare(ma: np.ndarray, mb: np.ndarray, **kwargs) -> dict:
    """:func:`stats.compare`, remembered under build/stats-cache/ by the sha256 of its inputs and
    of stats.py's source (content-addressed: a changed input or method is a new entry, never a
    stale one), so the notebooks that each show a claim of the family do not redo the bootstrap."""
    digest = hashlib.sha256(_STATS_SOURCE.encode())
    for x in (ma, mb):
        digest.update(repr(x.shape).encode())
        digest.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    digest.update(json.dumps(kwargs, sort_keys=True).encode())
    path = paths.BUILD_DIR / "stats-cache" / f"{digest.hexdigest()[:24]}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    result = stats.compare(ma, mb, **kwargs)
    try:
        replace_atomically(path, lambda fh: fh.write(json.dumps(result).encode()))
    except OSError:  # a read-only checkout: no cache, same numbers
        pass
    return result


def _compare(claim: str, set_label: str, a: str, specs_a, b: str, specs_b, metrics=("hr@50",), role="decides",
             alternative="two-sided", selection_a=None, selection_b=None, paired_seeds=False, note="") -> list:
    """Rows of the tests frame: ``a`` against ``b`` (two lists of runs) per metric."""
    users = pd.concat([_users(specs_a, "a", selection_a), _users(specs_b, "b", selection_b)], ignore_index=True)
    rows = []
    for metric in metrics:
        ma, mb = stats.matrices(users, "a", "b", metric, by="arm")
        r = _cached_compare(ma, mb, paired_seeds=paired_seeds, alternative=alternative)
        rows.append({"claim": claim, "set": set_label, "a": a, "b": b, "metric": metric, "mean a": r["mean a"],
                     "mean b": r["mean b"], "delta": r["delta"], "ci low": r["ci low"], "ci high": r["ci high"],
                     "p": r["p"], "alternative": alternative, "role": role, "seeds a": r["seeds a"],
                     "seeds b": r["seeds b"], "users": r["users"], "note": note})
    return rows


def _note_row(claim: str, set_label: str, role: str, note: str, **values) -> dict:
    """A row that is no test (p NaN): a set not counted, an interval, a timing."""
    row = {c: np.nan for c in TEST_COLUMNS}
    row.update({"claim": claim, "set": set_label, "role": role, "note": note, "a": "", "b": "", "metric": "",
                "alternative": ""})
    row.update(values)
    return row


def _specs_of(part: pd.DataFrame, by_key: dict) -> list:
    return [by_key[k] for k in part["key"]]


# --- set outcomes and claim outcomes ------------------------------------------------------------

def set_outcome(rows: pd.DataFrame) -> str:
    """One set's deciding rows (each "a better than b" in its metric): ``pass`` if every row has
    delta > 0 with Holm p < alpha, ``fail`` if any has delta < 0 with Holm p < alpha, else
    ``no evidence``."""
    if rows.empty:
        return "no evidence"
    sig = [stats.significant(p) for p in rows["Holm p"]]
    if any(s and d < 0 for s, d in zip(sig, rows["delta"])):
        return "fail"
    if all(s and d > 0 for s, d in zip(sig, rows["delta"])):
        return "pass"
    return "no evidence"


def combine(outcomes: dict) -> str:
    """Claim outcome from ``{set: pass | fail | no evidence}`` (see the module docstring)."""
    if not outcomes:
        return "not tested"
    groups = {k: [s for s, o in outcomes.items() if o == k] for k in ("pass", "fail", "no evidence")}
    unknown = set(outcomes.values()) - set(groups)
    if unknown:
        raise ValueError(f"set outcomes must be pass, fail or no evidence, got {sorted(unknown)}")
    listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items() if v)
    if len(groups["pass"]) == len(outcomes):
        return "holds"
    if groups["pass"]:
        return f"partly ({listed})"
    if groups["fail"]:
        return f"no ({listed})"
    return "no evidence (within seed noise)"


def _deciding(tests: pd.DataFrame) -> pd.DataFrame:
    return tests[tests["role"] == "decides"]


def _outcomes_by_set(tests: pd.DataFrame) -> dict:
    dec = _deciding(tests)
    return {s: set_outcome(dec[dec["set"] == s]) for s in dict.fromkeys(dec["set"])}


def _fmt_test(r) -> str:
    metric = METRIC_NAMES.get(r["metric"], r["metric"])
    return (f"{_label(r['a'])} {r['mean a']:.4f} vs {_label(r['b'])} {r['mean b']:.4f} {metric}, "
            f"Δ {r['delta']:+.4f} [{r['ci low']:+.4f}, {r['ci high']:+.4f}]")


def _evidence(tests: pd.DataFrame, extra: dict | None = None) -> str:
    """Per set: each test as "a m vs b m, Δ [interval]" plus ``extra[set]``; sets not counted last."""
    parts = []
    for s in dict.fromkeys(tests["set"]):
        mine = tests[tests["set"] == s]
        is_test = mine["role"].isin(["decides", "reported"]) & mine["p"].notna()
        text = "; ".join(_fmt_test(r) + (" (reported, not in the family)" if r["role"] == "reported" else "")
                         for r in mine[is_test].to_dict("records"))
        more = (extra or {}).get(s, "")
        notes = "; ".join(dict.fromkeys(n for n in mine["note"] if isinstance(n, str) and n))
        parts.append(f"{s}: " + "; ".join(t for t in (text, more, notes) if t))
    return " | ".join(parts)


# --- the rules (pure: a claim's tests frame, with "Holm p", -> outcome and evidence) ----------

def rule_comparison(tests: pd.DataFrame) -> tuple:
    """RQ1 and the simple baselines: per data set AttRec against every candidate baseline (HR@50
    and MRR): pass where it is better than all of them in both, fail where one is better in either;
    a light data set (only Pop and the simple baselines run) cannot pass, only fail."""
    outcomes = _outcomes_by_set(tests)
    for s in outcomes:
        light = tests[(tests["set"] == s) & (tests["role"] == "light")]
        if len(light) and outcomes[s] == "pass":
            outcomes[s] = "no evidence"
    extra, dec = {}, _deciding(tests)
    for s in outcomes:
        rows = dec[(dec["set"] == s) & (dec["metric"] == "hr@50")]
        margins = rows["paper margin"].dropna() if "paper margin" in rows else pd.Series(dtype=float)
        if len(margins):
            margin = float(margins.iloc[0])
            excl = bool((rows["ci high"] < margin).all())
            extra[s] = (f"the paper's margin over its strongest baseline ({margin:+.4f}) is "
                        f"{'outside' if excl else 'inside'} the interval of AttRec minus "
                        f"{'every candidate' if len(rows) > 1 else 'the candidate'}")
    return combine(outcomes), _evidence(tests, extra)


def rule_better(tests: pd.DataFrame) -> tuple:
    """Claims "a beats b" per set (self-attention, omega, sequential signal, each d): per set
    :func:`set_outcome` of its deciding rows."""
    return combine(_outcomes_by_set(tests)), _evidence(tests)


def rule_aggregation(tests: pd.DataFrame) -> tuple:
    """Mean aggregation is best: per set, pass where mean beats at least one other aggregation and
    none beats mean, fail where one beats mean, else no evidence (all within noise)."""
    dec = _deciding(tests)
    outcomes = {}
    for s in dict.fromkeys(dec["set"]):
        rows = dec[dec["set"] == s]
        sig = [stats.significant(p) for p in rows["Holm p"]]
        if any(g and d < 0 for g, d in zip(sig, rows["delta"])):
            outcomes[s] = "fail"
        elif any(g and d > 0 for g, d in zip(sig, rows["delta"])):
            outcomes[s] = "pass"
        else:
            outcomes[s] = "no evidence"
    return combine(outcomes), _evidence(tests)


def rule_seq_len(tests: pd.DataFrame) -> tuple:
    """The best L grows with density: each deciding row compares, on the denser of two data sets
    next in density, its best L (a) with the sparser set's best L (b). Pass where a > b and a is
    better (Holm p < alpha); fail where a < b and a is better (the denser set prefers the shorter
    L); equal best L or no significant difference: no evidence."""
    dec = _deciding(tests)
    outcomes = {}
    for r in dec.to_dict("records"):
        la, lb = int(r["L a"]), int(r["L b"])
        better = stats.significant(r["Holm p"]) and r["delta"] > 0
        outcomes[r["set"]] = "pass" if better and la > lb else "fail" if better and la < lb else "no evidence"
    return combine(outcomes), _evidence(tests)


def rule_runtime(tests: pd.DataFrame) -> tuple:
    """One-sided: per data set of the chosen source, pass where AttRec's seconds per epoch are at
    most :data:`RUNTIME_RATIO` times Caser's, else fail (no p: timings, one per model)."""
    rows = tests[tests["role"] == "timing"]
    outcomes = {r["set"]: "pass" if r["mean a"] <= RUNTIME_RATIO * r["mean b"] else "fail"
                for r in rows.to_dict("records")}
    evidence = " | ".join(f"{r['set']}: AttRec {r['mean a']:.3f} s, Caser {r['mean b']:.3f} s per epoch "
                          f"(AttRec/Caser {r['mean a'] / r['mean b']:.2f}) [{r['note']}]" for r in rows.to_dict("records"))
    return combine(outcomes), evidence


def rule_released(tests: pd.DataFrame) -> tuple:
    """Reproducible under the paper's protocol where the paper's number lies inside the 95%
    interval of our mean under that protocol (released settings, test-selected epoch), for both
    HR@50 and MRR."""
    rows = tests[tests["role"] == "interval"]
    if rows.empty:
        return "not tested", "ML-100K not in this profile"
    inside = {r["metric"]: bool(r["ci low"] <= r["paper"] <= r["ci high"]) for r in rows.to_dict("records")}
    outside = [m for m, ok in inside.items() if not ok]
    outcome = REPRODUCIBLE if not outside else f"not {REPRODUCIBLE} (outside the interval: {', '.join(outside)})"
    evidence = "; ".join(f"{r['set']} {r['metric']}: ours {r['mean a']:.4f} [{r['ci low']:.4f}, {r['ci high']:.4f}], "
                         f"paper {r['paper']:.4f}" for r in rows.to_dict("records"))
    notes = [n for n in tests[tests["role"] == "gap"]["note"] if isinstance(n, str)]
    return outcome, evidence + ("; gap to the paper from our headline: " + "; ".join(notes) if notes else "")


# --- the claims ----------------------------------------------------------------------------------

def _baselines_within_noise(part: pd.DataFrame, baselines) -> tuple:
    """(candidates, strongest, noise): the baselines whose mean validation HR@50 is within noise
    of the strongest's. Noise: the larger seed sd of validation HR@50 of the two models; a model
    with one run (the deterministic simple baselines) takes the median seed sd of the data set's
    models with several seeds."""
    choice_col = selection.choice_column(part, "the strongest baseline")
    mine = part[part["model"].isin(baselines)]
    if mine.empty:
        raise ValueError(f"no baseline among {sorted(set(part['model']))}")
    g = mine.groupby("model", sort=False)[choice_col]
    means, sds = g.mean(), g.std(ddof=1)
    typical = float(part.groupby("model")[choice_col].std(ddof=1).dropna().median()) if part.groupby(
        "model")[choice_col].count().max() > 1 else 0.0
    strongest = str(selection.best(mine, "model", "the strongest baseline"))

    def sd(m):
        v = sds.get(m)
        return typical if v is None or not np.isfinite(v) else float(v)

    cands = [m for m in means.index if not selection.beyond_seed_sd(means[strongest] - means[m], sd(strongest), sd(m))]
    return [strongest] + [m for m in cands if m != strongest], strongest, max(sd(strongest), 0.0)


def _paper_margin(ds: str) -> float:
    pset = paper_set(ds)
    a = paper_numbers.table2_value(pset, "attrec", "hr@50")
    others = [paper_numbers.table2_value(pset, m, "hr@50") for m in paper_numbers.TABLE2_MODELS if m != "attrec"]
    others = [v for v in others if v is not None]
    return float(a - max(others)) if a is not None and others else np.nan


def _gather_comparison(prof, claim: str, baselines) -> list:
    specs = decisions.rq1_specs(prof)
    df = grid.run_grid(specs, progress=False)
    by_key = {s.key: s for s in specs}
    rows = []
    for ds, part in df.groupby("dataset", sort=False):
        names = [m for m in baselines if m in set(part["model"])]
        if "attrec" not in set(part["model"]) or not names:
            continue
        cands, _, _ = _baselines_within_noise(part, names)
        att = _specs_of(part[part["model"] == "attrec"], by_key)
        for b in cands:
            for r in _compare(claim, ds, "attrec", att, b, _specs_of(part[part["model"] == b], by_key),
                              metrics=("hr@50", "mrr")):
                r["paper margin"] = _paper_margin(ds)
                rows.append(r)
        if ds in prof.light_datasets:
            rows.append(_note_row(claim, ds, "light", "only Pop and the simple baselines run here: a loss decides, a win does not"))
    return rows


def _sparse_label(ds: str, L: int, sparse: bool) -> str:
    return f"{ds} L={L}" if sparse else ds


def _ablation_runs(prof, table_specs, sparse_specs):
    """(run rows, specs) of a Table 3/4 builder plus the sparse ablations of that table
    (``claim_specs.sparse_ablation_specs``; each (data set, L) once all its runs are cached), each
    row with column ``set`` (data set, or "data set L=…" for the sparse points)."""
    specs = list(table_specs(prof))
    sparse = claim_specs.cached_groups(sparse_specs(prof), lambda s: (s.dataset, s.model_config["seq_len"]))
    keys = {s.key for s in specs}
    specs += [s for s in sparse if s.key not in keys]
    df = grid.run_grid(specs, progress=False)
    in_table = {s.key for s in table_specs(prof)}
    sparse_keys = {s.key for s in sparse} - in_table  # LastFM at L = 2 is the table's own set
    frames = []
    for key_set, is_sparse in ((in_table, False), (sparse_keys, True)):
        part = df[df["key"].isin(key_set)].copy()
        part["set"] = [_sparse_label(d, int(L), is_sparse) for d, L in zip(part["dataset"], part["cfg.seq_len"])]
        frames.append(part)
    return pd.concat(frames, ignore_index=True), {s.key: s for s in specs}


def _degenerate(spec) -> bool:
    """With L = 2 and the diagonal masked before the softmax each item attends only to the other
    one: with and without self-attention are the same model."""
    return spec.model_config["seq_len"] == 2 and spec.model_config["mask"] == "before_softmax"


def _gather_self_attention(prof, claim: str) -> list:
    df, by_key = _ablation_runs(prof, builders.table3_specs, claim_specs.sparse_table3_specs)
    rows = []
    for s, part in df.groupby("set", sort=False):
        w, wo = part[part["cfg.self_attention"]], part[~part["cfg.self_attention"]]
        if w.empty or wo.empty:
            continue
        if _degenerate(by_key[w["key"].iloc[0]]):
            rows.append(_note_row(claim, s, "degenerate", "not counted: L = 2 with the diagonal masked, so with and "
                                  "without self-attention are the same model"))
            continue
        rows += _compare(claim, s, "with self-attention", _specs_of(w, by_key), "without", _specs_of(wo, by_key))
    return rows


def _gather_aggregation(prof, claim: str) -> list:
    df, by_key = _ablation_runs(prof, builders.table4_specs, claim_specs.sparse_table4_specs)
    rows = []
    for s, part in df.groupby("set", sort=False):
        mean = part[part["cfg.aggregation"] == "mean"]
        if mean.empty:
            continue
        for agg in profiles.AGGREGATIONS:
            other = part[part["cfg.aggregation"] == agg]
            if agg != "mean" and len(other):
                rows += _compare(claim, s, "mean", _specs_of(mean, by_key), agg, _specs_of(other, by_key))
    return rows


def _best_setting(part: pd.DataFrame, column: str):
    """The setting of ``column`` that the selection rule picks (ties: the first in the frame)."""
    return selection.best(part, column, f"the best {column}")


def _gather_omega(prof, claim: str) -> list:
    specs = builders.omega_specs(prof)
    df = grid.run_grid(specs, progress=False)
    by_key = {s.key: s for s in specs}
    rows = []
    for ds, part in df.groupby("dataset", sort=False):
        zero, one = part[part["cfg.omega"] == 0.0], part[part["cfg.omega"] == 1.0]
        if zero.empty or one.empty:
            continue
        rows += _compare(claim, ds, "ω=0 (short-term only)", _specs_of(zero, by_key), "ω=1 (long-term only)",
                         _specs_of(one, by_key))
        rows.append(_note_row(claim, ds, "info", f"best ω on validation {_best_setting(part, 'cfg.omega'):g}"))
    return rows


def _gather_seq_len(prof, claim: str) -> list:
    specs = builders.seq_len_specs(prof)
    df = grid.run_grid(specs, progress=False)
    by_key = {s.key: s for s in specs}
    density = {}
    for ds in dict.fromkeys(df["dataset"]):
        split = runspec.load_split(ds, "stable", True)
        density[ds] = sum(len(t) for t in split.train) / split.n_users
    order = sorted(density, key=density.get)
    best = {ds: int(_best_setting(df[df["dataset"] == ds], "cfg.seq_len")) for ds in order}
    rows = []
    for sparse, dense in zip(order, order[1:]):
        part = df[df["dataset"] == dense]
        label = f"{sparse} ({density[sparse]:.0f}/user, best L={best[sparse]}) -> {dense} ({density[dense]:.0f}/user, best L={best[dense]})"
        la, lb = best[dense], best[sparse]
        if la == lb or part[part["cfg.seq_len"] == lb].empty:
            rows.append({**_note_row(claim, label, "decides", "same best L on both: no test"), "L a": la, "L b": lb,
                         "delta": 0.0})
            continue
        for r in _compare(claim, label, f"L={la}", _specs_of(part[part["cfg.seq_len"] == la], by_key), f"L={lb}",
                          _specs_of(part[part["cfg.seq_len"] == lb], by_key), note=f"on {dense}"):
            rows.append({**r, "L a": la, "L b": lb})
    return rows


def _gather_dims(prof, claim: str) -> list:
    specs = builders.dim_specs(prof)
    df = grid.run_grid(specs, progress=False)
    df = df[df["model"] != "pop"]
    by_key = {s.key: s for s in specs}
    rows = []
    for (ds, d), part in df.groupby(["dataset", "cfg.d"], sort=False):
        others = part[part["model"] != "attrec"]
        if others.empty or "attrec" not in set(part["model"]):
            continue
        best = selection.best(others, "model", "the strongest other model at this d")
        rows += _compare(claim, f"{ds} d={int(d)}", "attrec", _specs_of(part[part["model"] == "attrec"], by_key), best,
                         _specs_of(part[part["model"] == best], by_key))
    return rows


def runtime_source(bench_dir=None) -> tuple:
    """(name, {data set: (AttRec s/epoch, Caser s/epoch)}) from the quietest timing source: a GPU
    bench file (bench/*.json with cuda rows of both models) where present, else the CPU bench
    file with the lowest load before it ran; the ``paper`` preset, not compiled. (None, {}) when
    no bench file times both."""
    folder = paths.BENCH_DIR if bench_dir is None else bench_dir
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"bench file {path} is not readable JSON: {exc}") from exc
        rows = [r for r in data.get("rows", []) if r.get("preset") == "paper" and not r.get("compiled")
                and r.get("model") in ("attrec", "caser") and r.get("threads") in (None, 1)]
        times = {}
        for r in rows:
            times.setdefault(r["dataset"], {})[r["model"]] = float(r["epoch_s"])
        pairs = {ds: (t["attrec"], t["caser"]) for ds, t in times.items() if {"attrec", "caser"} <= set(t)}
        if not pairs:
            continue
        gpu = any(str(r.get("device", "")).startswith("cuda") for r in rows)
        load = data.get("load_before")
        load = float(load[0] if isinstance(load, (list, tuple)) else load) if load is not None else np.inf
        found.append((0 if gpu else 1, load, path.name, pairs, rows[0].get("device", "")))
    if not found:
        return None, {}
    _, _, name, pairs, device = min(found, key=lambda f: (f[0], f[1], f[2]))
    return f"bench/{name} ({device})", pairs


def _gather_runtime(prof, claim: str) -> list:
    source, pairs = runtime_source()
    if not pairs:  # no bench file: the cached runs' own timings (a shared CPU: noisy)
        df = grid.run_grid(builders.runtime_specs(prof), progress=False)
        rt = tables.runtime_table(df)
        source = "cached runs (shared CPU, noisiest)"
        pairs = {r["dataset"]: (r["attrec s/epoch (ours)"], r["caser s/epoch (ours)"]) for r in rt.to_dict("records")}
    return [_note_row(claim, ds, "timing", source, **{"a": "attrec", "b": "caser", "mean a": a, "mean b": c})
            for ds, (a, c) in pairs.items()]


def _gather_sequential(prof, claim: str) -> list:
    df, specs = tie_order.runs(prof)
    extra_shuffled = claim_specs.cached_groups(claim_specs.order_blind_shuffled_specs(prof), lambda s: s.dataset)
    extra_stable = [s for s in claim_specs.order_blind_stable_specs(prof) if s.dataset in {x.dataset for x in extra_shuffled}]
    extra = grid.run_grid(extra_stable + extra_shuffled, progress=False)
    if extra.empty:
        extra = pd.DataFrame(columns=list(df.columns))
    extra["rule"] = [parse_tie_rule(r)[0] for r in extra["tie_rule"]]
    tuned = {s.key for s in extra_stable + extra_shuffled if s.model == "bprmf"}
    extra["model"] = [("bprmf (tuned)" if k in tuned else m) for k, m in zip(extra["key"], extra["model"])]
    both = pd.concat([df, extra], ignore_index=True)
    by_key = {s.key: s for s in [*specs, *extra_stable, *extra_shuffled]}
    blind = set(claim_specs.ORDER_BLIND) | {"bprmf (tuned)"}
    rows = []
    for (ds, rule), part in both.groupby(["dataset", "rule"], sort=False):
        seq, ref = part[~part["model"].isin(blind)], part[part["model"].isin(blind)]
        if seq.empty or ref.empty:
            continue
        a = selection.best(seq, "model", "the best sequential model")
        b = selection.best(ref, "model", "the best order-blind model")
        rows += _compare(claim, f"{ds}, {rule} ties", a, _specs_of(part[part["model"] == a], by_key), b,
                         _specs_of(part[part["model"] == b], by_key),
                         role="decides" if rule == "shuffled" else "reported",
                         note=f"order-blind candidates: {', '.join(sorted(set(ref['model'])))}")
    return rows


def _gather_figure3(prof, claim: str) -> list:
    """Figure 3's reading against the null models (:mod:`attention_null`): the trained model's mean
    column share over all users against the untrained one's and the shuffled-order one's."""
    maps = attention_null.all_maps(prof)
    tests = attention_null.null_tests(maps)
    users = len(next(iter(maps.values())))
    return [{"claim": claim, "set": f"against {r['against']}", "a": "trained", "b": r["against"],
             "metric": "column share", "mean a": r["trained"], "mean b": r["null"], "delta": r["Δ column share"],
             "ci low": r["CI low"], "ci high": r["CI high"], "p": r["p (one-sided)"], "alternative": "greater",
             "role": "decides", "seeds a": 1, "seeds b": 1, "users": users, "note": ""}
            for r in tests.to_dict("records")]


def gap_decomposition(paper_value: float, head_valid, head_test, released, released_stable=None) -> pd.DataFrame:
    """The gap between the paper's HR@50 and our headline, in steps, each a difference of means
    with its 95% interval (:func:`stats.compare`; (seeds x users) arrays of per-user HR@50):

    (a) epoch selection: the headline runs at their best *test* epoch instead of their best
        validation epoch (the same runs: seeds paired);
    (b) held-out validation item (+ tie rule): the same settings under the released protocol
        (no validation item), test-selected; with ``released_stable`` (the released protocol
        with stable ties) split into (b1) the validation item and (b2) the authors' tie rule;
    (c) what remains to the paper's number (interval: the paper's number minus that of our mean).
    """
    arrays = {"head_valid": head_valid, "head_test": head_test, "released": released}
    for name, x in arrays.items():
        if x is None or np.size(x) == 0:
            raise ValueError(f"gap_decomposition: {name} has no runs")
    rows = [("ours (validation-selected epoch)", float(np.mean(head_valid)), np.nan, np.nan, np.nan, len(head_valid))]

    def step(name, a, b, paired=False):
        r = stats.compare(a, b, paired_seeds=paired)
        rows.append((name, r["mean a"], r["delta"], r["ci low"], r["ci high"], len(a)))

    step("(a) epoch selection: same runs at their best test epoch", head_test, head_valid, paired=True)
    if released_stable is None:
        step("(b) held-out validation item + tie rule: released protocol, test-selected", released, head_test)
    else:
        step("(b1) held-out validation item: released protocol with stable ties, test-selected", released_stable,
             head_test)
        step("(b2) tie rule: the authors' instead of stable", released, released_stable)
    mean, lo, hi = stats.mean_interval(released)
    rows.append(("(c) remainder to the paper", paper_value, paper_value - mean, paper_value - hi, paper_value - lo, 0))
    return pd.DataFrame(rows, columns=["step", "HR@50", "change", "CI low", "CI high", "seeds"])


def _matrices(groups, metric="hr@50") -> list:
    """(seeds x users) arrays of ``metric`` for each (specs, selection) of ``groups``, on the users
    all of them have, in one column order."""
    wide = [_users(specs, "x", sel).pivot(index="seed", columns="user", values=metric) for specs, sel in groups]
    common = wide[0].columns
    for w in wide[1:]:
        common = common.intersection(w.columns)
    return [w[common].to_numpy(float) for w in wide]


def _matrix(specs, selection, metric="hr@50"):
    return _matrices([(specs, selection)], metric)[0]


def paper_gap(prof) -> pd.DataFrame:
    """:func:`gap_decomposition` of the paper's ML-100K HR@50 from this profile's runs."""
    if "ml-100k" not in prof.datasets:
        return pd.DataFrame()
    head = [builders.spec_for(prof, "ml-100k", "attrec", s) for s in prof.seeds]
    released = builders.gap_specs(prof)
    split = claim_specs.gap_split_specs(prof)
    cached = all(store.load_result(s) is not None for s in split)
    grid.run_grid(head + released + (split if cached else []), progress=False)
    groups = [(head, "valid_selected"), (head, "test_selected"), (released, "test_selected")]
    arrays = _matrices(groups + ([(split, "test_selected")] if cached else []))
    return gap_decomposition(paper_numbers.table2_value("ml-100k", "attrec", "hr@50"), *arrays[:3],
                             arrays[3] if cached else None)


def _gather_released(prof, claim: str) -> list:
    specs = builders.released_specs(prof)
    if not specs:
        return []
    grid.run_grid(specs, progress=False)
    rows = []
    for metric in ("hr@50", "mrr"):
        mean, lo, hi = stats.mean_interval(_matrix(specs, "test_selected", metric))
        rows.append(_note_row(claim, "ml-100k", "interval", "", metric=metric, **{
            "mean a": mean, "ci low": lo, "ci high": hi, "paper": paper_numbers.table2_value("ml-100k", "attrec", metric),
            "seeds a": len(specs)}))
    for r in paper_gap(prof).to_dict("records")[1:]:
        rows.append(_note_row(claim, "ml-100k", "gap", f"{r['step'].split(':')[0]} {r['change']:+.4f} "
                              f"[{r['CI low']:+.4f}, {r['CI high']:+.4f}]"))
    return rows


# --- the claims: text, rule and gatherer ---------------------------------------------------------

def _paper2(model: str, metric: str = "hr@50") -> float:
    return paper_numbers.table2_value("ml-100k", model, metric)


def _paper_best_baseline() -> str:
    return max((m for m in paper_numbers.TABLE2_MODELS if m != "attrec"), key=_paper2)


def _claims(prof) -> list:
    """(id, claim text, rule text, test text, paper says, paper's number, source, gather, rule)."""
    low, high = paper_numbers.FIGURE4A_BEST_OMEGA
    t5 = (paper_numbers.TABLE5["ml-100k"]["attrec"], paper_numbers.TABLE5["ml-100k"]["caser"])
    learned_and_simple = [m for m in profiles.PAPER_BASELINES + profiles.EXTRA_BASELINES]
    hr_mrr = f"{TEST}; HR@50 and MRR at the validation-selected epoch"
    hr = f"{TEST}; HR@50 at the validation-selected epoch"
    return [
        ("released", "AttRec's ML-100K numbers (Table 2) are reproducible under the paper's protocol",
         "the paper's number inside our 95% interval under its protocol (released settings, no validation item, "
         "the epoch chosen on the test item); not a claim of the paper that can hold: it checks how the paper selected",
         f"{stats.METHOD}, interval of the mean; HR@50 and MRR at the test-selected epoch",
         f"HR@50 {_paper2('attrec'):.4f}, MRR {_paper2('attrec', 'mrr'):.4f}",
         f"{_paper2('attrec'):.4f} / {_paper2('attrec', 'mrr'):.4f}", "paper",
         _gather_released, rule_released),
        ("rq1", "RQ1: AttRec beats every baseline on every data set (Table 2)",
         "per data set AttRec against every baseline whose mean validation HR@50 is within one seed sd of the "
         "strongest's (tuned rows where the profile tunes); a set passes where AttRec is better than each in HR@50 "
         "and MRR (Holm p < 0.05), fails where one is better in either, else no evidence; the interval is compared "
         "with the paper's margin", hr_mrr, "best on all 12 data sets by a wide margin",
         f"ML-100K HR@50 {_paper2('attrec'):.4f} vs {_paper2(_paper_best_baseline()):.4f} ({_label(_paper_best_baseline())})",
         "paper", lambda p, c: _gather_comparison(p, c, learned_and_simple), rule_comparison),
        ("simple", "AttRec beats the strongest simple baseline (ItemKNN, EASE, SR, SKNN) on every data set",
         "as RQ1, among the simple baselines (each tuned on validation)", hr_mrr,
         "not compared: the paper's baselines are all learned models", "-", "beyond the paper",
         lambda p, c: _gather_comparison(p, c, [m for m in profiles.SIMPLE_BASELINES]), rule_comparison),
        ("self_attention", "RQ2: self-attention improves AttRec (Table 3)",
         "per set (data set, and the sparse sets at L = 3 and 5) with against without self-attention; pass: better "
         "with (Holm p < 0.05); fail: better without; L = 2 with the diagonal masked not counted (the same model)",
         hr, "with > without on 4 data sets", "ML-100K {:.4f} vs {:.4f}".format(*paper_numbers.TABLE3["ml-100k"]),
         "paper", _gather_self_attention, rule_better),
        ("aggregation", "RQ2: mean aggregation is the best aggregation, especially on sparse data (Table 4)",
         "per set mean against sum, max and min; pass: mean better than at least one and none better than mean "
         "(Holm p < 0.05); fail: one better than mean; else no evidence", hr,
         "mean is best or near-best, esp. on sparse data",
         "ML-100K " + ", ".join(f"{agg} {v:.4f}" for agg, v in sorted(paper_numbers.TABLE4["ml-100k"].items(),
                                                                     key=lambda kv: -kv[1])),
         "paper", _gather_aggregation, rule_aggregation),
        ("omega", "RQ2: short-term alone beats long-term alone (Figure 4a)",
         f"per data set ω = 0 (short-term only) against ω = 1 (long-term only); pass: ω = 0 better (Holm p < 0.05); "
         f"the best ω on validation reported beside the paper's {low:g}-{high:g}", hr,
         f"best ω {low:g}-{high:g}; ω = 0 beats ω = 1", "figure only (no printed values)", "paper",
         _gather_omega, rule_better),
        ("seq_len", "RQ2: the best L grows with density (Figure 4b)",
         "data sets ordered by training items per user; for each neighbouring pair, on the denser set its best L "
         "(validation) against the sparser set's best L; pass: the denser set's best L is larger and better "
         "(Holm p < 0.05); fail: it is smaller and better; same best L or no significant difference: no evidence",
         hr, "larger L on MovieLens, small L on sparse sets", "figure only (no printed values)", "paper",
         _gather_seq_len, rule_seq_len),
        ("dims", "RQ2: AttRec beats all baselines at every d (Figure 5)",
         "at each (data set, d) AttRec against the best other model on validation at that d (Pop left out); pass: "
         "AttRec better (Holm p < 0.05); fail: the other better", hr, "best at every d on ML-100K and Garden",
         "figure only (no printed values)", "paper", _gather_dims, rule_better),
        ("figure3", "Figure 3: training makes AttRec's attention maps column-distinguishable",
         "the mean over all users of the share of the off-diagonal weights' variance that the column explains, "
         "trained model against an untrained one and against one trained on user-shuffled sequences; pass per "
         "null model: trained higher (one-sided, Holm p < 0.05)",
         f"{stats.METHOD} with one run per model (users only), 95% percentile interval, one-sided, Holm-Bonferroni "
         "over the verdict's tests; column share on each user's test input", "the maps are column distinguishable "
         "(two users shown)", "figure only", "paper", _gather_figure3, rule_better),
        ("runtime", f"AttRec's training epoch costs at most about what Caser's costs (Table 5)",
         f"one-sided: per data set AttRec's seconds per epoch at most {RUNTIME_RATIO:g} x Caser's (holds when faster), "
         "from the quietest timing source (GPU bench where present, else the CPU bench, else cached runs)",
         "seconds per training epoch, one timing per model (no test)",
         "{:.3f} vs {:.3f} s on ML-100K (GPU)".format(*t5), "ML-100K {:.3f} / {:.3f}".format(*t5), "paper",
         _gather_runtime, rule_runtime),
        ("sequential", "Implicit: the data sets carry a sequential signal beyond the order of tied timestamps",
         "under shuffled ties the best sequential model against the best order-blind one (Pop, BPRMF default and "
         "tuned, ItemKNN, EASE), both chosen on validation; pass: sequential better (Holm p < 0.05); stable ties "
         "reported beside. The sequential models run at their default settings (the tie-order runs), the "
         "order-blind ones tuned where the study tunes them: a bias against the sequential side", hr, "AttRec, a sequential model, beats BPRMF on every data set of Table 2; ties are not "
         "mentioned", "-", "paper", _gather_sequential, rule_better),
    ]


def claim_ids() -> dict:
    """``{claim text: claim id}`` of every claim, in the verdict's order (what a reader of
    figures/verdict.csv, which has the text, needs to find the claim's rows of verdict-tests.csv)."""
    return {claim: cid for cid, claim, *_ in _claims(None)}


_FAMILY: dict = {}


def family(prof) -> pd.DataFrame:
    """Every test the verdict makes (:data:`TEST_COLUMNS` and "Holm p"), computed once per profile
    in a process. Holm's adjustment runs over the deciding tests of all claims together."""
    key = repr(prof)
    if key not in _FAMILY:
        rows = [r for cid, *_, gather, _rule in _claims(prof) for r in gather(prof, cid)]
        tests = pd.DataFrame(rows)
        for col in TEST_COLUMNS:
            if col not in tests:
                tests[col] = np.nan
        _FAMILY[key] = adjust(tests)
        _PER_USER.clear()
    return _FAMILY[key].copy()


def clear_cache() -> None:
    """Forget the per-user metrics and the families computed in this process."""
    _PER_USER.clear()
    _FAMILY.clear()


def adjust(tests: pd.DataFrame) -> pd.DataFrame:
    """``tests`` with column "Holm p": Holm-Bonferroni over the rows with role "decides" and a p."""
    out = tests.copy()
    out["Holm p"] = np.nan
    dec = (out["role"] == "decides") & out["p"].notna()
    out.loc[dec, "Holm p"] = stats.holm(out.loc[dec, "p"].to_numpy(float))
    return out


def _p_number(p: float) -> str:
    """A p-value in two significant digits; one that underflows to 0 (a bootstrap z beyond about 38)
    as "< 1e-300", never "0"."""
    return f"{p:.2g}" if p > 0 else "< 1e-300"


def _p_text(rows: pd.DataFrame, column: str) -> str:
    rows = rows[rows["role"] == "decides"].dropna(subset=[column])
    return "; ".join(f"{r['set']} ({_label(r['b'])}, {METRIC_NAMES.get(r['metric'], r['metric'])}): "
                     f"{_p_number(r[column])}" for r in rows.to_dict("records")) or "–"


def claim_row(tests: pd.DataFrame, claim_id: str, claim: str, rule: str, test: str, paper_says: str,
              paper_number: str, source: str, decide) -> dict:
    """One row of the verdict table from the claim's rows of an adjusted tests frame."""
    mine = tests[tests["claim"] == claim_id]
    outcome, evidence = decide(mine) if len(mine) else ("not tested", "no runs of this claim in this profile")
    return {"claim": claim, "rule": rule, "test and metric": test, "evidence": evidence,
            "raw p": _p_text(mine, "p"), "Holm p": _p_text(mine, "Holm p"), "outcome": outcome,
            "paper says": paper_says, "paper's number": paper_number, "source": source}


def verdicts(prof) -> pd.DataFrame:
    """The verdict table: one row per claim, columns :data:`COLUMNS`; after the paper's claims (and
    ours beside them), the questions of notebook 10 (:func:`repeats.verdict_rows`: does RQ1's answer
    depend on repeat targets, on the split?). Those are decided by their own unadjusted tests, outside
    the Holm family, and say so in their p columns."""
    tests = family(prof)
    rows = [claim_row(tests, cid, claim, rule, test, says, number, source, decide)
            for cid, claim, rule, test, says, number, source, _gather, decide in _claims(prof)]
    for row in repeats.verdict_rows(prof):
        rows.append({"raw p": "–", "Holm p": "– (not in the family)", "paper says": "–",
                     "paper's number": "–", **row})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _one(prof, claim_id: str) -> dict:
    table = verdicts(prof)
    ids = [c[0] for c in _claims(prof)]
    return table.iloc[ids.index(claim_id)].to_dict()


def claim_released_numbers(prof) -> dict:
    return _one(prof, "released")


def claim_beats_baselines(prof) -> dict:
    return _one(prof, "rq1")


def claim_beats_simple_baselines(prof) -> dict:
    return _one(prof, "simple")


def claim_self_attention(prof) -> dict:
    return _one(prof, "self_attention")


def claim_mean_aggregation(prof) -> dict:
    return _one(prof, "aggregation")


def claim_omega(prof) -> dict:
    return _one(prof, "omega")


def claim_seq_len(prof) -> dict:
    return _one(prof, "seq_len")


def claim_dims(prof) -> dict:
    return _one(prof, "dims")


def claim_runtime(prof) -> dict:
    return _one(prof, "runtime")


def claim_sequential_signal(prof) -> dict:
    return _one(prof, "sequential")


# --- what the notebooks show beside the verdict rows --------------------------------------------

def sparse_ablation_runs(prof, table: str) -> pd.DataFrame:
    """The run rows of the sparse ablations of ``table`` ("table3" or "table4") whose
    (data set, L) has all its runs cached, with column ``set``."""
    builders = {"table3": claim_specs.sparse_table3_specs, "table4": claim_specs.sparse_table4_specs}
    if table not in builders:
        raise ValueError(f"table must be one of {sorted(builders)}, got {table!r}")
    specs = claim_specs.cached_groups(builders[table](prof), lambda s: (s.dataset, s.model_config["seq_len"]))
    if not specs:
        return pd.DataFrame(columns=["set", "dataset", "hr@50", CHOICE])
    df = grid.run_grid(specs, progress=False)
    df["set"] = [_sparse_label(d, int(L), True) for d, L in zip(df["dataset"], df["cfg.seq_len"])]
    return df


def setting_summary(df: pd.DataFrame, column: str, value_labels: dict | None = None) -> pd.DataFrame:
    """Per (set, setting): seeds, test HR@50 mean ± sd, mean validation HR@50 (what chooses).
    No runs (a profile without these ablations, or none cached yet): an empty table."""
    rows = []
    if df.empty or column not in df.columns:
        df = pd.DataFrame(columns=["set", column, "hr@50", CHOICE])
    for (s, v), part in df.groupby(["set", column], sort=False):
        rows.append({"set": s, "setting": (value_labels or {}).get(v, v), "seeds": len(part),
                     "HR@50 (ours)": tables._fmt(part["hr@50"].mean(), part["hr@50"].std(ddof=1), len(part)),
                     "valid HR@50": part[CHOICE].mean()})
    return pd.DataFrame(rows, columns=["set", "setting", "seeds", "HR@50 (ours)", "valid HR@50"])


def claim_tests(prof, claim_id: str) -> pd.DataFrame:
    """The tests of one claim (of :func:`family`), readable: set, a, b, metric, means, Δ with its
    95% interval, raw and Holm p, and whether the test decides (in the Holm family)."""
    tests = family(prof)
    mine = tests[(tests["claim"] == claim_id) & tests["p"].notna()]
    out = pd.DataFrame({"set": mine["set"], "a": mine["a"].map(_label), "b": mine["b"].map(_label),
                        "metric": mine["metric"].map(lambda m: METRIC_NAMES.get(m, m)), "mean a": mine["mean a"],
                        "mean b": mine["mean b"], "Δ": mine["delta"], "CI low": mine["ci low"],
                        "CI high": mine["ci high"], "p (raw)": mine["p"], "p (Holm)": mine["Holm p"],
                        "in the family": mine["role"] == "decides"})
    return out.reset_index(drop=True)


def family_table(prof) -> pd.DataFrame:
    """Every test of the verdict (:func:`claim_tests` of each claim), with its claim's id."""
    frames = [claim_tests(prof, cid).assign(claim=cid) for cid, *_ in _claims(prof)]
    frames = [f for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out[["claim", *[c for c in out.columns if c != "claim"]]] if len(out) else out
