"""verdict.py: each rule on constructed run rows (``experiments.run_grid`` replaced), both
outcomes, and every choice read from validation metrics; the omega tuning; the gap decomposition."""
import dataclasses
import types

import numpy as np
import pandas as pd
import pytest

from attrec_lib import experiments, paper_numbers, study, tables, verdict

TINY = study.profile("tiny")


@pytest.fixture
def grid(monkeypatch):
    """Make run_grid return the given DataFrame (or a function of the specs)."""
    def install(df):
        monkeypatch.setattr(experiments, "run_grid",
                            lambda specs, **kw: df(list(specs)) if callable(df) else df.copy())
    return install


def frame(dataset, column, settings, test, valid, model="attrec"):
    return pd.DataFrame({"dataset": dataset, column: settings, "hr@50": test, "valid_hr@50": valid,
                         "model": model, "protocol": "valid"})


# --- aggregation (Table 4) --------------------------------------------------------------------

def test_mean_aggregation_holds_when_mean_is_best_on_validation(grid):
    grid(frame("x", "cfg.aggregation", ["mean", "sum", "max", "min"], [0.30, 0.28, 0.40, 0.2],
               [0.50, 0.40, 0.30, 0.2]))
    row = verdict.claim_mean_aggregation(TINY)
    assert row["holds?"] == "yes" and "best mean" in row["ours"]  # max wins on test, but is not chosen
    assert "validation HR@50" in row["why"]


def test_mean_aggregation_fails_when_another_is_best_on_validation(grid):
    grid(frame("x", "cfg.aggregation", ["mean", "sum", "max", "min"], [0.30, 0.40, 0.45, 0.2],
               [0.30, 0.50, 0.20, 0.2]))
    row = verdict.claim_mean_aggregation(TINY)
    assert row["holds?"] == "no" and "best sum" in row["ours"]


# --- omega (Figure 4a) ------------------------------------------------------------------------

@pytest.mark.parametrize("valid_best, holds", [(0.2, "yes"), (0.8, "no")])
def test_omega_rule_reads_validation(grid, valid_best, holds):
    omegas = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    test = [0.1, 0.2, 0.3, 0.2, 0.1, 0.1]  # test alone would pick 0.4 (always "yes")
    valid = [0.5 if w == valid_best else 0.1 for w in omegas]
    grid(frame("x", "cfg.omega", omegas, test, valid))
    row = verdict.claim_omega(TINY)
    assert row["holds?"] == holds and f"best ω={valid_best:g}" in row["ours"]


def test_tuned_omega_is_the_best_mean_validation_omega_ties_to_the_smaller(grid):
    grid(frame("synthetic-planted", "cfg.omega", [0.2, 0.2, 1.0, 1.0, 0.6], [0.9, 0.9, 0.1, 0.1, 0.95],
               [0.3, 0.5, 0.4, 0.4, 0.1]))
    assert study.tuned_omega(TINY, "synthetic-planted") == 0.2  # 0.2 and 1.0 tie at 0.4; test would say 0.6
    grid(frame("synthetic-planted", "cfg.omega", [0.2, 1.0], [0.9, 0.1], [0.3, 0.4]))
    assert study.tuned_omega(TINY, "synthetic-planted") == 1.0


# --- sequence length (Figure 4b) --------------------------------------------------------------

@pytest.mark.parametrize("dense_best, holds", [(5, "yes"), (1, "no")])
def test_seq_len_rule_reads_validation(grid, monkeypatch, dense_best, holds):
    splits = {"sparse": types.SimpleNamespace(train=[np.zeros(10)] * 4, n_users=4),
              "dense": types.SimpleNamespace(train=[np.zeros(80)] * 4, n_users=4)}
    monkeypatch.setattr(experiments, "load_split", lambda ds, tie_rule, valid: splits[ds])
    Ls = [1, 2, 5]
    df = pd.concat([frame("sparse", "cfg.seq_len", Ls, [0.3, 0.2, 0.1], [0.1, 0.3, 0.2]),
                    frame("dense", "cfg.seq_len", Ls, [0.1, 0.2, 0.3],  # test alone: L=5 (always "yes")
                          [0.5 if L == dense_best else 0.1 for L in Ls])])
    grid(df)
    row = verdict.claim_seq_len(TINY)
    assert row["holds?"] == holds and f"dense (80 train items/user): best L={dense_best}" in row["ours"]


