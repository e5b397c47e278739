"""The tie-order comparison: its spec builders, its tables, findings and verdict row.

Nothing is trained here: the run rows and the per-user metrics are made by hand (the cache is
replaced by monkeypatched functions), so each choice can be checked against a literal answer.
"""
import re
import numpy as np
import pandas as pd
import pytest

from attrec_lib.engines import grid
from attrec_lib.runs import runspec
from attrec_lib.study import all_runs, decisions, profiles
from attrec_lib.analysis import tables, tie_order, verdict


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))


def fake_grid(valid: dict, test: dict):
    """A stand-in for grid.run_grid: one row per spec with the given per-model metrics."""
    def run_grid(specs, progress=True):
        return pd.DataFrame([{"dataset": s.dataset, "model": s.model, "seed": s.seed, "tie_rule": s.tie_rule,
                              "key": s.key, "valid_hr@50": valid[s.model], "hr@50": test[s.model]} for s in specs])
    return run_grid


# --- spec builders ---------------------------------------------------------------------------

def test_strongest_baselines_are_chosen_on_validation(monkeypatch):
    prof = profiles.profile("standard", datasets=["ml-100k"], seeds=[0, 1])
    models = profiles.available_models()
    valid = {m: 0.1 * i for i, m in enumerate(models)}  # attrec best, then sasrec, pop, lstm_plus
    test = {m: 1.0 - v for m, v in valid.items()}  # test order reversed: must not matter
    monkeypatch.setattr(grid, "run_grid", fake_grid(valid, test))
    assert decisions.strongest_baselines(prof, "ml-100k") == ("sasrec", "pop", "lstm_plus")
    # Without the cached Table 2 runs and cached_only, nothing is chosen (and nothing runs).
    assert decisions.strongest_baselines(prof, "ml-100k", cached_only=True) is None


def test_tie_order_models_and_specs(monkeypatch):
    prof = profiles.profile("full", datasets=["ml-100k", "lastfm"], seeds=[0, 1, 2])
    monkeypatch.setattr(decisions, "strongest_baselines", lambda prof, ds, n=3, cached_only=False: ("caser", "fmc", "hrm"))
    assert decisions.tie_order_models(prof, "ml-100k") == ("bprmf", "fmc", "hrm", "caser", "pop", "attrec")
    learned = tuple(m for m in profiles.ALL_MODELS if m not in profiles.SIMPLE_BASELINES)
    assert decisions.tie_order_models(prof, "lastfm") == profiles.available_models(learned)  # every learned model and Pop
    stable, shuffled = decisions.tie_order_specs(prof, "stable"), decisions.tie_order_specs(prof, "shuffled")
    assert len(stable) == len(shuffled) == 3 * (6 + 11)
    # The stable runs are Table 2's own runs (same keys: nothing recomputed).
    assert {s.key for s in stable} <= {s.key for s in decisions.learned_table2_specs(prof)}
    for a, b in zip(stable, shuffled):
        assert (a.tie_rule, b.tie_rule) == ("stable", f"shuffled:{a.seed}")
        assert a.to_dict() | {"tie_rule": None} == b.to_dict() | {"tie_rule": None}
    with pytest.raises(ValueError, match="rule must be one of"):
        decisions.tie_order_specs(prof, "released")
    # the standard profile (two cores): LastFM only, seed 0
    small = profiles.profile("standard", datasets=["ml-100k", "lastfm"], seeds=[0, 1, 2])
    assert {(s.dataset, s.seed) for s in decisions.tie_order_specs(small, "shuffled")} == {("lastfm", 0)}


def test_all_specs_leave_out_tie_runs_whose_baselines_are_not_chosen_yet():
    prof = profiles.profile("tiny")  # empty results folder: Table 2 is not cached
    rules = {s.tie_rule for s in all_runs.all_specs(prof)}
    assert not any(r.startswith("shuffled") for r in rules)


# --- tables, findings and the verdict row, on hand-made runs -----------------------------------

def spec(model, seed, rule):
    return runspec.make_spec("synthetic-planted", model, None, seed=seed,
                                 tie_rule="stable" if rule == "stable" else f"shuffled:{seed}")


def first(k, n=12):
    """Per-user HR@50 of 12 users: the first k hit."""
    return [1] * k + [0] * (n - k)


# Test hits per (model, rule), the same for both seeds, and validation HR@50. With stable ties
# AttRec looks best; with shuffled ties it falls to FPMC's and BPRMF's level.
HITS = {("attrec", "stable"): first(9), ("attrec", "shuffled"): first(3),
        ("fpmc", "stable"): first(6), ("fpmc", "shuffled"): first(3),
        ("bprmf", "stable"): first(3), ("bprmf", "shuffled"): first(3),
        ("pop", "stable"): first(0), ("pop", "shuffled"): first(0)}
VALID = {("attrec", "stable"): 0.9, ("attrec", "shuffled"): 0.2, ("fpmc", "stable"): 0.5,
         ("fpmc", "shuffled"): 0.6, ("bprmf", "stable"): 0.4, ("bprmf", "shuffled"): 0.4,
         ("pop", "stable"): 0.1, ("pop", "shuffled"): 0.1}


