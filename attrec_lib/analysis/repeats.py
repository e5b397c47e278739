"""What the protocol hides: repeat targets and the global timeline (notebook 10).

Views of the cache, nothing trained here:

* :func:`repeat_share`: per data set, how many validation and test targets repeat an item of
  the user's history (``data.splits.target_repeats``), and how many (user, item) pairs repeat.
* :func:`breakdown`: per run, HR@50 and MRR over all test targets, over the repeat targets and
  over the novel ones, from the per-user ranks the cache keeps (the test ranks at the
  validation-selected epoch); :func:`breakdown_table` averages them over seeds.
* :func:`rq1`: RQ1 decided one way everywhere: AttRec against the baseline with the best mean
  *validation* HR@50 (:func:`attrec_lib.analysis.tables.strongest_baseline`), tested over users and
  seeds (``stats.compare_users``, two-sided), on the test targets of a group of users
  (all, or the novel ones only). The answer is :func:`rq1_answer`.
* :func:`ordering`: the models ranked by mean test HR@50 under two splits, side by side, with
  Kendall's tau between the two orders (``scipy.stats.kendalltau``).
* :func:`depends` and :func:`verdict_rows`: "does RQ1's answer depend on repeat targets / on
  the split?", with the rule in code: yes where the answer (of :func:`rq1_answer`) differs.

The validation ranks are not kept per user, so the strongest baseline is chosen on validation
HR@50 over all validation targets, also where the test is redone on the novel ones.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..data import load_dataset
from ..data.splits import (GLOBAL_TIME_QUANTILE, LEAVE_LAST_OUT, global_time_summary, repeated_pairs,
                           sequence_timestamps, target_repeats)
from ..rules import stats
from ..engines import grid
from ..runs import compute, runspec
from ..study import split_specs
from ..study import decisions, profiles
from ..training.evaluate import per_user_metrics
from . import tables
from .display import dataset_name, dataset_names, model_name, p_text, readable_names

METRICS = ("hr@50", "mrr")
GROUPS = ("all", "repeat", "novel")  # which test targets a number is over
ALPHA = stats.ALPHA
# RQ1's possible answers (rq1_answer)
BETTER, WORSE, TIED = "AttRec better", "baseline better", "no significant difference"


def _split_of(spec) -> object:
    return runspec.load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid", spec.split)


def repeat_share(datasets, tie_rule: str = "stable") -> pd.DataFrame:
    """Per data set (leave-last-out split, validation item held out): repeated (user, item)
    pairs, and the validation and test targets that repeat an item of the user's history."""
    rows = []
    for ds in datasets:
        split = runspec.load_split(ds, tie_rule, True)
        row = {"dataset": ds, "repeated_pairs": repeated_pairs(load_dataset(ds, tie_rule=tie_rule))}
        for stage in ("valid", "test"):
            flags = target_repeats(split, stage)
            row[f"{stage}_targets"] = len(flags)
            row[f"{stage}_repeat"] = int(flags.sum())
            row[f"{stage}_repeat_pct"] = 100.0 * flags.mean() if len(flags) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def per_user(specs) -> pd.DataFrame:
    """Long per-user test metrics of cached runs (``tables.per_user``'s columns) plus ``repeat``
    (the user's test target is in their history) and the run's ``split`` and ``tie_rule``."""
    frames = []
    for spec in specs:
        result = compute.run(spec, progress=False)
        pu = result["per_user"][compute.headline_selection(result)]
        split = _split_of(spec)
        flags = dict(zip(split.eval_users("test").tolist(), target_repeats(split, "test")))
        users = np.asarray(pu["test_users"], np.int64)
        frame = pd.DataFrame({"user": users, **per_user_metrics(np.asarray(pu["test_ranks"]))})
        frame["repeat"] = [flags[u] for u in users.tolist()]
        frame["dataset"], frame["model"], frame["seed"] = spec.dataset, spec.model, spec.seed
        frame["split"], frame["tie_rule"], frame["key"] = spec.split, spec.tie_rule, spec.key
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _in_group(users: pd.DataFrame, group: str) -> pd.DataFrame:
    if group == "all":
        return users
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    return users[users["repeat"] == (group == "repeat")]


