"""verdict.py: every rule on constructed tests frames (each outcome), the Holm family, the
choices the gatherers make (read from validation metrics only, with ``grid.run_grid`` and
the paired comparison replaced), the runtime source, the omega tuning and the gap decomposition."""
import json
import types

import numpy as np
import pandas as pd
import pytest

from attrec_lib.engines import grid as grid_engine
from attrec_lib.runs import runspec
from attrec_lib.settings import paper_numbers
from attrec_lib.study import builders, decisions, profiles
from attrec_lib.analysis import verdict

TINY = profiles.profile("tiny")


@pytest.fixture
def grid(monkeypatch):
    """Make run_grid return the given DataFrame (or a function of the specs)."""
    def install(df):
        monkeypatch.setattr(grid_engine, "run_grid",
                            lambda specs, **kw: df(list(specs)) if callable(df) else df.copy())
    return install


def frame(dataset, column, settings, test, valid, model="attrec"):
    return pd.DataFrame({"dataset": dataset, column: settings, "hr@50": test, "valid_hr@50": valid,
                         "model": model, "protocol": "valid"})


def t(set_, delta, holm_p, a="attrec", b="caser", metric="hr@50", role="decides", **extra):
    """One row of a tests frame, already adjusted."""
    return {"claim": "c", "set": set_, "a": a, "b": b, "metric": metric, "mean a": 0.5, "mean b": 0.5 - delta,
            "delta": delta, "ci low": delta - 0.01, "ci high": delta + 0.01, "p": holm_p, "Holm p": holm_p,
            "alternative": "two-sided", "role": role, "note": "", **extra}


def tframe(*rows):
    return pd.DataFrame(list(rows))


# --- outcomes ---------------------------------------------------------------------------------

def test_combine_every_outcome():
    assert verdict.combine({"x": "pass", "y": "pass"}) == "holds"
    assert verdict.combine({"x": "pass", "y": "fail", "z": "no evidence"}) == "partly (pass: x; fail: y; no evidence: z)"
    assert verdict.combine({"x": "fail", "y": "no evidence"}) == "no (fail: x; no evidence: y)"
    assert verdict.combine({"x": "no evidence"}) == "no evidence (within seed noise)"
    assert verdict.combine({}) == "not tested"
    with pytest.raises(ValueError, match="pass, fail or no evidence"):
        verdict.combine({"x": "yes"})


def test_outcome_kind():
    kinds = [verdict.outcome_kind(o) for o in ("holds", "partly (pass: x; fail: y)", "no (fail: x)",
                                                "no evidence (within seed noise)", verdict.REPRODUCIBLE,
                                                f"not {verdict.REPRODUCIBLE} (outside the interval: MRR)", "not tested",
                                                "yes (on: lastfm)")]
    assert kinds == ["holds", "partly", "no", "no evidence", "protocol", "protocol", "not tested", "yes"]
    with pytest.raises(ValueError, match="unknown verdict outcome"):
        verdict.outcome_kind("maybe")


def test_set_outcome_needs_every_row_significant_and_one_opposite_row_fails():
    assert verdict.set_outcome(tframe(t("x", 0.1, 0.01), t("x", 0.1, 0.02, metric="mrr"))) == "pass"
    assert verdict.set_outcome(tframe(t("x", 0.1, 0.01), t("x", 0.1, 0.2, metric="mrr"))) == "no evidence"
    assert verdict.set_outcome(tframe(t("x", 0.1, 0.01), t("x", -0.1, 0.01, metric="mrr"))) == "fail"
    assert verdict.set_outcome(tframe(t("x", -0.1, 0.06))) == "no evidence"


def test_holm_family_is_the_deciding_tests_of_every_claim():
    tests = pd.DataFrame([{**t("x", 0.1, 0.01), "claim": "one"}, {**t("y", 0.1, 0.02), "claim": "two"},
                          {**t("z", 0.1, 0.001, role="reported"), "claim": "two"}]).drop(columns="Holm p")
    out = verdict.adjust(tests)
    assert out["Holm p"].tolist()[:2] == pytest.approx([0.02, 0.02]) and np.isnan(out["Holm p"].iloc[2])


# --- the rules, each outcome --------------------------------------------------------------------