# --- latent dimension (Figure 5) --------------------------------------------------------------

@pytest.mark.parametrize("attrec_valid, holds", [(0.5, "yes"), (0.1, "no")])
def test_dims_rule_reads_validation(grid, attrec_valid, holds):
    df = pd.DataFrame({"dataset": "x", "cfg.d": [10, 10, 10], "model": ["attrec", "caser", "pop"],
                       "hr@50": [0.2, 0.4, 0.9], "valid_hr@50": [attrec_valid, 0.3, 0.9]})
    grid(df)
    row = verdict.claim_dims(TINY)
    assert row["holds?"] == holds  # pop is left out; test alone would crown caser (always "no")


# --- self-attention (Table 3) -----------------------------------------------------------------

@pytest.mark.parametrize("with_sa, holds", [([0.50, 0.52], "yes"), ([0.40, 0.41], "no")])
def test_self_attention_rule(grid, with_sa, holds):
    df = frame("synthetic-planted", "cfg.self_attention", [True, True, False, False], with_sa + [0.45, 0.46],
               [0.3] * 4)
    grid(df)
    assert verdict.claim_self_attention(TINY)["holds?"] == holds


# --- runtime (Table 5) ------------------------------------------------------------------------

@pytest.mark.parametrize("caser_seconds, holds", [(1.2, "yes"), (3.0, "no")])
def test_runtime_rule(grid, caser_seconds, holds):
    grid(pd.DataFrame({"dataset": "synthetic-planted", "model": ["attrec", "caser"],
                       "seconds_per_epoch": [1.0, caser_seconds], "device": "cpu"}))
    assert verdict.claim_runtime(TINY)["holds?"] == holds


# --- AttRec against the strongest baseline (Table 2) ------------------------------------------

@pytest.mark.parametrize("better, holds", [([True, True], "yes"), ([True, False], "partly"),
                                           ([False, False], "no")])
def test_beats_baselines_rule(grid, monkeypatch, better, holds):
    grid(pd.DataFrame({"dataset": ["a", "b"], "model": "attrec", "hr@50": 0.5, "valid_hr@50": 0.5,
                       "cfg.omega": 0.2}))
    monkeypatch.setattr(study, "tuned_specs", lambda prof: [])
    monkeypatch.setattr(tables, "attrec_vs_best_baseline", lambda df, specs, baselines: pd.DataFrame(
        {"dataset": ["a", "b"], "AttRec better (p<0.05)": better, "AttRec HR@50": 0.5, "best baseline": "bprmf",
         "baseline HR@50": 0.4, "p (HR@50)": 0.01}))
    row = verdict.claim_beats_baselines(TINY)
    assert row["holds?"] == holds and "validation HR@50" in row["why"]


def _strongest(monkeypatch, better, delta=0.1, seen=None):
    """Replace the paired comparison: data sets "a" and the synthetic set, with the given outcomes;
    ``seen`` collects the baselines each call was asked to choose among."""
    def fake(df, specs, baselines):
        if seen is not None:
            seen.append(list(baselines))
        return pd.DataFrame({"dataset": ["a", "synthetic-planted"], "AttRec better (p<0.05)": better,
                             "AttRec HR@50": 0.5, "best baseline": "ease", "baseline HR@50": 0.4,
                             "p (HR@50)": 0.01, "ΔHR@50": delta})
    monkeypatch.setattr(study, "tuned_specs", lambda prof: [])
    monkeypatch.setattr(tables, "attrec_vs_best_baseline", fake)


@pytest.mark.parametrize("better, holds", [([True, True], "yes"), ([True, False], "partly"), ([False, True], "no")])
def test_a_light_data_set_counts_only_when_attrec_loses_there(grid, monkeypatch, better, holds):
    # On a light data set only Pop and the simple baselines ran: a win there says nothing about
    # the learned baselines, a loss decides.
    grid(pd.DataFrame({"dataset": ["a", "synthetic-planted"], "model": "attrec", "hr@50": 0.5,
                       "valid_hr@50": 0.5, "cfg.omega": 0.2}))
    _strongest(monkeypatch, better)
    light = dataclasses.replace(TINY, light_datasets=("synthetic-planted",))
    row = verdict.claim_beats_baselines(light)
    assert row["holds?"] == holds
    assert "[learned baselines not run here]" in row["ours"] and "only a loss counts" in row["why"]


