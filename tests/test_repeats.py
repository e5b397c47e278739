"""The repeat/novel breakdown, RQ1's answer, the ordering under two splits and the verdict rule,
on hand-made per-user frames (nothing trained)."""
import numpy as np
import pandas as pd
import pytest

from attrec_lib.analysis import repeats


def users_frame(rows):
    """rows: (key, model, seed, user, rank, repeat)."""
    out = []
    for key, model, seed, user, rank, rep in rows:
        out.append({"key": key, "dataset": "toy", "model": model, "seed": seed, "split": "leave_last_out",
                    "tie_rule": "stable", "user": user, "hr@50": float(rank <= 50), "mrr": 1.0 / rank,
                    "repeat": rep})
    return pd.DataFrame(out)


def test_breakdown_splits_each_run_into_repeat_and_novel_targets():
    users = users_frame([("k1", "attrec", 0, 0, 1, True), ("k1", "attrec", 0, 1, 100, False),
                         ("k1", "attrec", 0, 2, 10, False), ("k2", "attrec", 1, 0, 2, True),
                         ("k2", "attrec", 1, 1, 40, False), ("k2", "attrec", 1, 2, 80, False)])
    per_run = repeats.breakdown(users)
    k1 = per_run.set_index("key").loc["k1"]
    assert (k1["all users"], k1["repeat users"], k1["novel users"]) == (3, 1, 2)
    assert k1["hr@50 all"] == pytest.approx(2 / 3) and k1["hr@50 repeat"] == 1.0 and k1["hr@50 novel"] == 0.5
    assert k1["mrr repeat"] == 1.0 and k1["mrr novel"] == pytest.approx((0.01 + 0.1) / 2)
    table = repeats.breakdown_table(per_run, "default")
    row = table.iloc[0]
    assert row["seeds"] == 2 and row["settings"] == "default"
    assert row["hr@50 novel"] == pytest.approx((0.5 + 0.5) / 2)
    assert row["mrr repeat"] == pytest.approx((1.0 + 0.5) / 2)


def test_a_group_without_users_is_nan_not_zero():
    per_run = repeats.breakdown(users_frame([("k", "pop", 0, 0, 3, False), ("k", "pop", 0, 1, 70, False)]))
    assert per_run.loc[0, "repeat users"] == 0 and np.isnan(per_run.loc[0, "hr@50 repeat"])
    assert per_run.loc[0, "hr@50 novel"] == per_run.loc[0, "hr@50 all"] == 0.5


@pytest.mark.parametrize("delta, p, answer", [(0.02, 0.01, repeats.BETTER), (-0.02, 0.01, repeats.WORSE),
                                              (0.02, 0.2, repeats.TIED), (-0.02, float("nan"), repeats.TIED)])
def test_rq1_answer_needs_significance(delta, p, answer):
    assert repeats.rq1_answer(delta, p) == answer


def _runs(hr_valid, models=("attrec", "ease", "pop")):
    return pd.DataFrame([{"dataset": "toy", "model": m, "seed": 0, "key": f"k-{m}", "valid_hr@50": v, "hr@50": v}
                         for m, v in zip(models, hr_valid)])


def test_rq1_chooses_the_baseline_on_validation_and_tests_only_the_group():
    rng = np.random.default_rng(0)
    n = 300
    rep = np.arange(n) < 100
    # EASE wins every repeat target, ties AttRec on the novel ones
    attrec_rank = np.where(rep, 60, np.where(rng.random(n) < 0.3, 5, 500))
    ease_rank = np.where(rep, 1, attrec_rank)
    pop_rank = np.full(n, 40)  # best on test, but not chosen: its validation HR@50 is lowest
    rows = [(f"k-{m}", m, 0, u, int(r[u]), bool(rep[u])) for m, r in
            (("attrec", attrec_rank), ("ease", ease_rank), ("pop", pop_rank)) for u in range(n)]
    users = users_frame(rows)
    df = _runs([0.3, 0.4, 0.1])
    every = repeats.rq1(df, users, ["ease", "pop"], "all").iloc[0]
    novel = repeats.rq1(df, users, ["ease", "pop"], "novel").iloc[0]
    assert every["best baseline"] == novel["best baseline"] == "ease"
    assert every["users"] == n and novel["users"] == n - 100
    assert every["answer"] == repeats.WORSE and every["ΔHR@50"] == pytest.approx(-100 / n)
    assert novel["answer"] == repeats.TIED and novel["ΔHR@50"] == 0.0
    change = repeats.depends(repeats.rq1(df, users, ["ease", "pop"], "all"),
                             repeats.rq1(df, users, ["ease", "pop"], "novel"))
    assert change["changes"].tolist() == [True]
    row = repeats.verdict_row("Does RQ1's answer depend on repeat targets?", repeats.RULE, change, "on novel targets")
    assert row["outcome"] == "yes (on: toy)" and "baseline better (ease) -> no significant difference" in row["evidence"]
    same = repeats.verdict_row("q", "r", repeats.depends(repeats.rq1(df, users, ["ease"], "all"),
                                                         repeats.rq1(df, users, ["ease"], "all")), "")
    assert same["outcome"] == "no"
    assert repeats.verdict_row("q", "r", change.iloc[:0], "")["outcome"] == "no evidence"


