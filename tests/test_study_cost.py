"""The study-cost benchmark: its estimate of the committed runs' cost, and one real measurement."""
import json

import pytest

from attrec_lib.bench import study_cost


def _times(**kw):
    base = {"epoch_s": 2.0, "eval_s": 0.5, "trainable": True, "n_train": 1000}
    return {**base, **kw}


def test_a_run_costs_its_epochs_and_evaluations_at_the_measured_times():
    times = {("attrec", "ml-100k"): _times()}
    shapes = {"ml-100k": {"interactions": 100, "cells": 10}}
    run = {"model": "attrec", "dataset": "ml-100k", "epochs": 30, "evals": 30, "wall_s": 0.0}
    assert study_cost.run_seconds(run, times, shapes) == pytest.approx(30 * 2.0 + 30 * 0.5)


def test_an_unbenchmarked_data_set_borrows_the_nearest_one_scaled_by_its_size():
    times = {("attrec", "ml-100k"): _times(), ("attrec", "ml-1m-first2999"): _times(epoch_s=20.0, eval_s=5.0)}
    shapes = {"ml-100k": {"interactions": 100, "cells": 10}, "ml-1m-first2999": {"interactions": 1000, "cells": 100},
              "lastfm": {"interactions": 50, "cells": 40}}
    run = {"model": "attrec", "dataset": "lastfm", "epochs": 10, "evals": 2, "wall_s": 0.0}
    # nearest by interactions is ML-100K: epochs scale 50/100, evaluations 40/10
    assert study_cost.run_seconds(run, times, shapes) == pytest.approx(10 * 2.0 * 0.5 + 2 * 0.5 * 4.0)


def test_a_fitted_model_pays_one_fit_whatever_its_epochs():
    times = {("ease", "ml-100k"): _times(epoch_s=3.0, eval_s=1.0, trainable=False)}
    shapes = {"ml-100k": {"interactions": 100, "cells": 10}}
    run = {"model": "ease", "dataset": "ml-100k", "epochs": 7, "evals": 1, "wall_s": 0.0}
    assert study_cost.run_seconds(run, times, shapes) == pytest.approx(3.0 + 1.0)


def test_estimate_sums_core_hours_per_model_and_in_total():
    times = {("attrec", "ml-100k"): _times(epoch_s=36.0, eval_s=0.0), ("bprmf", "ml-100k"): _times(epoch_s=72.0, eval_s=0.0)}
    shapes = {"ml-100k": {"interactions": 100, "cells": 10}}
    runs = [{"model": m, "dataset": "ml-100k", "epochs": 100, "evals": 0, "wall_s": 0.0} for m in ("attrec", "bprmf", "bprmf")]
    cost = study_cost.estimate(runs, times, shapes)
    assert cost == pytest.approx({"attrec": 1.0, "bprmf": 4.0, "total": 5.0})


def test_committed_runs_reads_epochs_and_evaluations_and_names_a_bad_file(tmp_path):
    record = {"spec": {"model": "attrec", "dataset": "ml-100k"}, "epochs_run": 12,
              "history": [{"epoch": e} for e in range(1, 13, 2)], "wall_seconds": 30.0}
    (tmp_path / "a.json").write_text(json.dumps(record))
    assert study_cost.committed_runs(tmp_path) == [
        {"model": "attrec", "dataset": "ml-100k", "epochs": 12, "evals": 6, "wall_s": 30.0}]
    (tmp_path / "b.json").write_text("[]")
    with pytest.raises(SystemExit, match="b.json"):
        study_cost.committed_runs(tmp_path)


def test_against_a_name_that_is_no_commit_is_one_clear_error():
    with pytest.raises(SystemExit, match="not-a-commit"):
        study_cost.worktree("not-a-commit")


def test_one_measurement_in_a_child_process_times_epochs_and_evaluations():
    out = study_cost.measure(study_cost.paths.REPO_ROOT, "synthetic-planted", "bprmf", epochs=2, eval_repeats=1)
    assert out["trainable"] is True
    assert out["epoch_s"] > 0 and out["eval_s"] > 0 and out["n_train"] > 0