@pytest.mark.parametrize("better, delta, holds, says", [
    ([True, True], 0.1, "yes", "AttRec better"), ([True, False], -0.1, "partly", "AttRec worse"),
    ([False, False], 0.01, "no", "no significant difference")])
def test_simple_baselines_claim_chooses_among_simple_baselines_only(grid, monkeypatch, better, delta, holds, says):
    grid(pd.DataFrame({"dataset": "a", "model": ["attrec", "bprmf", "pop", "ease", "sknn"], "hr@50": 0.5,
                       "valid_hr@50": 0.5}))
    seen = []
    _strongest(monkeypatch, better, delta, seen)
    row = verdict.claim_beats_simple_baselines(TINY)
    assert seen == [["ease", "sknn"]]  # learned models and Pop are not candidates
    assert row["holds?"] == holds and says in row["ours"] and "p=0.01" in row["ours"]
    assert "validation HR@50" in row["why"]


# --- the paper's ML-100K number and the gap decomposition -------------------------------------

def _head_and_released(head_valid, head_test, released_test):
    head = pd.DataFrame({"protocol": "valid", "hr@50": head_valid, "test_sel_hr@50": head_test, "mrr": 0.1})
    rel = pd.DataFrame({"protocol": "released", "hr@50": released_test, "test_sel_hr@50": released_test,
                        "test_sel_mrr": 0.1, "mrr": 0.1})
    return head, rel


def test_gap_decomposition_steps_add_up_to_the_gap():
    head, rel = _head_and_released([0.48, 0.50], [0.50, 0.52], [0.53, 0.51])
    out = verdict.gap_decomposition(0.5273, head, rel)
    changes = out["change"].to_numpy()
    assert changes[1] == pytest.approx(0.51 - 0.49)  # (a) epoch selection
    assert changes[2] == pytest.approx(0.52 - 0.51)  # (b) validation item + tie rule
    assert changes[3] == pytest.approx(0.5273 - 0.52)
    assert np.nansum(changes) == pytest.approx(0.5273 - 0.49)
    with pytest.raises(ValueError, match="protocol"):
        verdict.gap_decomposition(0.5273, rel, head)


@pytest.mark.parametrize("released_test, holds", [(0.52, "yes"), (0.45, "no")])
def test_released_numbers_rule(grid, released_test, holds):
    head, rel = _head_and_released([0.48], [0.50], [released_test])
    grid(lambda specs: rel if specs[0].protocol == "released" else head)
    prof = study.profile("quick", datasets=["ml-100k"], seeds=[0])
    row = verdict.claim_released_numbers(prof)
    assert row["holds?"] == holds and "(a)" in row["ours"] and "(b)" in row["ours"]


def test_gap_specs_change_only_protocol_and_tie_rule():
    prof = study.profile("quick", datasets=["ml-100k"], seeds=[0])
    head = study.spec_for(prof, "ml-100k", "attrec", 0)
    (gap,) = study.gap_specs(prof)
    assert (gap.protocol, gap.tie_rule) == ("released", "released")
    assert gap.model_config == head.model_config and gap.train_config == head.train_config
    assert paper_numbers.table2_value("ml-100k", "attrec", "hr@50") is not None


# --- what the rules' notes say about the profile -----------------------------------------------

def test_the_notes_say_how_many_seeds_a_point_has_and_where_settings_are_borrowed(grid):
    grid(frame("x", "cfg.omega", [0.0, 0.2], [0.1, 0.2], [0.1, 0.2]))
    assert "one seed per point" in str(verdict.claim_omega(TINY))
    three = dataclasses.replace(TINY, sweep_seeds=(0, 1, 2))
    text = str(verdict.claim_omega(three))
    assert "mean of 3 seeds per point" in text and "one seed per point" not in text
    borrowed = dataclasses.replace(TINY, tuned_from=(("ml-100k", "synthetic-planted"),))
    assert "on ml-100k every learned model with the setting its tuning chose on synthetic-planted" in verdict._tuned_note(borrowed)
    assert "with the setting its tuning chose" not in verdict._tuned_note(TINY)
