"""The findings paragraphs are written from the numbers: each test changes a number and checks
that the sentence follows it."""
import numpy as np
import pandas as pd
import pytest

from attrec_lib.analysis import findings


def runs(column, values_by_setting, dataset="ml-100k"):
    """Runs whose validation HR@50 equals their test HR@50 (tests change one to tell them apart)."""
    rows = [{"dataset": dataset, column: setting, "seed": s, "hr@50": v, "valid_hr@50": v, "model": "attrec"}
            for setting, values in values_by_setting.items() for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_aggregation_names_the_best_setting_and_the_gap_to_mean():
    df = runs("cfg.aggregation", {"mean": [0.50, 0.50], "sum": [0.40, 0.40], "max": [0.53, 0.53], "min": [0.30, 0.30]})
    text = findings.aggregation(df)
    assert "On ML-100K, mean aggregation gives HR@50 0.5000" in text
    assert "-0.0300 from the best (max)" in text and "beyond the seed sd" in text
    df.loc[df["cfg.aggregation"] == "max", "hr@50"] = 0.45  # worse on test only: still chosen
    assert "+0.0500 from the best (max)" in findings.aggregation(df)
    df.loc[df["cfg.aggregation"] == "max", "valid_hr@50"] = 0.45
    assert "the best here, by +0.0500" in findings.aggregation(df)


def test_a_frame_without_validation_is_refused_not_chosen_on_test():
    df = runs("cfg.aggregation", {"mean": [0.50], "max": [0.53]}).drop(columns="valid_hr@50")
    with pytest.raises(ValueError, match="valid_hr@50"):
        findings.aggregation(df)


def test_self_attention_gain_within_the_seed_spread_is_said_so():
    df = runs("cfg.self_attention", {True: [0.48, 0.52], False: [0.51, 0.51]})
    text = findings.self_attention(df)
    assert "with self-attention gives HR@50 0.5000" in text and "without 0.5100" in text
    assert "-0.0100 from the best (without), within the seed sd (0.0283)" in text


def test_omega_and_length_report_best_values_and_the_two_ends():
    omega = runs("cfg.omega", {0.0: [0.45], 0.2: [0.50], 1.0: [0.30]})
    seq_len = runs("cfg.seq_len", {1: [0.40], 5: [0.47]})
    text = findings.omega_and_length(omega, seq_len)
    assert "On ML-100K the best ω on validation is 0.2 (test HR@50 0.5000" in text
    assert "short-term alone beats long-term alone (0.4500 vs 0.3000)" in text
    assert "best L on validation is 5" in text
    omega.loc[omega["cfg.omega"] == 1.0, "hr@50"] = 0.6  # best on test, not on validation: not chosen
    assert "best ω on validation is 0.2" in findings.omega_and_length(omega, seq_len)
    assert "long-term alone beats short-term alone" in findings.omega_and_length(omega, seq_len)
    omega.loc[omega["cfg.omega"] == 1.0, "valid_hr@50"] = 0.9
    assert "best ω on validation is 1 (test HR@50 0.6000" in findings.omega_and_length(omega, seq_len)


def test_latent_dimension_ranks_attrec_at_each_d():
    rows = [{"dataset": "ml-100k", "model": m, "cfg.d": d, "seed": 0, "hr@50": v, "valid_hr@50": v}
            for m, d, v in [("attrec", 10, 0.5), ("caser", 10, 0.4), ("attrec", 50, 0.45), ("caser", 50, 0.48),
                            ("pop", np.nan, 0.9)]]
    text = findings.latent_dimension(pd.DataFrame(rows), {"caser": "Caser", "attrec": "AttRec"})
    assert text.startswith("**Findings.** On ML-100K (2 models) the best model is d=10: AttRec, d=50: Caser")
    assert "d=10: AttRec, d=50: Caser" in text and "AttRec ranks 1, 2 at d = 10, 50" in text
    assert "pop" not in text.lower()  # Pop has no d and is not ranked


def test_column_share_is_one_for_column_only_maps_and_zero_for_row_only_maps():
    col_only = np.tile([0.1, 0.2, 0.3, 0.4], (4, 1))
    row_only = np.tile([[0.1], [0.2], [0.3], [0.4]], (1, 4))
    assert findings.column_share(col_only) == pytest.approx(1.0)
    assert findings.column_share(row_only) == pytest.approx(0.0, abs=0.2)
    assert findings.column_share(row_only) < findings.column_share(col_only)


def test_attention_quotes_the_paper_and_names_the_most_attended_position():
    w = np.array([[0.0, 0.1, 0.9], [0.2, 0.0, 0.8], [0.7, 0.3, 0.0]])
    text = findings.attention({"ml-100k user 888": w})
    assert findings.FIGURE3_PAPER_READING in text
    assert "the item at t gets the most attention on average (0.850" in text
    assert "Ours: ML-100K user 888: column (attended item) explains" in text
    assert "(ML-100K user 888: " in findings.attention_conclusion({"ml-100k user 888": w})
    assert "holds for 1 of the 1 users" in findings.attention_conclusion({"u": np.tile([0.1, 0.3, 0.6], (3, 1))})


def _claims(outcomes, sources=None):
    n = len(outcomes)
    return pd.DataFrame({"claim": list("ABCDEFG"[:n]), "outcome": outcomes, "rule": [f"r{i}" for i in range(n)],
                         "test and metric": "t", "evidence": "e",
                         "source": sources or ["paper"] * n})


def test_verdict_counts_the_claims_by_outcome_kind():
    claims = _claims(["holds", "no (fail: x)", "partly (pass: x; fail: y)", "no evidence (within seed noise)",
                      "reproducible under the paper's protocol"])
    text = findings.verdict(claims)
    assert "Of the paper's 4 claims tested here: 1 holds, 1 partly, 1 no, 1 no evidence." in text
    assert "Holding: A." in text and "Partly: C." in text and "Not holding: B." in text
    assert "No evidence either way (within seed noise): D." in text
    assert "*E*: reproducible under the paper's protocol (not counted as a claim)." in text
    conclusion = findings.verdict_conclusion(claims)
    assert "1 of the paper's 4 claims tested here hold" in conclusion and "*B*: no (fail: x) (rule: r1)" in conclusion
    assert "*A*" not in conclusion and "*E*" not in conclusion


def test_a_question_beyond_the_paper_is_not_counted_as_a_paper_claim():
    claims = _claims(["holds", "no", "no"], ["paper", "paper", "beyond the paper"])
    text = findings.verdict(claims)
    assert "Of the paper's 2 claims tested here: 1 holds, 1 no" in text and "Not holding: B." in text
    assert "Beyond the paper: *C*: no." in text
    conclusion = findings.verdict_conclusion(claims)
    assert "1 of the paper's 2 claims" in conclusion and "*C* (beyond the paper): no (rule: r2)" in conclusion


def test_conclusion_names_rule_test_and_evidence():
    row = _claims(["partly (pass: x; fail: y)"]).iloc[0].to_dict()
    text = findings.conclusion([row])
    assert text == "**Conclusion.** *A*: **partly (pass: x; fail: y)**. Rule: r0. Test: t. Evidence: e."


def test_the_verdicts_set_labels_are_written_with_display_names_in_the_prose():
    outcome = "partly (pass: ml-1m-first2999; fail: lastfm L=3; no evidence: ml-100k d=10)"
    row = _claims([outcome]).iloc[0].to_dict()
    row["evidence"] = "lastfm L=3: with self-attention 0.1588 vs without 0.2009 | ml-100k: best L=5"
    text = findings.conclusion([row])
    assert ("**partly (pass: ML-1M stand-in (users 1-2999); fail: LastFM at L = 3; no evidence: ML-100K at "
            "d = 10)**") in text
    assert "Evidence: LastFM L=3: with self-attention 0.1588 vs without 0.2009 | ML-100K: best L=5." in text
    claims = _claims(["holds", outcome, "yes (on: lastfm)"], ["paper", "paper", "beyond the paper"])
    assert "Beyond the paper: *C*: yes (on: LastFM)." in findings.verdict(claims)
    conclusion = findings.verdict_conclusion(claims)
    assert "*B*: partly (pass: ML-1M stand-in (users 1-2999); fail: LastFM at L = 3;" in conclusion
    assert "lastfm" not in conclusion and "ml-1m-first2999" not in conclusion


def test_datasets_lists_exact_and_different_counts():
    table = pd.DataFrame({"dataset": ["ml-100k", "lastfm", "ml-1m"], "users": [943, 936, np.nan],
                          "paper_users": [943, 951, 6040], "diff_users": [0, -15, np.nan], "diff_items": [0, -11, np.nan],
                          "diff_interactions": [0, -2097, np.nan]})
    text = findings.datasets(table)
    assert "2 of the 3 data sets" in text and "equal to the paper's: ML-100K." in text
    assert "LastFM (-15 users, -11 items, -2097 interactions)" in text and "offline: 1 (ML-1M)" in text
    assert "ml-100k" not in text and "lastfm" not in text  # display names only, no slug
    conclusion = findings.datasets_conclusion(table.assign(paper_users=[943, np.nan, 6040]))
    assert "can run on ML-100K, LastFM; of these, LastFM are stand-ins" in conclusion


def test_comparison_names_the_paper_set_of_a_stand_in_and_a_light_sets_baselines():
    from attrec_lib.settings import paper_numbers
    df = pd.DataFrame({"dataset": ["ml-1m-first2999"] * 2, "model": ["attrec", "sknn"], "hr@50": [0.52, 0.47]})
    test = pd.DataFrame([{"dataset": "ml-1m-first2999", "best baseline": "sknn", "AttRec HR@50": 0.52,
                          "baseline HR@50": 0.47, "ΔHR@50": 0.05, "p (HR@50)": 0.001, "AttRec better (p<0.05)": True}])
    text = findings.comparison(df, test, {"sknn": "SKNN"}, light=("ml-1m-first2999",))
    paper = paper_numbers.table2_value("ml-1m", "attrec", "hr@50")
    assert f"On ML-1M stand-in (users 1-2999), AttRec reaches HR@50 0.5200 (paper on ML-1M, which this set " \
        f"stands in for: {paper:.4f}" in text
    assert "the strongest baseline here" in text and "is SKNN at 0.4700" in text and "(Wilcoxon p = 0.001)" in text
    assert "the strongest baseline here (of Pop and the simple ones: the learned baselines were not run" in text


def test_comparison_says_not_significant_when_the_test_says_so():
    df = pd.DataFrame({"dataset": ["ml-100k"] * 2, "model": ["attrec", "caser"], "hr@50": [0.49, 0.50]})
    test = pd.DataFrame([{"dataset": "ml-100k", "best baseline": "caser", "AttRec HR@50": 0.49, "baseline HR@50": 0.50,
                          "ΔHR@50": -0.01, "p (HR@50)": 0.4, "AttRec better (p<0.05)": False}])
    text = findings.comparison(df, test, {"caser": "Caser"})
    assert "(paper 0.5273, -0.0373)" in text and "Caser at 0.5000" in text
    assert "not significantly different from it (Wilcoxon p = 0.40)" in text
    test.loc[0, "p (HR@50)"] = 0.003
    assert "AttRec is significantly worse (Wilcoxon p = 0.003)" in findings.comparison(df, test)
    test.loc[0, "p (HR@50)"] = 6.8e-24
    assert "AttRec is significantly worse (Wilcoxon p < 0.001)" in findings.comparison(df, test)
    test.loc[0, "p (HR@50)"] = 0.0495  # below the level: never written "0.05"
    assert "significantly worse (Wilcoxon p = 0.050)" in findings.comparison(df, test)
    test.loc[0, "best baseline"] = "lstm_plus"  # no label given: the model registry's
    assert "the strongest baseline here is LSTM+ at 0.5000" in findings.comparison(df, test)
    assert findings.comparison(df, test).startswith("**Findings.** ")
    assert findings.comparison(df, test, heading="With every learned model tuned alike").startswith(
        "**With every learned model tuned alike.** On ML-100K, AttRec reaches")


def test_edge_choices_names_each_edge_and_what_was_done():
    choices = pd.DataFrame({"dataset": ["a", "b", "a", "b"], "model": ["EASE", "EASE", "BPRMF", "BPRMF"],
                            "edge": ["l2=489 is the largest value tried (range [1, 10000])", "-", "-",
                                     "train.lr=0.01 is the largest value tried (range [0.0001, 0.01])"]})
    text = findings.edge_choices(choices)
    assert "EASE on 1 of 2 data sets (a: l2=489" in text  # an unregistered name as it is
    named = findings.edge_choices(choices.assign(dataset=["lastfm", "ml-100k", "lastfm", "ml-100k"]))
    assert "EASE on 1 of 2 data sets (LastFM: l2=489" in named and "(ML-100K: train.lr=0.01" in named and "BPRMF on 1 of 2 data sets (b: train.lr=0.01" in text
    assert "EASE, BPRMF: not widened" in text
    widened = findings.edge_choices(choices, {"EASE": {"l2": (1.0, 1e4)}})
    assert "EASE's range was already widened (l2 from [1, 10000])" in widened and "BPRMF: not widened" in widened
    inside = choices.assign(edge="-")
    assert "every choice lies inside" in findings.edge_choices(inside)
    assert "EASE's range was widened (l2 from [1, 10000]) and it was retuned; its choice is now inside" in \
        findings.edge_choices(inside, {"EASE": {"l2": (1.0, 1e4)}})


def test_comparison_without_a_test_names_the_best_model_on_validation_not_on_test():
    df = pd.DataFrame({"dataset": ["ml-100k"] * 2, "model": ["pop", "sknn"], "hr@50": [0.60, 0.40],
                       "valid_hr@50": [0.30, 0.35]})
    text = findings.comparison(df, pd.DataFrame(), {"sknn": "SKNN"})
    assert "the best model on validation is SKNN (test HR@50 0.4000)" in text


def test_runtime_names_the_data_set_and_follows_the_times():
    t5 = pd.DataFrame([{"dataset": "ml-100k", "attrec s/epoch (ours)": 2.0, "caser s/epoch (ours)": 3.0,
                        "attrec s/epoch (paper GPU)": 0.1, "caser s/epoch (paper GPU)": 0.3, "device": "cpu"}])
    text = findings.runtime(t5)
    assert text == ("**Findings.** On ML-100K an epoch takes 2.00 s for AttRec and 3.00 s for Caser (1.50x); "
                    "the paper's GPU: 0.100 s and 0.300 s (3.00x) [cpu].")
    t5.loc[0, "caser s/epoch (ours)"] = 5.0
    assert "5.00 s for Caser (2.50x)" in findings.runtime(t5)