def test_rule_comparison_outcomes_and_the_paper_margin():
    holds = tframe(t("a", 0.05, 0.01, **{"paper margin": 0.04}), t("a", 0.01, 0.01, metric="mrr"),
                        t("b", 0.05, 0.01, b="hrm"), t("b", 0.02, 0.03, b="hrm", metric="mrr"))
    outcome, evidence = verdict.rule_comparison(holds)
    assert outcome == "holds" and "(+0.0400) is inside the interval" in evidence
    partly = tframe(t("a", 0.05, 0.01), t("a", 0.01, 0.01, metric="mrr"), t("b", -0.05, 0.01, b="hrm"))
    assert verdict.rule_comparison(partly)[0] == "partly (pass: a; fail: b)"
    none = tframe(t("a", 0.01, 0.5, **{"paper margin": 0.04}), t("b", 0.01, 0.5))
    outcome, evidence = verdict.rule_comparison(none)
    assert outcome == "no evidence (within seed noise)" and "(+0.0400) is outside the interval" in evidence
    assert verdict.rule_comparison(tframe(t("a", -0.03, 0.001)))[0] == "no (fail: a)"
    # several candidates: one that AttRec does not beat keeps the set from passing
    two = tframe(t("a", 0.05, 0.01, b="hrm"), t("a", 0.01, 0.4, b="caser"))
    assert verdict.rule_comparison(two)[0] == "no evidence (within seed noise)"


def test_rule_comparison_on_a_light_set_a_win_does_not_count():
    light = tframe(t("a", 0.05, 0.01), verdict._note_row("c", "a", "light", "only simple baselines"))
    assert verdict.rule_comparison(light)[0] == "no evidence (within seed noise)"
    loss = tframe(t("a", -0.05, 0.01), verdict._note_row("c", "a", "light", "only simple baselines"))
    assert verdict.rule_comparison(loss)[0] == "no (fail: a)"


@pytest.mark.parametrize("rows, outcome", [
    ([("x", 0.02, 0.01), ("y", 0.03, 0.001)], "holds"),
    ([("x", 0.02, 0.01), ("y", -0.03, 0.001)], "partly (pass: x; fail: y)"),
    ([("x", -0.02, 0.01), ("y", 0.03, 0.2)], "no (fail: x; no evidence: y)"),
    ([("x", 0.02, 0.06), ("y", 0.03, 0.2)], "no evidence (within seed noise)")])
def test_rule_better_outcomes(rows, outcome):
    tests = tframe(*(t(*r) for r in rows), verdict._note_row("c", "z", "degenerate", "not counted: same model"))
    got, evidence = verdict.rule_better(tests)
    assert got == outcome and "z: not counted: same model" in evidence


@pytest.mark.parametrize("rows, outcome", [
    ([(0.04, 0.01), (0.001, 0.9), (0.002, 0.8)], "holds"),  # beats sum, ties the others: best or near-best
    ([(0.04, 0.01), (-0.03, 0.02), (0.0, 1.0)], "no (fail: x)"),  # max beats mean
    ([(0.01, 0.3), (0.001, 0.9), (0.002, 0.8)], "no evidence (within seed noise)")])
def test_rule_aggregation_outcomes(rows, outcome):
    tests = tframe(*(t("x", d, p, a="mean", b=b) for (d, p), b in zip(rows, ("sum", "max", "min"))))
    assert verdict.rule_aggregation(tests)[0] == outcome


@pytest.mark.parametrize("la, lb, delta, p, outcome", [
    (9, 5, 0.02, 0.01, "holds"), (3, 5, 0.02, 0.01, "no (fail: s->d)"),
    (9, 5, 0.02, 0.3, "no evidence (within seed noise)"), (5, 5, 0.0, np.nan, "no evidence (within seed noise)")])
def test_rule_seq_len_outcomes(la, lb, delta, p, outcome):
    tests = tframe(t("s->d", delta, p, a=f"L={la}", b=f"L={lb}", **{"L a": la, "L b": lb}))
    assert verdict.rule_seq_len(tests)[0] == outcome


@pytest.mark.parametrize("attrec, caser, outcome", [(0.27, 0.39, "holds"), (1.4, 1.0, "holds"),
                                                    (2.0, 1.0, "no (fail: x)")])
def test_rule_runtime_is_one_sided(attrec, caser, outcome):
    tests = tframe(verdict._note_row("c", "x", "timing", "bench/gpu.json", **{"mean a": attrec, "mean b": caser}))
    got, evidence = verdict.rule_runtime(tests)
    assert got == outcome and "[bench/gpu.json]" in evidence  # faster is no failure