def make_runs(monkeypatch, hits=HITS):
    """Run rows as tie_order.runs returns them, and tables.per_user answering from ``hits``."""
    rows, specs = [], []
    for (model, rule), user_hits in hits.items():
        for seed in (0, 1):
            s = spec(model, seed, rule)
            specs.append(s)
            hr = float(np.mean(user_hits))
            rows.append({"dataset": "synthetic-planted", "model": model, "seed": seed, "tie_rule": s.tie_rule, "rule": rule,
                         "key": s.key, "hr@50": hr + 0.01 * seed, "mrr": hr / 2, "valid_hr@50": VALID[model, rule]})
    by_key = {r["key"]: hits[r["model"], r["rule"]] for r in rows}

    def per_user(specs, selection=None):
        return pd.concat([pd.DataFrame({"user": range(len(by_key[s.key])), "hr@50": by_key[s.key],
                                        "mrr": np.array(by_key[s.key]) / 2, "model": s.model, "seed": s.seed})
                          for s in specs], ignore_index=True)

    monkeypatch.setattr(tables, "per_user", per_user)
    return pd.DataFrame(rows), specs


def test_shift_table(monkeypatch):
    df, specs = make_runs(monkeypatch)
    shift = tie_order.shift_table(df, specs).set_index("model")
    assert shift.loc["attrec", "Δhr@50"] == pytest.approx(0.25 - 0.75)
    assert shift.loc["bprmf", "Δhr@50"] == pytest.approx(0.0)
    assert shift.loc["attrec", "beyond seed sd"] and not shift.loc["bprmf", "beyond seed sd"]
    assert shift.loc["attrec", "sequential"] and not shift.loc["pop", "sequential"]
    assert shift.loc["bprmf", "p (HR@50)"] == 1.0  # no user changes
    assert shift.loc["attrec", "p (HR@50)"] < 0.05  # six users lose their hit


def test_signal_table_chooses_on_validation(monkeypatch):
    df, specs = make_runs(monkeypatch)
    signal = tie_order.signal_table(df, specs).set_index("rule")
    # stable: AttRec is best on validation among the sequential models; shuffled: FPMC (0.6 > 0.2),
    # although on the test item the two are equal there.
    assert signal.loc["stable", "best sequential"] == "attrec"
    assert signal.loc["shuffled", "best sequential"] == "fpmc"
    assert set(signal["best non-sequential"]) == {"bprmf"}
    assert signal.loc["stable", "gap"] == pytest.approx(0.5)
    assert signal.loc["shuffled", "gap"] == pytest.approx(0.0)
    assert signal.loc["stable", "signal (p<0.05)"] and not signal.loc["shuffled", "signal (p<0.05)"]


def test_findings_are_written_from_the_numbers(monkeypatch):
    df, specs = make_runs(monkeypatch)
    shift, signal = tie_order.shift_table(df, specs), tie_order.signal_table(df, specs)
    text = tie_order.findings(shift, signal, df)
    lo = shift.loc[shift["Δhr@50"].idxmin()]
    assert f"{lo['Δhr@50']:+.4f} ({lo['label']})" in text
    assert "AttRec with stable ties and FPMC with shuffled ties" in text
    assert "does not beat the best non-sequential one (BPRMF" in text
    p = signal.set_index("rule").loc["shuffled", "p (HR@50)"]
    assert re.search(r"; paired Wilcoxon p (= [01]\.\d{2,3}|< 0\.001)\)", text) and f"{p:.3g})" not in text
    text = tie_order.findings(shift.assign(dataset="lastfm"), signal.assign(dataset="lastfm"), df.assign(dataset="lastfm"))
    assert text.startswith("On LastFM, taking the file order out of the ties")
    assert tie_order.findings(shift.iloc[0:0], signal, df).startswith("No data set")


def _sequential_outcome(monkeypatch, hits=None):
    runs = make_runs(monkeypatch, hits) if hits else make_runs(monkeypatch)
    monkeypatch.setattr(tie_order, "runs", lambda prof: runs)
    monkeypatch.setattr(verdict.claim_specs, "order_blind_stable_specs", lambda prof: [])
    monkeypatch.setattr(verdict.claim_specs, "order_blind_shuffled_specs", lambda prof: [])
    verdict.clear_cache()
    tests = verdict.adjust(pd.DataFrame(verdict._gather_sequential(profiles.profile("tiny"), "sequential")))
    return verdict.rule_better(tests), tests


def test_verdict_row_follows_the_rule(monkeypatch):
    (outcome, evidence), tests = _sequential_outcome(monkeypatch)
    assert outcome.startswith("no") and "synthetic-planted, shuffled ties: FPMC" in evidence
    assert set(tests.loc[tests["role"] == "decides", "set"]) == {"synthetic-planted, shuffled ties"}
    # FPMC keeps a clear lead with shuffled ties: then the data set carries a signal.
    (outcome, _), _ = _sequential_outcome(monkeypatch, {**HITS, ("fpmc", "shuffled"): first(12)})
    assert outcome == "holds"
