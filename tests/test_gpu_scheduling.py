"""Issue 23, GPU scheduling tested on the CPU: a GPU run (device class "cuda") asks Ray for a
share of a card and one CPU, a CPU run for one CPU; ``grid --device cuda`` makes a profile's
learned runs GPU runs with keys of their own while its fitted baselines stay CPU runs; a cluster
without the resource is one clear error before anything runs; and on a real loopback Ray
instance, runs asking for a share of a custom resource (standing in for the card) never exceed
what it holds at once, and give the serial bits."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from attrec_lib import study
from attrec_lib.engines import ray_engine
from attrec_lib.runs import runspec

PY = sys.executable


def test_a_gpu_run_asks_for_a_share_of_a_card_and_a_cpu_run_for_a_core(monkeypatch):
    cpu = runspec.make_spec("synthetic-planted", "attrec")
    gpu = runspec.make_spec("synthetic-planted", "attrec", device_class="cuda")
    assert ray_engine.task_options(cpu) == {"num_cpus": 1}
    assert ray_engine.task_options(gpu) == {"num_cpus": 1, "num_gpus": 1 / ray_engine.GPU_RUNS_PER_CARD}
    monkeypatch.setenv("ATTREC_GPU_RUNS_PER_CARD", "4")
    assert ray_engine.task_options(gpu)["num_gpus"] == 0.25
    for bad in ("0", "two"):
        monkeypatch.setenv("ATTREC_GPU_RUNS_PER_CARD", bad)
        with pytest.raises(ValueError, match="ATTREC_GPU_RUNS_PER_CARD"):
            ray_engine.task_options(gpu)


def test_learned_models_on_cuda_leaves_fitted_models_on_the_cpu():
    with runspec.learned_models_on("cuda"):
        learned, fitted = runspec.make_spec("ml-100k", "attrec"), runspec.make_spec("ml-100k", "ease")
        named = runspec.make_spec("ml-100k", "attrec", device_class="cpu")  # a call that names one wins
    assert (learned.device_class, fitted.device_class, named.device_class) == ("cuda", "cpu", "cpu")
    assert runspec.make_spec("ml-100k", "attrec").device_class == "cpu"  # only inside the block
    assert learned.key != named.key  # a GPU result is never served as the CPU one
    assert fitted.key == runspec.make_spec("ml-100k", "ease").key  # the committed CPU fit is reused
    with pytest.raises(ValueError, match="device_class"):
        with runspec.learned_models_on("tpu"):
            pass


def test_a_profile_built_for_the_gpu_keeps_its_specs_and_moves_only_the_learned_ones():
    prof = study.profile("tiny")
    on_cpu = study.all_specs(prof)
    with runspec.learned_models_on("cuda"):
        on_gpu = study.all_specs(prof)
    assert len(on_gpu) == len(on_cpu)
    for a, b in zip(on_cpu, on_gpu):
        assert b.device_class == ("cuda" if runspec.is_learned(a.model) else "cpu")
        assert b.to_dict() | {"device_class": "cpu"} == a.to_dict() | {"device_class": "cpu"}


def test_gpu_runs_on_a_cluster_without_a_gpu_are_one_error_before_anything_runs():
    specs = [runspec.make_spec("synthetic-planted", "attrec", device_class="cuda"),
             runspec.make_spec("synthetic-planted", "pop")]
    ray_engine.check_resources(specs, {"CPU": 2.0, "GPU": 1.0}, "local Ray")  # fits: no error
    with pytest.raises(ValueError, match=r"local Ray has no GPU .*1 of the 2 runs are GPU runs"):
        ray_engine.check_resources(specs, {"CPU": 2.0}, "local Ray")


SCHEDULE = """
import json, sys
from attrec_lib import study
from attrec_lib.engines import ray_engine
from attrec_lib.runs import runspec
specs = [s for s in study.all_specs(study.profile("tiny")) if s.protocol == "valid"]
learned = [s for s in specs if runspec.is_learned(s.model)][:4]
fitted = [s for s in specs if not runspec.is_learned(s.model)][:2]
# "accel" stands in for the card: each learned run takes all of it, so at most one at a time,
# while the fitted runs take only a core and may run beside it
ray_engine.LOCAL_EXTRA_RESOURCES = {"accel": 1}
real = ray_engine.task_options
ray_engine.task_options = lambda spec, per_card=None: (
    {"num_cpus": 1, "resources": {"accel": 1.0}} if runspec.is_learned(spec.model) else real(spec))