@pytest.mark.parametrize("hr_low, outcome", [(0.50, verdict.REPRODUCIBLE),
                                             (0.53, f"not {verdict.REPRODUCIBLE} (outside the interval: hr@50)")])
def test_rule_released(hr_low, outcome):
    tests = tframe(
        verdict._note_row("c", "ml-100k", "interval", "", metric="hr@50", **{"mean a": 0.54, "ci low": hr_low,
                                                                              "ci high": 0.56, "paper": 0.5273}),
        verdict._note_row("c", "ml-100k", "interval", "", metric="mrr", **{"mean a": 0.1, "ci low": 0.09,
                                                                            "ci high": 0.11, "paper": 0.0981}),
        verdict._note_row("c", "ml-100k", "gap", "(a) epoch selection +0.0100 [-0.0010, +0.0290]"))
    got, evidence = verdict.rule_released(tests)
    assert got == outcome and "(a) epoch selection" in evidence
    assert verdict.outcome_kind(got) == "protocol"  # never counted as a claim that holds
    assert verdict.rule_released(tframe(t("x", 0, 1.0, role="other")))[0] == "not tested"


# --- what the gatherers choose (validation only) --------------------------------------------

@pytest.fixture
def compared(monkeypatch):
    """Replace the paired comparison: record (set, a, b), return a fixed significant gain."""
    seen = []

    def fake(claim, set_label, a, specs_a, b, specs_b, metrics=("hr@50",), role="decides", **kw):
        seen.append((set_label, a, b))
        return [t(set_label, 0.05, 0.01, a=a, b=b, metric=m, role=role) | {"claim": claim} for m in metrics]
    monkeypatch.setattr(verdict, "_compare", fake)
    return seen


def _keyed(df):
    df = df.reset_index(drop=True)
    df["key"] = [f"k{i}" for i in range(len(df))]
    return df, [types.SimpleNamespace(key=k) for k in df["key"]]


def test_rq1_compares_attrec_with_every_baseline_within_seed_noise_of_the_strongest(grid, monkeypatch, compared):
    rows = [("attrec", 0.60, 0.40), ("attrec", 0.61, 0.41),
            ("hrm", 0.50, 0.60), ("hrm", 0.52, 0.62),  # strongest on validation (sd 0.014)
            ("caser", 0.40, 0.60), ("caser", 0.41, 0.605),  # within one sd of it
            ("bprmf", 0.70, 0.50), ("bprmf", 0.71, 0.51),  # best on test, far below on validation
            ("ease", 0.30, 0.605)]  # one run: the data set's median sd
    df, specs = _keyed(pd.DataFrame(rows, columns=["model", "hr@50", "valid_hr@50"]).assign(dataset="synthetic-planted"))
    grid(df)
    monkeypatch.setattr(decisions, "rq1_specs", lambda prof: specs)
    out = verdict._gather_comparison(TINY, "rq1", ["hrm", "caser", "bprmf", "ease"])
    assert {b for _, _, b in compared} == {"hrm", "caser", "ease"}
    assert {r["metric"] for r in out} == {"hr@50", "mrr"}


def test_dims_compares_attrec_with_the_best_other_model_on_validation_pop_left_out(grid, monkeypatch, compared):
    df, specs = _keyed(pd.DataFrame({"dataset": "x", "cfg.d": [10, 10, 10, 10], "model": ["attrec", "caser", "fmc", "pop"],
                                     "hr@50": [0.2, 0.4, 0.5, 0.9], "valid_hr@50": [0.5, 0.3, 0.2, 0.9]}))
    grid(df)
    monkeypatch.setattr(builders, "dim_specs", lambda prof: specs)
    verdict._gather_dims(TINY, "dims")
    assert compared == [("x d=10", "attrec", "caser")]


def test_omega_tests_short_term_against_long_term_and_reports_the_validation_best(grid, monkeypatch, compared):
    df, specs = _keyed(frame("x", "cfg.omega", [0.0, 0.2, 0.4, 1.0], [0.3, 0.2, 0.5, 0.1], [0.2, 0.6, 0.1, 0.1]))
    grid(df)
    monkeypatch.setattr(builders, "omega_specs", lambda prof: specs)
    out = verdict._gather_omega(TINY, "omega")
    assert compared == [("x", "ω=0 (short-term only)", "ω=1 (long-term only)")]
    assert "best ω on validation 0.2" in [r["note"] for r in out]


