"""``make gpu-study`` in its CPU dry run: the same code path as on a GPU host (runs in spawned
worker processes, compared with the CPU run of the same spec), on the tiny profile; here the
twin is computed on the CPU too, so every difference must be exactly zero. And the projection
of the full profile's wall time from the measured GPU/CPU ratios."""
import json

import pytest

from attrec_lib.bench import gpu_study
from attrec_lib.runs import runspec


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_dry_run_runs_every_learned_run_in_workers_and_matches_the_cpu_bits(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / "gpu-study.json"
    assert gpu_study.main(["--dry-run", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    specs = gpu_study.study_specs(dry_run=True)
    assert report["dry_run"] and len(report["runs"]) == len(specs) > 3 and not report["failed"]
    assert {r["key"] for r in report["runs"]} == {s.key for s in specs}
    assert all(runspec.is_learned(s.model) for s in specs)
    # the worker processes give the bits of a run in this process: no difference at all
    for run in report["runs"]:
        assert all(d == 0.0 for d in run["diff_from_cpu"].values() if d is not None), run
        assert run["diff_from_cpu"]["hr@50"] is not None
    assert report["runs_per_minute"] > 0
    assert list((tmp_path / "results").glob("*.json")) == []  # nothing cached: the bench writes no result


def test_the_projection_scales_each_models_recorded_cpu_time_by_its_measured_ratio(monkeypatch):
    from attrec_lib import study
    from attrec_lib.runs import store
    specs = [runspec.make_spec("ml-100k", "attrec", seed=s) for s in (0, 1)] + [
        runspec.make_spec("ml-100k", "caser"), runspec.make_spec("ml-100k", "ease")]
    walls = {specs[0].key: 100.0, specs[1].key: 300.0, specs[2].key: 400.0, specs[3].key: 60.0}
    monkeypatch.setattr(study, "all_specs", lambda prof: specs)
    monkeypatch.setattr(store, "load_result", lambda spec: {"wall_seconds": walls[spec.key]})
    rows = [{"key": "g0", "model": "attrec", "wall_s": 10.0}, {"key": "g1", "model": "attrec", "wall_s": 30.0}]
    reference = {"g0": {"wall_seconds": 100.0}, "g1": {"wall_seconds": 100.0}}  # ratios 0.1, 0.3: median 0.2
    p = gpu_study.project_full_profile(rows, reference, slots=4, cores=2)
    assert p["gpu_over_cpu_wall"] == {"attrec": pytest.approx(0.2)}
    assert p["unmeasured_models"] == ["caser"]  # scaled by the median ratio of the measured models
    assert p["learned_cpu_core_h"] == pytest.approx(800 / 3600)
    assert p["learned_wall_h"] == pytest.approx((400 * 0.2 + 400 * 0.2) / 4 / 3600)
    assert p["fitted_wall_h"] == pytest.approx(60 / 2 / 3600)
    assert p["projected_wall_h"] == pytest.approx(max(40, 30) / 3600)
