"""A run's key records the class of device it is computed on (a GPU rounds differently), so a GPU
result never replaces or is served as a CPU result; a CPU run stays on the CPU where a GPU is present."""
import pytest
import torch

from attrec_lib.report import cli
from attrec_lib.runs import compute, runspec

TRAIN = {"epochs": 1, "batch_size": 64}


def spec(**kw):
    return runspec.make_spec("synthetic-planted", "attrec", "paper", seed=0, train=TRAIN, d=8, seq_len=3, **kw)


def test_a_cpu_specs_key_is_what_it_was_and_a_cuda_spec_has_its_own():
    cpu, cuda = spec(), spec(device_class="cuda")
    assert "device_class" not in cpu.to_dict() and cpu.key == spec(device_class="cpu").key
    assert cuda.to_dict()["device_class"] == "cuda" and cuda.key != cpu.key
    assert runspec.RunSpec.from_dict(cuda.to_dict()).key == cuda.key
    with pytest.raises(ValueError, match="device_class must be one of"):
        spec(device_class="tpu")


def test_a_run_is_computed_on_its_specs_device_class_and_refuses_another():
    assert compute.device_for(spec()) == torch.device("cpu")  # not cuda, even where cuda is available
    assert compute.device_for(spec(device_class="cuda"), "cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match="is a cpu run: computing it on cuda would give other bits"):
        compute.execute(spec(), device="cuda")
    with pytest.raises(ValueError, match="is a cuda run"):
        compute.device_for(spec(device_class="cuda"), "cpu")


def test_a_profiles_grid_on_a_gpu_runs_its_learned_models_there(capsys, monkeypatch):
    monkeypatch.setattr(cli, "check_device", lambda text, address=None: None)  # as if this machine had CUDA
    code = cli.main(["grid", "--profile", "tiny", "--device", "cuda:1"])
    err = capsys.readouterr().err
    assert code == 2 and "takes cpu or cuda" in err and len(err.strip().splitlines()) == 1
    seen = []
    monkeypatch.setattr("attrec_lib.study.all_runs.fill_profile", lambda prof, **kw: seen.append(
        (kw["device"], runspec.default_device_class("attrec"), runspec.default_device_class("ease"))))
    assert cli.main(["grid", "--profile", "tiny", "--workers", "0", "--device", "cuda"]) == 0
    # each run on its spec's class: learned models' specs are GPU ones, the fitted ones stay on the CPU
    assert seen == [(None, "cuda", "cpu")]
    assert runspec.default_device_class("attrec") == "cpu"  # after the grid, as before it
