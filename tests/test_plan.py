"""grid.plan: runs needed, cached, to compute, and the compute time estimated from the
recorded speed of cached runs of the same model and data set."""
import json

import pytest

from attrec_lib.engines import grid
from attrec_lib.runs import runspec, store
from attrec_lib.runs.runspec import make_spec


def cache(spec, seconds_per_epoch, epochs_run):
    path = store.result_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {f: None for f in store.RESULT_FIELDS}  # a complete record of the current version
    record.update({"format": store.RESULT_FORMAT, "results_version": runspec.RESULTS_VERSION,
                   "spec": spec.to_dict(), "spec_key": spec.key, "finished_at": 1.0,
                   "seconds_per_epoch": seconds_per_epoch, "epochs_run": epochs_run})
    path.write_text(json.dumps(record))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    monkeypatch.delenv("ATTREC_FRESH_SINCE", raising=False)
    return tmp_path


def spec(seed, model="attrec", epochs=40):
    return make_spec("synthetic-planted", model, None, seed, train={"epochs": epochs})


def test_counts_and_estimate(results):
    cache(spec(0), seconds_per_epoch=2.0, epochs_run=10)
    cache(spec(1), seconds_per_epoch=4.0, epochs_run=20)
    wanted = [spec(0), spec(1), spec(2), spec(3, epochs=5), spec(0, model="pop"), spec(2)]  # spec(2) twice
    plan = grid.plan(wanted)
    assert (plan.total, plan.cached, plan.to_compute) == (5, 2, 3)
    assert [s.key for s in plan.missing] == [spec(2).key, spec(3, epochs=5).key, spec(0, model="pop").key]
    # median 3 s/epoch x median 15 epochs for seed 2; x its cap of 5 epochs for seed 3; pop has no timing
    assert plan.estimated_runs == 2
    assert plan.estimated_seconds == pytest.approx(3.0 * 15 + 3.0 * 5)
    text = plan.describe()
    assert "5 runs needed, 2 cached, 3 to compute" in text and "1 min 00 s" in text
    assert "2 of 3 runs" in text and "1 run(s)" in text


def test_nothing_to_compute(results):
    cache(spec(0), 1.0, 3)
    plan = grid.plan([spec(0)])
    assert (plan.total, plan.cached, plan.to_compute, plan.estimated_seconds) == (1, 1, 0, 0.0)
    assert plan.describe() == "plan: 1 runs needed, 1 cached, 0 to compute"


def test_fresh_build_plans_every_run(results, monkeypatch):
    cache(spec(0), 1.0, 3)
    monkeypatch.setenv("ATTREC_FRESH_SINCE", "2.0")  # the cached result finished at 1.0: stale
    plan = grid.plan([spec(0)])
    assert (plan.cached, plan.to_compute, plan.estimated_seconds) == (0, 1, 3.0)


def test_plan_by_part_prints_one_line_per_group(results, capsys):
    from attrec_lib.report import paper
    from attrec_lib.study import all_runs
    paper.print_plan("tiny", by_part=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("plan: ")
    for part in all_runs.PARTS:
        assert any(line.split()[0] == part for line in lines[1:] if line.strip())
