"""The equal-budget search: seeded draws, search spaces, the validation-only choice, cached trials."""
import pandas as pd
import pytest

from attrec_lib.engines import grid
from attrec_lib.runs import compute, runspec
from attrec_lib import models
from attrec_lib.study import all_runs, builders, decisions, profiles, spaces, tuning
from attrec_lib.models.distributions import Choice, LogUniform
from attrec_lib.study.profiles import Budget

LEARNED = ["bprmf", "fmc", "fpmc", "hrm", "prme", "transrec", "caser", "lstm_plus", "sasrec"]


@pytest.mark.parametrize("name", models.model_names())
def test_every_search_space_is_valid_and_keeps_d_fixed(name):
    space = spaces.search_space(name)  # raises on an unknown field or a searched d
    for setting in spaces.draw_settings(name, 16):
        model_part, train_part = spaces.split_setting(setting)
        models.make_config(name, "paper", **model_part)
        assert "d" not in model_part
    if name == "pop":
        assert space == {}


@pytest.mark.parametrize("name", LEARNED)
def test_learned_models_search_learning_rate_and_regularisation(name):
    keys = {k for key in spaces.search_space(name) for k in (key if isinstance(key, tuple) else (key,))}
    assert "train.lr" in keys
    assert keys & {"l2", "reg_embeddings", "train.weight_decay", "dropout"}


def test_attrec_space_is_the_papers_grids():
    space = spaces.search_space("attrec")
    assert space["omega"].values == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    assert space[("reg_embeddings", "reg_weights")].values == (0.1, 0.01, 0.001, 0.0001)
    assert space["qk_dropout"].values == (0.0, 0.3, 0.5, 0.7)
    assert not any("lr" in str(k) for k in space)  # the paper: lr 0.05, not tuned


def test_draws_are_seeded_distinct_and_inside_the_space():
    a, b = spaces.draw_settings("bprmf", 16, seed=0), spaces.draw_settings("bprmf", 16, seed=0)
    assert a == b and len(a) == 16
    assert len({tuple(s.values()) for s in a}) == 16
    assert spaces.draw_settings("bprmf", 16, seed=1) != a
    space = spaces.search_space("bprmf")
    for s in a:
        for key, value in s.items():
            dist = space[key]
            assert dist.low <= value <= dist.high if isinstance(dist, LogUniform) else value in dist.values


def test_draws_of_one_model_do_not_depend_on_others():
    assert spaces.draw_settings("ease", 5)[:3] == spaces.draw_settings("ease", 3)


def test_small_grid_is_enumerated_whole(monkeypatch):
    monkeypatch.setattr(models.model_class("sr"), "search_space", {"steps": Choice((1, 2)), "seq_len": Choice((1, 3))})
    assert spaces.draw_settings("sr", 16) == [{"steps": 1, "seq_len": 1}, {"steps": 1, "seq_len": 3},
                                              {"steps": 2, "seq_len": 1}, {"steps": 2, "seq_len": 3}]
    assert spaces.draw_settings("pop", 16) == [{}]


def test_a_bad_search_space_names_the_field(monkeypatch):
    monkeypatch.setattr(models.model_class("sr"), "search_space", {"stepz": Choice((1, 2))})
    with pytest.raises(ValueError, match="stepz"):
        spaces.search_space("sr")
    monkeypatch.setattr(models.model_class("bprmf"), "search_space", {"d": Choice((50, 100))})
    with pytest.raises(ValueError, match="d stays fixed"):
        spaces.search_space("bprmf")


def test_choice_reads_validation_only_and_keeps_the_first_of_ties():
    trials = pd.DataFrame({"valid_hr@50": [0.30, 0.42, 0.42, 0.10], "hr@50": [0.9, 0.1, 0.2, 0.99]})
    assert tuning.choose(trials) == 1
    with pytest.raises(ValueError, match="valid_hr@50"):
        tuning.choose(trials.drop(columns="valid_hr@50"))


def test_trial_specs_carry_the_budget_and_the_setting():
    prof = profiles.profile("tiny")
    budget = Budget(n_trials=4)
    specs = tuning.trial_specs(prof, "synthetic-planted", "bprmf", budget)
    settings = spaces.draw_settings("bprmf", 4)
    assert len({s.key for s in specs}) == 5  # the default, then 4 draws
    assert specs[0] == builders.spec_for(prof, "synthetic-planted", "bprmf", 0, train=budget.train())
    for spec, setting in zip(specs[1:], settings):
        assert spec.train_config["epochs"] == 100 and spec.train_config["patience"] == 10
        assert spec.train_config["lr"] == setting["train.lr"]
        assert spec.model_config["l2"] == setting["l2"] and spec.model_config["d"] == 8  # the profile's d
        assert spec.seed == 0 and spec.protocol == "valid"
    attrec = tuning.trial_specs(prof, "synthetic-planted", "attrec", budget)
    for spec in attrec:  # one lambda for both regularisers, as in the paper
        assert spec.model_config["reg_embeddings"] == spec.model_config["reg_weights"]


