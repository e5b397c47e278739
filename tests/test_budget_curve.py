"""The tuning budget curve: the choice at n trials is the selection rule on the first n trials."""
import pandas as pd

from attrec_lib.analysis import budget_curve
from attrec_lib.engines import grid
from attrec_lib.study import decisions, profiles, tuning


def _trials(valid, test):
    return pd.DataFrame({"trial": range(len(valid)), "default": [i == 0 for i in range(len(valid))],
                         "valid_hr@50": valid, "test_hr@50 (not used)": test})


def test_the_choice_at_n_trials_is_the_rule_on_the_first_n():
    valid = [0.30, 0.28, 0.30, 0.41, 0.35, 0.41, 0.50, 0.10, 0.49]  # ties at 0.30 and 0.41: the first wins
    test = [0.9, 0.1, 0.2, 0.3, 0.8, 0.7, 0.25, 0.99, 0.6]  # the test column must never move the choice
    trials = _trials(valid, test)
    out = budget_curve.curve(trials)
    assert list(out["trials"]) == list(range(1, 10))
    for n, row in zip(out["trials"], out.itertuples()):
        chosen = tuning.choose(trials.iloc[:n])
        assert row[2] == chosen and row[4] == valid[chosen] and row[5] == test[chosen]
    assert list(out["chosen trial"]) == [0, 0, 0, 3, 3, 3, 6, 6, 6]
    assert out["chosen is default"].tolist() == [True] * 3 + [False] * 6
    assert out["valid HR@50"].is_monotonic_increasing


def test_budget_curves_of_a_profile_follow_its_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")  # bprmf and attrec, the default + 2 draws each
    def scripted(specs, **kwargs):  # each trial's numbers a fixed function of its key
        return pd.DataFrame({"valid_hr@50": [int(s.key[:4], 16) % 7 / 10 for s in specs],
                             "hr@50": [int(s.key[4:8], 16) % 5 / 10 for s in specs]})
    monkeypatch.setattr(grid, "run_grid", scripted)
    curves = budget_curve.budget_curves(prof)
    assert set(curves["model"]) == {"bprmf", "attrec"} and set(curves["trials"]) == {1, 2, 3}
    for model, part in curves.groupby("model"):
        trials = tuning.tune(prof, prof.tuned_datasets[0], model, prof.tuning)["trials"]
        assert list(part["chosen trial"]) == [tuning.choose(trials.iloc[:n]) for n in (1, 2, 3)]
    assert curves.loc[curves["trials"] == 1, "chosen is default"].all()  # trial 0 is the default everywhere


def test_attrecs_standing_and_its_sentence():
    rows = []
    for model, valid, test in (("attrec", [0.3, 0.3, 0.5], [0.40, 0.40, 0.55]),
                               ("bprmf", [0.4, 0.4, 0.4], [0.50, 0.50, 0.50]),
                               ("fpmc", [0.1, 0.45, 0.45], [0.90, 0.45, 0.45])):
        rows.append(budget_curve.curve(_trials(valid, test)).assign(dataset="d", model=model))
    curves = pd.concat(rows, ignore_index=True)
    stand = budget_curve.standing(curves, ["bprmf", "fpmc"])
    # n=1: bprmf strongest on validation (fpmc's test 0.90 must not count); n=2, 3: fpmc
    assert list(stand["strongest baseline"]) == ["bprmf", "fpmc", "fpmc"]
    assert list(stand["AttRec ahead"]) == [False, False, True]
    text = budget_curve.standing_sentence(stand, {"fpmc": "FPMC"})
    assert "changes with the budget (behind at 1-2, ahead at 3 trials)" in text and "FPMC" in text
    steady = budget_curve.standing(curves[curves["trials"] < 3], ["bprmf", "fpmc"])
    assert "does not change with the budget" in budget_curve.standing_sentence(steady, {})
    assert "trials the strongest baseline is FPMC (test HR@50 0.4500" in budget_curve.standing_sentence(steady, {})
    named = budget_curve.standing_sentence(stand.assign(dataset="ml-1m-first2999"), {})
    assert named.startswith("On ML-1M stand-in (users 1-2999) AttRec's standing") and "is FPMC (test" in named


def test_the_trial_list_marks_the_default_and_the_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")

    def scripted(specs, **kwargs):  # each trial's numbers a fixed function of its key
        return pd.DataFrame({"valid_hr@50": [int(s.key[:4], 16) % 7 / 10 for s in specs],
                             "hr@50": [int(s.key[4:8], 16) % 5 / 10 for s in specs]})
    monkeypatch.setattr(grid, "run_grid", scripted)
    trials = decisions.tuned_trials(prof)
    for model, part in trials.groupby("model"):
        assert list(part["default"]) == ["default", "", ""]  # trial 0 is the default for every learned model
        assert (part["chosen"] == "chosen").sum() == 1
        chosen = part.reset_index(drop=True).rename(columns={"valid HR@50": "valid_hr@50"})
        assert part["chosen"].tolist().index("chosen") == tuning.choose(chosen)