ray_engine.run_specs(learned + fitted, workers=4, progress=False)
print(json.dumps([s.key for s in learned]))
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_runs_sharing_a_resource_never_exceed_it_and_give_the_serial_bits(tmp_path):
    ray_tmp = Path(tempfile.mkdtemp(prefix="ar-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ATTREC_WORKERS")}
        env.update(ATTREC_RESULTS_DIR=str(tmp_path / "ray"), RAY_TMPDIR=str(ray_tmp), TMPDIR=str(ray_tmp),
                   RAY_USAGE_STATS_ENABLED="0", RAY_agent_register_timeout_ms="180000")
        proc = subprocess.run([PY, "-c", SCHEDULE], env=env, capture_output=True, text=True, timeout=500)
        assert proc.returncode == 0, proc.stderr[-3000:]
        learned = json.loads(proc.stdout.strip().splitlines()[-1])
        results = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "ray").glob("*.json")}
        assert set(learned) <= set(results) and len(results) == len(learned) + 2
        spans = sorted((results[k]["finished_at"] - results[k]["wall_seconds"], results[k]["finished_at"])
                       for k in learned)
        overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1] - 0.05]
        assert overlaps == [], f"runs holding the whole resource overlapped: {spans}"
        # the same runs in-process give the same bits (the scheduling changes no number)
        serial_env = {**env, "ATTREC_RESULTS_DIR": str(tmp_path / "serial")}
        script = ("from attrec_lib import study\nfrom attrec_lib.engines import ray_engine\n"
                  "specs = {s.key: s for s in study.all_specs(study.profile('tiny'))}\n"
                  f"ray_engine.run_specs([specs[k] for k in {sorted(results)!r}], workers=0, progress=False)\n")
        done = subprocess.run([PY, "-c", script], env=serial_env, capture_output=True, text=True, timeout=500)
        assert done.returncode == 0, done.stderr[-3000:]
        for key, result in results.items():
            serial = json.loads((tmp_path / "serial" / f"{key}.json").read_text())
            for field in ("spec", "selections", "history", "per_user", "epochs_run"):
                assert result[field] == serial[field], f"{key}: {field} differs from the serial run"
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _listed(out: str) -> list:
    """The rows of ``grid --list``: key, cached/missing, data set, model, seed."""
    return [row for row in (line.split() for line in out.splitlines())
            if len(row) == 5 and row[1] in ("cached", "missing")]


def test_grid_device_cuda_lists_the_learned_runs_under_gpu_keys(monkeypatch, capsys, tmp_path):
    from attrec_lib.report import cli
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path))
    assert cli.main(["grid", "--profile", "tiny", "--list"]) == 0
    on_cpu = [row[0] for row in _listed(capsys.readouterr().out)]
    assert cli.main(["grid", "--profile", "tiny", "--device", "cuda", "--list"]) == 2  # no CUDA here
    assert "this machine has no CUDA device" in capsys.readouterr().err
    monkeypatch.setattr(cli, "check_device", lambda text, address=None: None)  # as on a GPU host
    assert cli.main(["grid", "--profile", "tiny", "--device", "cuda", "--list"]) == 0
    on_gpu = _listed(capsys.readouterr().out)
    prof = study.profile("tiny")
    with runspec.learned_models_on("cuda"):
        expected = {s.key: s for s in study.all_specs(prof)}
    assert [row[0] for row in on_gpu] == list(expected) and len(on_gpu) == len(on_cpu)
    moved = {row[0] for row in on_gpu} - set(on_cpu)
    assert moved == {k for k, s in expected.items() if s.device_class == "cuda"} and moved
    assert {row[0] for row in on_gpu} & set(on_cpu) == {k for k, s in expected.items() if s.device_class == "cpu"}
