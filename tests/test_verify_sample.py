"""make verify-sample: a committed run recomputed in a fresh process is compared field by field."""
import copy

import pytest

from attrec_lib.report import verify_sample
from attrec_lib.runs import compute, runspec, store

TRAIN = {"epochs": 2, "batch_size": 64, "eval_every": 1}
TINY = {"d": 8, "seq_len": 3}


def _result():
    return {"spec_key": "k", "data_fingerprint": "f", "results_version": 3, "epochs_run": 2, "stopped_early": False,
            "history": [{"epoch": 1, "loss": 10.5, "valid_hr@50": 0.25}], "selections": {"v": {"hr@50": 0.5}},
            "per_user": {"v": {"ranks": [1, 2, 3]}}, "seconds_per_epoch": 1.0, "device": "cpu: x"}


def test_identical_numbers_with_other_timings_are_no_difference():
    a, b = _result(), _result()
    b["seconds_per_epoch"], b["device"] = 9.0, "cpu: y"  # recorded facts, not numbers of the run
    assert verify_sample.differences(a, b) == []


def test_a_changed_digit_or_rank_is_named_with_its_size():
    a, b = _result(), _result()
    b["history"][0]["loss"] = 10.5000001
    b["per_user"]["v"]["ranks"][2] = 5
    diffs = {d["field"]: d["max_abs_diff"] for d in verify_sample.differences(a, b)}
    assert set(diffs) == {"history", "per_user"}
    assert diffs["history"] == pytest.approx(1e-7, rel=1e-3) and diffs["per_user"] == 2.0
    assert verify_sample.within_tolerance([{"field": "history", "max_abs_diff": 1e-7}])
    assert not verify_sample.within_tolerance([{"field": "per_user", "max_abs_diff": 2.0}])


def test_sample_draws_one_run_per_model_on_the_given_sets_reproducibly():
    runs = [{"key": f"{m}{i}", "model": m, "dataset": ds, "path": None, "epochs_run": 1}
            for m in ("pop", "attrec") for i, ds in enumerate(("ml-100k", "ml-100k", "lastfm"))]
    picked = verify_sample.sample(runs, seed=3)
    assert [r["model"] for r in picked] == ["attrec", "pop"] and {r["dataset"] for r in picked} == {"ml-100k"}
    assert picked == verify_sample.sample(runs, seed=3)
    assert {r["dataset"] for r in verify_sample.sample(runs, seed=3, datasets=("lastfm",))} == {"lastfm"}


def test_a_cached_run_recomputes_bit_identical_and_an_edited_one_is_reported():
    spec = runspec.make_spec("synthetic-planted", "attrec", "paper", seed=0, train=TRAIN, **TINY)
    compute.run(spec, progress=False)
    runs = verify_sample.committed_runs()
    assert [r["key"] for r in runs] == [spec.key]
    lines = []
    assert verify_sample.verify(runs, log=lines.append) == 0
    assert "bit-identical" in lines[1] and lines[-1].endswith("1 of 1 reproduced")
    edited = copy.deepcopy(store.read_result_file(runs[0]["path"], spec.key))
    edited["history"][0]["loss"] += 1e-6
    store.write_result(runs[0]["path"], edited)  # a consistent file (digest rewritten) with one other number
    lines.clear()
    assert verify_sample.verify(runs, log=lines.append) == 1
    assert "DIFFERS: history" in lines[1]
    assert verify_sample.verify(runs, tolerance=True, log=lines.append) == 0  # a loss within float rounding


def test_the_headline_shows_the_selected_epoch_and_test_hr_both_ways():
    a, b = _result(), _result()
    a["selections"] = {"valid_selected": {"epoch": 9, "test_hr@50": 0.5}}
    b["selections"] = {"valid_selected": {"epoch": 8, "test_hr@50": 0.49}}
    assert verify_sample.headline(a, b) == "valid_selected: epoch 9 -> 8, test HR@50 0.5000 -> 0.4900"