def test_seq_len_compares_the_best_lengths_on_the_denser_set(grid, monkeypatch, compared):
    splits = {"sparse": types.SimpleNamespace(train=[np.zeros(10)] * 4, n_users=4),
              "dense": types.SimpleNamespace(train=[np.zeros(80)] * 4, n_users=4)}
    monkeypatch.setattr(runspec, "load_split", lambda ds, tie_rule, valid: splits[ds])
    Ls = [1, 2, 5]
    df, specs = _keyed(pd.concat([frame("dense", "cfg.seq_len", Ls, [0.1, 0.2, 0.3], [0.1, 0.1, 0.5]),
                                  frame("sparse", "cfg.seq_len", Ls, [0.3, 0.2, 0.1], [0.1, 0.3, 0.2])]))
    grid(df)
    monkeypatch.setattr(builders, "seq_len_specs", lambda prof: specs)
    out = pd.DataFrame(verdict._gather_seq_len(TINY, "seq_len"))
    assert [(a, b) for _, a, b in compared] == [("L=5", "L=2")]  # validation's best, not test's
    assert verdict.rule_seq_len(out.assign(**{"Holm p": out["p"]}))[0] == "holds"


def test_self_attention_leaves_out_the_degenerate_setting(grid, monkeypatch, compared):
    df, specs = _keyed(frame("x", "cfg.self_attention", [True, False], [0.5, 0.4], [0.5, 0.4]).assign(**{"cfg.seq_len": 2}))
    monkeypatch.setattr(verdict, "_ablation_runs", lambda prof, build, sparse: (df.assign(set="x"), {s.key: types.SimpleNamespace(
        key=s.key, model_config={"seq_len": 2, "mask": "before_softmax"}) for s in specs}))
    out = verdict._gather_self_attention(TINY, "self_attention")
    assert compared == [] and out[0]["role"] == "degenerate"
    monkeypatch.setattr(verdict, "_ablation_runs", lambda prof, build, sparse: (df.assign(set="x"), {s.key: types.SimpleNamespace(
        key=s.key, model_config={"seq_len": 3, "mask": "before_softmax"}) for s in specs}))
    verdict._gather_self_attention(TINY, "self_attention")
    assert compared == [("x", "with self-attention", "without")]


# --- runtime source ---------------------------------------------------------------------------

def _bench(path, device, load, attrec, caser, threads=1):
    rows = [{"dataset": "ml-100k", "model": m, "preset": "paper", "compiled": False, "threads": threads,
             "epoch_s": s, "device": device} for m, s in (("attrec", attrec), ("caser", caser))]
    path.write_text(json.dumps({"load_before": load, "rows": rows}))


def test_runtime_source_prefers_the_gpu_then_the_quietest_cpu(tmp_path):
    _bench(tmp_path / "cpu-busy.json", "cpu", [1.5], 2.0, 4.0)
    _bench(tmp_path / "cpu-quiet.json", "cpu", [0.1], 1.5, 3.0)
    name, pairs = verdict.runtime_source(tmp_path)
    assert name.startswith("bench/cpu-quiet.json") and pairs == {"ml-100k": (1.5, 3.0)}
    _bench(tmp_path / "gpu.json", "cuda: H200", None, 0.27, 0.39, threads=None)
    name, pairs = verdict.runtime_source(tmp_path)
    assert name.startswith("bench/gpu.json") and pairs == {"ml-100k": (0.27, 0.39)}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json is not readable JSON"):
        verdict.runtime_source(tmp_path)
    assert verdict.runtime_source(tmp_path / "none") == (None, {}) or not (tmp_path / "none").exists()


# --- omega tuning and the gap decomposition -------------------------------------------------

def test_tuned_omega_is_the_best_mean_validation_omega_ties_to_the_smaller(grid):
    grid(frame("synthetic-planted", "cfg.omega", [0.2, 0.2, 1.0, 1.0, 0.6], [0.9, 0.9, 0.1, 0.1, 0.95],
               [0.3, 0.5, 0.4, 0.4, 0.1]))
    assert decisions.tuned_omega(TINY, "synthetic-planted") == 0.2  # 0.2 and 1.0 tie at 0.4; test would say 0.6
    grid(frame("synthetic-planted", "cfg.omega", [0.2, 1.0], [0.9, 0.1], [0.3, 0.4]))
    assert decisions.tuned_omega(TINY, "synthetic-planted") == 1.0