def test_ordering_ranks_models_under_both_splits_with_kendalls_tau():
    a = pd.DataFrame({"dataset": "toy", "model": ["m1", "m2", "m3", "m4"], "hr@50": [0.4, 0.3, 0.2, 0.1]})
    same = a.assign(**{"hr@50": [0.5, 0.35, 0.3, 0.0]})
    swapped = a.assign(**{"hr@50": [0.1, 0.2, 0.3, 0.4]})
    table, taus = repeats.ordering(a, same, "x", "y")
    assert taus.loc[0, "kendall tau"] == pytest.approx(1.0) and taus.loc[0, "models"] == 4
    assert table["rank y"].tolist() == [1, 2, 3, 4]
    _, taus = repeats.ordering(a, swapped, "x", "y")
    assert taus.loc[0, "kendall tau"] == pytest.approx(-1.0)
    # a model missing under one split is left out of both orders
    _, taus = repeats.ordering(a, swapped.iloc[:3], "x", "y")
    assert taus.loc[0, "models"] == 3


def _answers(**by_dataset):
    return pd.DataFrame([{"dataset": ds, "answer": a, "best baseline": "ease"} for ds, a in by_dataset.items()])


def test_verdict_from_says_yes_where_any_view_changes_the_answer():
    ref = _answers(a=repeats.WORSE, b=repeats.TIED)
    same = repeats.compare_answers(ref, [(_answers(a=repeats.WORSE, b=repeats.TIED), "on novel targets")])
    moved = repeats.compare_answers(ref, [(_answers(a=repeats.TIED), "under the first-occurrence split")])
    assert repeats.verdict_from("q", same)["outcome"] == "no"
    row = repeats.verdict_from("q", same + moved)
    assert row["outcome"] == "yes (on: a)"
    assert "on novel targets or under the first-occurrence split differs" in row["rule"]
    assert repeats.verdict_from("q", [])["outcome"] == "no evidence"
    # a view without runs (an empty frame) is left out, not read as "no change"
    assert repeats.compare_answers(ref, [(pd.DataFrame(), "x")]) == []


def test_the_reference_runs_are_the_ones_the_rerun_repeats():
    df = pd.DataFrame({"dataset": ["a", "a", "a", "a", "b"], "model": ["attrec", "attrec", "sasrec", "ease", "attrec"],
                       "seed": [0, 1, 0, 0, 0]})
    like = pd.DataFrame({"dataset": ["a", "a"], "model": ["attrec", "ease"], "seed": [0, 0]})
    assert repeats.same_seeds(df, like).index.tolist() == [0, 3]


def test_findings_name_sets_and_models_as_a_reader_sees_them_and_follow_the_p_value():
    share = pd.DataFrame([{"dataset": "lastfm", "test_repeat": 30, "test_targets": 100, "valid_repeat": 20,
                           "valid_targets": 100, "repeated_pairs": 5},
                          {"dataset": "ml-100k", "test_repeat": 0, "test_targets": 100, "valid_repeat": 0,
                           "valid_targets": 100, "repeated_pairs": 0}])
    per_model = pd.DataFrame(columns=["dataset", "hr@50 repeat", "hr@50 novel"])
    by_targets = pd.DataFrame([{"dataset": "lastfm", "targets": "novel", "AttRec HR@50": 0.2, "best baseline": "ease",
                                "baseline HR@50": 0.25, "ΔHR@50": -0.05, "p (HR@50)": 0.0031,
                                "answer": "baseline better"}])
    verdicts = [{"claim": "Q", "outcome": "yes (on: lastfm)", "evidence": "lastfm: a -> b"}]
    taus = pd.DataFrame(columns=["comparison", "dataset", "kendall tau", "models"])
    text = repeats.findings(share, per_model, by_targets, verdicts, taus)
    assert "On LastFM, 30 of 100 (30.0 %) test targets" in text and "ML-100K have no repeated" in text
    assert "RQ1 on LastFM — novel targets: AttRec 0.2000 vs EASE 0.2500 (Δ -0.0500, p = 0.003): baseline better." in text
    assert "**Q** Yes (on: LastFM): LastFM: a -> b." in text
    by_targets.loc[0, "p (HR@50)"] = 2e-9
    assert "(Δ -0.0500, p < 0.001)" in repeats.findings(share, per_model, by_targets, verdicts, taus)