def test_tune_runs_each_trial_once_as_a_cached_run(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")
    budget = Budget(n_trials=3, epochs=1, patience=0)
    tuned = tuning.tune(prof, "synthetic-planted", "sr", budget)
    assert len(list(tmp_path.glob("*.json"))) == 3
    trials = tuned["trials"]
    assert tuned["chosen"] == int(trials["valid_hr@50"].to_numpy().argmax())
    assert tuned["spec"] == tuning.trial_specs(prof, "synthetic-planted", "sr", budget)[tuned["chosen"]]

    def no_training(*args, **kwargs):
        raise AssertionError("a cached trial was recomputed")
    monkeypatch.setattr(compute, "execute", no_training)
    again = tuning.tune(prof, "synthetic-planted", "sr", budget)
    assert again["spec"] == tuned["spec"]


def test_table2_uses_the_tuned_simple_baselines(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")
    specs = decisions.table2_specs(prof, ("pop", "ease"))
    assert [s.model for s in specs] == ["pop", "ease"]
    assert specs[1] in tuning.trial_specs(prof, "synthetic-planted", "ease", prof.tuning)
    planned = all_runs.all_specs(prof)
    assert all(s in planned for s in tuning.trial_specs(prof, "synthetic-planted", "sknn", prof.tuning))


def test_rq1_compares_attrec_with_the_baseline_best_on_validation(monkeypatch):
    from attrec_lib.analysis import tables
    # "ease" has the best test HR@50 but "sr" the best validation HR@50: sr must be chosen.
    df = pd.DataFrame({"dataset": ["d"] * 3, "model": ["attrec", "ease", "sr"], "key": ["a", "e", "s"],
                       "hr@50": [0.5, 0.9, 0.4], "valid_hr@50": [0.5, 0.3, 0.45]})
    specs = [runspec.RunSpec("d", m, seed=0) for m in ("attrec", "ease", "sr")]
    monkeypatch.setattr(runspec.RunSpec, "key", property(lambda self: self.model[0]))
    users = pd.DataFrame({"model": ["attrec"] * 3 + ["sr"] * 3, "user": [0, 1, 2] * 2,
                          "hr@50": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0], "mrr": [0.5, 0.2, 0.0, 0.0, 0.1, 0.0]})
    monkeypatch.setattr(tables, "per_user", lambda chosen: users if {s.model for s in chosen} == {"attrec", "sr"}
                        else pytest.fail(f"compared with {[s.model for s in chosen]}"))
    row = tables.attrec_vs_best_baseline(df, specs, ["ease", "sr"]).iloc[0]
    assert row["best baseline"] == "sr" and row["baseline HR@50"] == 0.4 and row["baseline valid HR@50"] == 0.45


def test_chosen_runs_reseed_the_chosen_trial(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")
    budget = Budget(n_trials=2, epochs=1, patience=0)
    runs = tuning.chosen_runs(prof, "synthetic-planted", "sr", budget, (0, 1, 2))
    chosen = tuning.tune(prof, "synthetic-planted", "sr", budget)["spec"]
    assert runs[0] == chosen and [r.seed for r in runs] == [0, 1, 2]
    assert all(r.model_config == chosen.model_config and r.train_config == chosen.train_config for r in runs)


def test_simple_baselines_stay_out_of_the_d_sweeps():
    for name in ("full", "standard", "quick", "tiny"):
        assert not set(profiles.profile(name).dim_models) & set(profiles.SIMPLE_BASELINES)


def test_learned_models_are_tuned_alike_and_rq1_reads_their_tuned_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")  # tunes bprmf and attrec on the synthetic set, 2 trials each
    trials = decisions.learned_trial_specs(prof)
    assert [s.model for s in trials] == ["bprmf"] * 3 + ["attrec"] * 3  # the default + 2 draws each
    assert {(s.train_config["epochs"], s.train_config["patience"]) for s in trials} == {(2, 0)}  # one budget
    assert all(s in all_runs.all_specs(prof) for s in trials)
    # The chosen settings need every trial: before the trials ran, the plan leaves the tuned rows out
    # and says how many may follow.
    assert decisions.tuned_table2_specs(prof, cached_only=True) == []
    assert decisions.pending_tuned_rows(prof) == 2 * len(prof.seeds)
    grid.run_grid(trials, progress=False)
    assert decisions.pending_tuned_rows(prof) == 0
    tuned = decisions.tuned_table2_specs(prof, cached_only=True)
    assert tuned == decisions.tuned_table2_specs(prof) and {s.model for s in tuned} == {"bprmf", "attrec"}
    for spec in tuned:  # each one the trial with the best validation HR@50, at the table's seeds
        assert spec == tuning.tune(prof, spec.dataset, spec.model, prof.tuning)["spec"]
    assert all(s in all_runs.all_specs(prof) for s in tuned)
    # RQ1 compares the tuned AttRec with the tuned BPRMF; untuned models keep their Table 2 runs.
    rq1 = decisions.rq1_specs(prof)
    untuned = decisions.table2_specs(prof, profiles.available_models())
    assert [s for s in rq1 if s.model in ("bprmf", "attrec")] == tuned
    assert [s for s in rq1 if s.model not in ("bprmf", "attrec")] == [s for s in untuned if s.model not in ("bprmf", "attrec")]
    choices = decisions.tuned_choices(prof)
    assert list(choices["trials"]) == [3, 3] and "omega=" in choices["chosen setting"].iloc[1]


def test_a_profile_refuses_to_tune_a_model_without_a_search_space():
    import dataclasses
    for bad in ("pop", "ease"):
        with pytest.raises(ValueError, match=bad):
            dataclasses.replace(profiles.profile("tiny"), tuned_models=(bad,))
    assert set(profiles.profile("full").tuned_models) == set(LEARNED) | {"attrec"}


def test_the_plan_in_parts_adds_up_to_the_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")
    assert all_runs.all_specs(prof, parts=["tuning-trials"]) == decisions.learned_trial_specs(prof)
    together = {s.key for part in all_runs.PARTS for s in all_runs.all_specs(prof, parts=[part])}
    assert together == {s.key for s in all_runs.all_specs(prof)}
    with pytest.raises(ValueError, match="unknown part"):
        all_runs.all_specs(prof, parts=["tuning"])


def test_filling_one_part_runs_its_second_phase_and_nothing_else(tmp_path, monkeypatch):
    from attrec_lib.study import all_runs
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")
    all_runs.fill_profile(prof, workers=0, progress=False, parts=["tuning-trials"])
    expected = {s.key for s in decisions.learned_trial_specs(prof) + decisions.tuned_table2_specs(prof, cached_only=True)}
    assert {p.stem for p in tmp_path.glob("*.json")} == expected and decisions.tuned_table2_specs(prof, cached_only=True)


FULL_BUDGET = Budget(n_trials=8)


@pytest.mark.parametrize("name", profiles.LEARNED_MODELS)
def test_every_learned_models_trial_0_is_its_default_then_its_draws(name):
    prof = profiles.profile("tiny")
    specs = tuning.trial_specs(prof, "ml-100k", name, FULL_BUDGET)
    default = builders.spec_for(prof, "ml-100k", name, 0, train=FULL_BUDGET.train())
    assert specs[0] == default and len({s.key for s in specs}) == len(specs) == 9  # every learned model alike
    # the draws keep their order and their keys (cached trials stay valid); one equal to the default
    # is skipped and the next draw takes its place
    drawn = [tuning._trial_spec(prof, "ml-100k", name, FULL_BUDGET, s, {}) for s in spaces.draw_settings(name, 9)]
    assert specs[1:] == [s for s in drawn if s.key != default.key][:8]
    trials = tuning._trials(prof, "ml-100k", name, FULL_BUDGET)
    assert spaces.setting_of(default, spaces.search_space(name)) == trials[0][0]


def test_attrecs_drawn_default_is_not_tried_twice():
    prof = profiles.profile("tiny")
    draws = spaces.draw_settings("attrec", 8)
    default = builders.spec_for(prof, "ml-100k", "attrec", 0, train=FULL_BUDGET.train())
    paper = spaces.setting_of(default, spaces.search_space("attrec"))
    assert draws[2] == paper  # the paper's grid point is AttRec's third draw
    settings = [s for s, _ in tuning._trials(prof, "ml-100k", "attrec", FULL_BUDGET)]
    assert settings == [paper] + draws[:2] + draws[3:] + spaces.draw_settings("attrec", 9)[8:]


def test_simple_baselines_have_no_default_trial():
    prof = profiles.profile("tiny")
    specs = tuning.trial_specs(prof, "ml-100k", "ease", FULL_BUDGET)
    assert [s.model_config["l2"] for s in specs] == [s["l2"] for s in spaces.draw_settings("ease", 8)]
    assert not spaces.has_default_trial("ease") and spaces.has_default_trial("sasrec")


def test_the_default_is_chosen_when_no_draw_beats_it_on_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    prof = profiles.profile("tiny")
    budget = Budget(n_trials=2, epochs=1, patience=0)
    valid = iter([0.5, 0.5, 0.2])  # the default ties the first draw: the default (first) wins

    def scripted(specs, **kwargs):
        return pd.DataFrame({"valid_hr@50": [next(valid) for _ in specs], "hr@50": [0.1, 0.9, 0.9]})
    monkeypatch.setattr(grid, "run_grid", scripted)
    tuned = tuning.tune(prof, "synthetic-planted", "bprmf", budget)
    assert tuned["chosen"] == 0 and tuned["default"] and list(tuned["trials"]["default"]) == [True, False, False]


def test_a_fixed_tuning_holds_the_field_and_draws_with_its_own_seed():
    prof = profiles.profile("tiny")
    fixed = {"omega": 0.2}
    specs = tuning.trial_specs(prof, "ml-100k", "attrec", FULL_BUDGET, fixed)
    assert len({s.key for s in specs}) == 9 and {s.model_config["omega"] for s in specs} == {0.2}
    assert specs[0] == builders.spec_for(prof, "ml-100k", "attrec", 0, train=FULL_BUDGET.train())  # omega 0.2 is the default
    draws = spaces.draw_settings("attrec", 8, fixed=fixed)
    assert all("omega" not in s for s in draws) and draws != spaces.draw_settings("attrec", 8)
    with pytest.raises(ValueError, match="omegaa"):
        spaces.draw_settings("attrec", 8, fixed={"omegaa": 0.2})
    import dataclasses
    with pytest.raises(ValueError, match="omegaa"):
        dataclasses.replace(prof, tuned_fixed=(("attrec", (("omegaa", 0.2),)),))
    both = dataclasses.replace(prof, tuned_fixed=(("attrec", (("omega", 0.2),)),))
    assert decisions.tunings(both) == [("bprmf", None), ("attrec", None), ("attrec", {"omega": 0.2})]
    assert decisions.tuning_labels(both)["attrec[omega=0.2]"] == "AttRec (omega fixed at 0.2)"
    assert [s.model_config["omega"] for s in decisions.learned_trial_specs(both)[6:]] == [0.2] * 3


def test_an_edge_choice_is_flagged_and_an_inner_one_is_not():
    trials = pd.DataFrame({"l2": [500.0, 1.14, 489.0, 74.3], "valid_hr@50": [0.40, 0.30, 0.45, 0.44]})
    flags = tuning.edge_flags(trials, "ease", chosen=2)  # 489 is not the largest tried: 500 is
    assert flags == []
    space = spaces.search_space("ease")["l2"]
    flags = tuning.edge_flags(trials, "ease", chosen=0)
    assert flags == [f"l2=500 is the largest value tried (range [{space.low:g}, {space.high:g}])"]
    assert tuning.edge_flags(trials, "ease", chosen=1) == [
        f"l2=1.14 is the smallest value tried (range [{space.low:g}, {space.high:g}])"]
    # a grid value (a Choice) at the end of its list is not a continuous range: not flagged
    grid = pd.DataFrame({"omega": [0.2, 1.0], "reg_embeddings/reg_weights": [0.001, 0.0001], "qk_dropout": [0.0, 0.0]})
    assert tuning.edge_flags(grid, "attrec", chosen=1) == []


def test_a_log_grid_is_enumerated_whole_and_its_ends_are_edges():
    from attrec_lib.models.distributions import LogGrid
    with pytest.raises(ValueError, match="increasing"):
        LogGrid((10.0, 3.0))
    with pytest.raises(ValueError, match="positive"):
        LogGrid((0.0, 3.0))
    grid = spaces.search_space("ease")["l2"]
    assert isinstance(grid, LogGrid) and (grid.low, grid.high) == (10.0, 30000.0)
    # the 8-trial budget tries every grid value, in order: no draw can leave a stretch untried
    assert spaces.draw_settings("ease", 8) == [{"l2": v} for v in grid.values]
    # widened from the log-uniform range whose draws chose their largest value (notebook 01 says so)
    assert spaces.widened("ease") == {"l2": (1.0, 1e4)} and grid.high > 1e4
    trials = pd.DataFrame({"l2": list(grid.values), "valid_hr@50": [0.1] * 8})
    assert tuning.edge_flags(trials, "ease", chosen=7) == ["l2=30000 is the largest value tried (range [10, 30000])"]
    assert tuning.edge_flags(trials, "ease", chosen=0) == ["l2=10 is the smallest value tried (range [10, 30000])"]
    assert tuning.edge_flags(trials, "ease", chosen=3) == []