def breakdown(users: pd.DataFrame) -> pd.DataFrame:
    """Per run (key): users and metrics over all, repeat and novel test targets (NaN where a
    group is empty)."""
    rows = []
    for key, part in users.groupby("key", sort=False):
        first = part.iloc[0]
        row = {c: first[c] for c in ("dataset", "model", "seed", "split", "tie_rule")}
        row["key"] = key
        for group in GROUPS:
            sub = _in_group(part, group)
            row[f"{group} users"] = len(sub)
            for m in METRICS:
                row[f"{m} {group}"] = float(sub[m].mean()) if len(sub) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def breakdown_table(per_run: pd.DataFrame, settings: str | None = None) -> pd.DataFrame:
    """:func:`breakdown`'s rows averaged over seeds per (data set, model[, tie rule]), with
    ``settings`` as a column (e.g. "default", "tuned", "shuffled ties")."""
    by = ["dataset", "model", "split", "tie_kind"]
    per_run = per_run.assign(tie_kind=[r.split(":")[0] for r in per_run["tie_rule"]])
    cols = [f"{m} {g}" for g in GROUPS for m in METRICS]
    g = per_run.groupby(by, sort=False)
    sds = g[[f"hr@50 {grp}" for grp in GROUPS]].std(ddof=1).add_suffix(" sd")
    out = g[cols].mean().join(sds).join(g[[f"{grp} users" for grp in GROUPS]].first()).join(g.size().rename("seeds"))
    out = out.reset_index().rename(columns={"tie_kind": "ties"})
    if settings is not None:
        out.insert(2, "settings", settings)
    return out


def rq1_answer(delta: float, p: float, alpha: float = ALPHA) -> str:
    """RQ1's answer from AttRec's difference to the strongest baseline and its p: better or worse
    where p < alpha, else no significant difference."""
    if not stats.significant(p, alpha):
        return TIED
    return BETTER if delta > 0 else WORSE


def rq1(df: pd.DataFrame, users: pd.DataFrame, baselines, group: str = "all") -> pd.DataFrame:
    """Per data set of ``df`` (run rows of one split): the strongest baseline (best mean
    validation HR@50 of ``baselines``), and AttRec against it on the ``group`` test targets."""
    rows = []
    for ds, part in df.groupby("dataset", sort=False):
        if "attrec" not in set(part["model"]) or not set(part["model"]) & set(baselines):
            continue
        best, _ = tables.strongest_baseline(part, baselines)
        sub = _in_group(users[(users["dataset"] == ds) & users["key"].isin(part["key"])], group)
        if sub["user"].nunique() < 2:
            continue
        res = stats.compare_users(sub, "attrec", best)
        hr, mrr = res["hr@50"], res["mrr"]
        rows.append({"dataset": ds, "targets": group, "best baseline": best, "users": hr["users"],
                     "AttRec HR@50": hr["mean a"], "baseline HR@50": hr["mean b"], "ΔHR@50": hr["delta"],
                     "CI low": hr["ci low"], "CI high": hr["ci high"], "p (HR@50)": hr["p"],
                     "ΔMRR": mrr["delta"], "p (MRR)": mrr["p"], "answer": rq1_answer(hr["delta"], hr["p"])})
    return pd.DataFrame(rows)


def ordering(a: pd.DataFrame, b: pd.DataFrame, label_a: str, label_b: str) -> tuple:
    """``(table, taus)``: per data set present in both, each model's mean test HR@50 and its rank
    under ``a`` and ``b`` (run rows of two splits), and Kendall's tau (with its p) between the
    two orders."""
    tables_, taus = [], []
    for ds in [d for d in dict.fromkeys(a["dataset"]) if d in set(b["dataset"])]:
        ha = a[a["dataset"] == ds].groupby("model", sort=False)["hr@50"].mean()
        hb = b[b["dataset"] == ds].groupby("model", sort=False)["hr@50"].mean()
        common = [m for m in ha.index if m in hb.index]
        t = pd.DataFrame({"dataset": ds, "model": common, f"HR@50 {label_a}": ha[common].to_numpy(),
                          f"HR@50 {label_b}": hb[common].to_numpy()})
        t[f"rank {label_a}"] = t[f"HR@50 {label_a}"].rank(ascending=False, method="min").astype(int)
        t[f"rank {label_b}"] = t[f"HR@50 {label_b}"].rank(ascending=False, method="min").astype(int)
        tau = scipy_stats.kendalltau(t[f"HR@50 {label_a}"], t[f"HR@50 {label_b}"])
        taus.append({"dataset": ds, "models": len(common), "kendall tau": float(tau.statistic),
                     "p": float(tau.pvalue)})
        tables_.append(t.sort_values(f"rank {label_a}", kind="stable"))
    return (pd.concat(tables_, ignore_index=True) if tables_ else pd.DataFrame()), pd.DataFrame(taus)