def test_gap_decomposition_steps_add_up_to_the_gap_with_intervals():
    rng = np.random.default_rng(0)
    head_valid = (rng.random((3, 900)) < 0.49).astype(float)
    head_test = np.maximum(head_valid, rng.random((3, 900)) < 0.02)
    released = (rng.random((3, 900)) < 0.52).astype(float)
    out = verdict.gap_decomposition(0.5273, head_valid, head_test, released)
    changes = out["change"].to_numpy()
    assert changes[1] == pytest.approx(head_test.mean() - head_valid.mean())
    assert changes[2] == pytest.approx(released.mean() - head_test.mean())
    assert np.nansum(changes) == pytest.approx(0.5273 - head_valid.mean())
    steps = out.iloc[1:]
    assert (steps["CI low"] <= steps["change"]).all() and (steps["change"] <= steps["CI high"]).all()
    split = verdict.gap_decomposition(0.5273, head_valid, head_test, released, released_stable=released * 0 + head_test)
    assert [s.split(":")[0] for s in split["step"]][1:] == ["(a) epoch selection", "(b1) held-out validation item",
                                                           "(b2) tie rule", "(c) remainder to the paper"]
    with pytest.raises(ValueError, match="released has no runs"):
        verdict.gap_decomposition(0.5273, head_valid, head_test, np.zeros((0, 0)))


def test_gap_specs_change_only_protocol_and_tie_rule():
    prof = profiles.profile("quick", datasets=["ml-100k"], seeds=[0])
    head = builders.spec_for(prof, "ml-100k", "attrec", 0)
    (gap,) = builders.gap_specs(prof)
    assert (gap.protocol, gap.tie_rule) == ("released", "released")
    assert gap.model_config == head.model_config and gap.train_config == head.train_config
    assert paper_numbers.table2_value("ml-100k", "attrec", "hr@50") is not None



def test_the_verdict_table_has_the_documented_columns(monkeypatch):
    monkeypatch.setattr(verdict, "family", lambda prof: verdict.adjust(tframe(
        t("x", 0.1, 0.01) | {"claim": "omega"})))
    table = verdict.verdicts(TINY)
    assert tuple(table.columns) == verdict.COLUMNS
    row = table.set_index("claim").loc["RQ2: short-term alone beats long-term alone (Figure 4a)"]
    assert row["outcome"] == "holds" and row["raw p"] == "x (CASER, HR@50): 0.01".replace("CASER", "Caser")
    assert "Holm-Bonferroni" in row["test and metric"] and "ω = 0" in row["rule"]
    claims = table[table["source"] != "beyond the paper"]
    assert (claims.drop(index=claims.index[claims["claim"].str.contains("short-term")])["outcome"] == "not tested").all()


def test_the_verdict_ends_with_notebook_10s_questions_outside_the_holm_family(monkeypatch):
    from attrec_lib.analysis import repeats
    monkeypatch.setattr(verdict, "family", lambda prof: verdict.adjust(tframe(t("x", 0.1, 0.01) | {"claim": "omega"})))
    monkeypatch.setattr(repeats, "verdict_rows", lambda prof: [
        {"claim": "Does RQ1's answer depend on X?", "rule": "r", "test and metric": "m", "evidence": "e",
         "outcome": "yes (on: lastfm)", "source": "beyond the paper"}])
    table = verdict.verdicts(TINY)
    last = table.iloc[-1]
    assert last["claim"] == "Does RQ1's answer depend on X?" and last["outcome"] == "yes (on: lastfm)"
    assert last["Holm p"] == "– (not in the family)" and tuple(table.columns) == verdict.COLUMNS
    assert len(table) == len(verdict._claims(TINY)) + 1


def test_setting_summary_of_no_runs_is_an_empty_table_with_its_columns():
    empty = pd.DataFrame(columns=["set", "dataset", "hr@50", "valid_hr@50"])
    out = verdict.setting_summary(empty, "cfg.self_attention", {True: "with", False: "without"})
    assert out.empty and list(out.columns) == ["set", "setting", "seeds", "HR@50 (ours)", "valid HR@50"]


def test_a_p_value_that_underflows_is_not_written_zero():
    assert verdict._p_number(0.0) == "< 1e-300" and verdict._p_number(0.0123) == "0.012"