def depends(reference: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Per data set in both RQ1 tables (:func:`rq1`): the two answers and whether they differ
    (the rule of the verdict rows: RQ1 "depends" on what changed where its answer changes)."""
    ref = reference.set_index("dataset")
    oth = other.set_index("dataset")
    rows = []
    for ds in [d for d in ref.index if d in oth.index]:
        rows.append({"dataset": ds, "answer before": ref.loc[ds, "answer"], "answer after": oth.loc[ds, "answer"],
                     "best baseline before": ref.loc[ds, "best baseline"],
                     "best baseline after": oth.loc[ds, "best baseline"],
                     "changes": ref.loc[ds, "answer"] != oth.loc[ds, "answer"]})
    return pd.DataFrame(rows)


def verdict_row(question: str, rule: str, change: pd.DataFrame, what: str, labels: dict | None = None) -> dict:
    """One verdict row from :func:`depends`: outcome "yes (on: ...)" where RQ1's answer changes
    on some data set, "no" where it changes on none, "no evidence" without data sets."""
    label = (labels or {}).get
    parts = [f"{r['dataset']}: {r['answer before']} ({label(r['best baseline before'], r['best baseline before'])}) "
             f"-> {r['answer after']} ({label(r['best baseline after'], r['best baseline after'])}) {what}"
             for r in change.to_dict("records")]
    changed = [r["dataset"] for r in change.to_dict("records") if r["changes"]]
    if change.empty:
        outcome = "no evidence"
    elif changed:
        outcome = f"yes (on: {', '.join(changed)})"
    else:
        outcome = "no"
    return {"claim": question, "rule": rule, "evidence": "; ".join(parts), "outcome": outcome,
            "source": "beyond the paper"}


RULE = (f"RQ1's answer per data set: AttRec against the baseline with the best mean validation HR@50, "
        f"two-level bootstrap over users and seeds of test HR@50, two-sided, p < {ALPHA}: 'AttRec better', "
        "'baseline better' or 'no significant difference'; 'yes' on a data set where the answer {what} differs "
        "from the answer under Table 2's protocol (same runs or same seeds)")


def split_label(split: str) -> str:
    """A reader's name of a split."""
    if split == LEAVE_LAST_OUT:
        return "leave-last-out"
    if split.startswith("global_time"):
        return f"global timeline (cut at the {float(split.split(':')[1]):.0%} quantile of time)"
    return split.replace("_", " ")


def table2_groups(prof) -> list:
    """``(settings, specs)`` of the Table 2 runs the breakdown covers: default settings, tuned
    rows, and the tie-order study's shuffled runs (its stable runs are Table 2's own)."""
    groups = [("default", decisions.table2_specs(prof, profiles.available_models())),
              ("tuned", decisions.tuned_table2_specs(prof)),
              ("shuffled ties", decisions.tie_order_specs(prof, "shuffled"))]
    return [(name, specs) for name, specs in groups if specs]


# --- the profile's views (notebook 10) -----------------------------------------------------------

def _baselines(df: pd.DataFrame) -> list:
    return [m for m in dict.fromkeys(df["model"]) if m != "attrec"]


def breakdown_of(prof) -> pd.DataFrame:
    """:func:`breakdown_table` of every Table 2 group (:func:`table2_groups`), one frame."""
    frames = [breakdown_table(breakdown(per_user(specs)), name) for name, specs in table2_groups(prof)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def rq1_runs(specs) -> tuple:
    """``(run rows, per-user frame)`` of RQ1's runs ``specs`` (empty frames where none)."""
    if not specs:
        return pd.DataFrame(columns=["dataset", "model", "seed", "key", "hr@50", "valid_hr@50"]), pd.DataFrame()
    return grid.run_grid(specs, progress=False), per_user(specs)


def rq1_by_targets(df: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """:func:`rq1` on all and on the novel test targets of the same runs, one frame."""
    if df.empty:
        return pd.DataFrame()
    return pd.concat([rq1(df, users, _baselines(df), group) for group in ("all", "novel")], ignore_index=True)


def seed_table(df: pd.DataFrame, split: str, labels: dict | None = None) -> pd.DataFrame:
    """Per (data set, model): mean and sd over seeds of test HR@50 and MRR and the validation
    HR@50 the choices read, under ``split``."""
    if df.empty:
        return pd.DataFrame()
    g = df.groupby(["dataset", "model"], sort=False)
    out = g[["hr@50", "mrr", "valid_hr@50"]].mean().join(g["hr@50"].std(ddof=1).rename("hr@50 sd"))
    out = out.join(g.size().rename("seeds")).reset_index()
    out.insert(1, "split", split_label(split))
    if labels:
        out["model"] = out["model"].map(lambda m: labels.get(m, m))
    return out


def compare_answers(reference: pd.DataFrame, others) -> list:
    """``[(depends frame, what)]`` of RQ1's reference answers against each ``(rq1 frame, what)``."""
    return [(depends(reference, frame), what) for frame, what in others if not frame.empty and not reference.empty]


def verdict_from(question: str, comparisons, labels: dict | None = None) -> dict:
    """One verdict row over several views (:func:`compare_answers`): "yes (on: ...)" where RQ1's
    answer changes on a data set in any of them, "no" where it changes in none."""
    rows = [verdict_row(question, RULE.format(what=what), change, what, labels) for change, what in comparisons]
    rule = RULE.format(what=" or ".join(what for _, what in comparisons) if comparisons else "under the other protocol")
    if not rows:
        return {"claim": question, "rule": rule, "test and metric": "", "evidence": "no runs", "outcome": "no evidence",
                "source": "beyond the paper"}
    changed = sorted({ds for change, _ in comparisons for ds in change.loc[change["changes"], "dataset"]})
    outcome = f"yes (on: {', '.join(changed)})" if changed else "no"
    return {"claim": question, "rule": rule,
            "test and metric": "two-level bootstrap over users and seeds, test HR@50 (MRR beside)",
            "evidence": "; ".join(r["evidence"] for r in rows), "outcome": outcome, "source": "beyond the paper"}


def _pct(n: int, d: int) -> str:
    return f"{n} of {d} ({100.0 * n / d:.1f} %)" if d else "none"


def findings(share: pd.DataFrame, per_model: pd.DataFrame, by_targets: pd.DataFrame, verdicts, taus: pd.DataFrame,
             labels: dict | None = None, timeline: pd.DataFrame | None = None) -> str:
    """The paragraph notebook 10 opens with, written from its tables."""
    def label(model):
        return (labels or {}).get(model) or model_name(model)

    out = []
    rep = share[share["test_repeat"] > 0]
    none = share[share["repeated_pairs"] == 0]["dataset"].map(dataset_name).tolist()
    for r in rep.to_dict("records"):
        out.append(f"On {dataset_name(r['dataset'])}, {_pct(r['test_repeat'], r['test_targets'])} test targets and "
                   f"{_pct(r['valid_repeat'], r['valid_targets'])} validation targets are items the user had "
                   "already consumed: with the history excluded they are the one history item left to rank.")
    if none:
        out.append(f"{', '.join(none)} have no repeated (user, item) pair, so there every target is novel.")
    for ds in rep["dataset"]:
        part = per_model[(per_model["dataset"] == ds)]
        if part.empty or part["hr@50 repeat"].isna().all():
            continue
        out.append(f"There each model's HR@50 (RQ1's settings, mean over seeds) is {part['hr@50 repeat'].min():.4f}-"
                   f"{part['hr@50 repeat'].max():.4f} on repeat targets and {part['hr@50 novel'].min():.4f}-"
                   f"{part['hr@50 novel'].max():.4f} on novel ones.")
    for ds, part in by_targets.groupby("dataset", sort=False):
        if ds not in set(rep["dataset"]):
            continue
        rows = {r["targets"]: r for r in part.to_dict("records")}
        text = [f"{g} targets: AttRec {r['AttRec HR@50']:.4f} vs {label(r['best baseline'])} "
                f"{r['baseline HR@50']:.4f} (Δ {r['ΔHR@50']:+.4f}, {p_text(r['p (HR@50)'])}): {r['answer']}"
                for g, r in rows.items()]
        out.append(f"RQ1 on {dataset_name(ds)} — " + "; ".join(text) + ".")
    for v in verdicts:
        outcome = readable_names(v['outcome'])
        out.append(f"**{v['claim']}** {outcome[:1].upper() + outcome[1:]}: {dataset_names(v['evidence'])}.")
    for r in (timeline.to_dict("records") if timeline is not None else []):
        out.append(f"The global timeline of {dataset_name(r['dataset'])} (cut {r['cut (UTC)'][:10]}, {r['after_cut_pct']:.0f} % of "
                   f"interactions after it) trains {r['trained_users']} of {r['users']} users and evaluates "
                   f"{r['evaluated_users']}; under leave-last-out the median user's test time has "
                   f"{r['llo_future_share_median_pct']:.0f} % of the training interactions after it.")
    for r in taus.to_dict("records"):
        out.append(f"Kendall's tau between the model orders ({r['comparison']}) on {dataset_name(r['dataset'])}: "
                   f"{r['kendall tau']:.2f} over {r['models']} models.")
    return "**Findings.** " + (" ".join(out) if out else "No data set of this profile has runs for this notebook.")


def same_seeds(df: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``df`` for the (data set, model, seed) that ``like`` has: the runs under Table
    2's protocol that a rerun under another split repeats, for a like comparison (the same models,
    and the same seeds; a deterministic model's one run has the tuning's seed in both)."""
    keep = set(zip(like["dataset"], like["model"], like["seed"]))
    return df[[k in keep for k in zip(df["dataset"], df["model"], df["seed"])]]


def _rq1_all(df: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    return rq1(df, users, _baselines(df), "all") if not df.empty else pd.DataFrame()


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(model=df["model"].map(lambda m: profiles.MODEL_LABELS.get(m, m)))


QUESTIONS = ("Does RQ1's answer depend on repeat targets?",
             "Does RQ1's answer depend on the split (leave-last-out or one global timeline)?")


def views(prof) -> dict:
    """Everything notebook 10 shows, from the cache (runs missing from it are computed): the repeat
    share, the per-model breakdown, RQ1 by targets, the reruns under the first-occurrence and
    global-timeline splits with RQ1 under Table 2's protocol on the same seeds, the model orders
    with Kendall's tau, and the two verdict rows."""
    out = {"share": repeat_share(prof.table2_datasets), "per_model": breakdown_of(prof)}
    rq1_specs = decisions.rq1_specs(prof)
    rq1_df, rq1_users = rq1_runs(rq1_specs)
    out["rq1_breakdown"] = breakdown_table(breakdown(rq1_users), "RQ1") if len(rq1_users) else pd.DataFrame()
    out["by_targets"] = by_targets = rq1_by_targets(rq1_df, rq1_users)
    runs = {"first occurrence": rq1_runs(split_specs.no_repeat_specs(prof)),
            "global timeline": rq1_runs(split_specs.timeline_specs(prof))}
    out["runs"] = {name: df for name, (df, _) in runs.items()}
    out["reference"] = {name: same_seeds(rq1_df, df) for name, (df, _) in runs.items()}
    out["rq1"] = {name: (_rq1_all(same_seeds(rq1_df, df), rq1_users), _rq1_all(df, users))
                  for name, (df, users) in runs.items()}
    with_repeats = set(out["share"].loc[out["share"]["test_repeat"] > 0, "dataset"])
    every = by_targets[by_targets["targets"] == "all"] if len(by_targets) else by_targets
    novel = by_targets[by_targets["targets"] == "novel"] if len(by_targets) else by_targets
    every = every[every["dataset"].isin(with_repeats)] if len(every) else every
    ref_nr, nr = out["rq1"]["first occurrence"]
    ref_tl, tl = out["rq1"]["global timeline"]
    out["verdicts"] = [
        verdict_from(QUESTIONS[0], compare_answers(every, [(novel, "on novel test targets only")])
                     + compare_answers(ref_nr, [(nr, "under the first-occurrence split")]), profiles.MODEL_LABELS),
        verdict_from(QUESTIONS[1], compare_answers(ref_tl, [(tl, "on the global timeline")]), profiles.MODEL_LABELS)]
    orders, taus = [], []
    for name, (df, _) in runs.items():
        if df.empty:
            continue
        table, tau = ordering(_labelled(same_seeds(rq1_df, df)), _labelled(df), "leave-last-out", name)
        orders.append((name, table))
        taus.append(tau.assign(comparison=f"leave-last-out vs {name}"))
    out["orders"] = orders
    out["timeline"] = timeline_who(prof)
    out["taus"] = (pd.concat(taus, ignore_index=True) if taus
                   else pd.DataFrame(columns=["dataset", "models", "kendall tau", "p", "comparison"]))
    return out


def timeline_who(prof) -> pd.DataFrame:
    """Per global-timeline data set of the profile: the cut, who is trained and evaluated
    (``data.splits.global_time_summary``)."""
    rows = []
    for ds in [d for d in split_specs.TIMELINE_DATASETS if d in prof.table2_datasets]:
        info = global_time_summary(load_dataset(ds), sequence_timestamps(ds), GLOBAL_TIME_QUANTILE)
        rows.append({"dataset": ds, "cut (UTC)": str(pd.Timestamp(info.pop("cut"), unit="s")), **info})
    return pd.DataFrame(rows)


def verdict_rows(prof) -> list:
    """The two verdict rows of notebook 10 (:data:`QUESTIONS`), for the verdict notebook."""
    return views(prof)["verdicts"]


def readme_paragraph(prof) -> str:
    """The README's paragraph on repeat targets and the global timeline (notebook 10's findings)."""
    v = views(prof)
    return findings(v["share"], v["rq1_breakdown"], v["by_targets"], v["verdicts"], v["taus"], profiles.MODEL_LABELS,
                    v["timeline"])
