"""Issue 24: bad values found by the fault probes get one line naming the field, variable or
file and exit code 2 (a traceback only with --debug); make's yes/no flags; relative paths in the
environment; committed figures are never the default output folder."""
import os
import subprocess
import time
from pathlib import Path

import pytest
import torch

from attrec_lib.report import cli
from attrec_lib.settings import paths
from attrec_lib.study import profiles
from attrec_lib.settings.validation import whole_number


def one_line_error(capsys, *argv) -> str:
    code = cli.main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    return err[0]


def test_a_field_given_twice_in_set_is_an_error_naming_it(capsys):
    line = one_line_error(capsys, "run", "--dataset", "synthetic-planted", "--set", "d=20", "d=30")
    assert "--set: field 'd' is given twice ('d=20' and 'd=30')" in line
    line = one_line_error(capsys, "run", "--dataset", "synthetic-planted", "--train", "lr=0.1", "lr=0.2")
    assert "--train: field 'lr' is given twice" in line


@pytest.mark.parametrize("device,said", [("gpu", "is not a device"), ("cuda:x", "is not a device"),
                                         ("cuda", "no CUDA device"), ("cuda:3", "CUDA device")])
def test_device_is_checked_before_anything_runs(capsys, monkeypatch, device, said):
    if torch.cuda.is_available() and said == "no CUDA device":
        pytest.skip("this machine has CUDA")
    started = []
    monkeypatch.setattr("attrec_lib.runs.compute.run", lambda *a, **k: started.append(a))
    monkeypatch.setattr("attrec_lib.study.all_runs.fill_profile", lambda *a, **k: started.append(a))
    for argv in (["run", "--dataset", "synthetic-planted", "--device", device],
                 ["grid", "--profile", "tiny", "--workers", "0", "--device", device]):
        line = one_line_error(capsys, *argv)
        assert f"--device {device}" in line and said in line, line
    assert started == []


@pytest.mark.parametrize("seed", [-1, 2**32, 10**30])
def test_seed_out_of_range_names_the_seed(capsys, seed):
    line = one_line_error(capsys, "run", "--dataset", "synthetic-planted", "--seed", str(seed))
    assert f"--seed {seed} is out of range" in line


@pytest.mark.parametrize("value", ["1764237600000", str(time.time() + 3 * 86400)])
def test_fresh_since_in_the_future_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("ATTREC_FRESH_SINCE", value)  # milliseconds: every result stale for ever
    with pytest.raises(paths.SettingError, match=rf"ATTREC_FRESH_SINCE='{value}' is in the future"):
        paths.fresh_since()


@pytest.mark.parametrize("value", ["-5", "-1764237600"])
def test_fresh_since_before_1970_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("ATTREC_FRESH_SINCE", value)  # was accepted: a silent no-op
    with pytest.raises(paths.SettingError, match=rf"ATTREC_FRESH_SINCE='{value}' is before 1970"):
        paths.fresh_since()


def test_fresh_since_now_is_accepted(monkeypatch):
    monkeypatch.setenv("ATTREC_FRESH_SINCE", str(time.time()))
    assert paths.fresh_since() > 0


@pytest.mark.parametrize("value", [1.9, "1.9", True, "x", 0, "0"])
def test_epochs_parameter_is_parsed_strictly(value):
    with pytest.raises(ValueError, match="parameter epochs must be"):
        profiles.profile("tiny", epochs=value)


@pytest.mark.parametrize("value,expected", [(3, 3), (3.0, 3), ("3", 3), (" 2 ", 2)])
def test_epochs_parameter_accepts_whole_numbers(value, expected):
    assert profiles.profile("tiny", epochs=value).epochs == expected
    assert whole_number(value, "x") == expected


def test_a_notebook_run_by_hand_writes_figures_to_scratch(monkeypatch):
    monkeypatch.delenv("ATTREC_FIGURES_DIR")
    assert paths.figures_dir() == paths.SCRATCH_FIGURES_DIR != paths.FIGURES_DIR
    monkeypatch.setenv("ATTREC_FIGURES_DIR", "figures")  # told otherwise
    paths.absolute_environment(paths.REPO_ROOT)
    assert paths.figures_dir() == paths.FIGURES_DIR


def test_relative_paths_in_the_environment_are_taken_from_the_starting_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("ATTREC_RESULTS_DIR", "relres")
    monkeypatch.setenv("ATTREC_DATA_MIRROR", "mirror")
    monkeypatch.setenv("ATTREC_FIGURES_DIR", "/abs/figs")
    paths.absolute_environment()
    assert os.environ["ATTREC_RESULTS_DIR"] == str(tmp_path / "relres")
    assert os.environ["ATTREC_FIGURES_DIR"] == "/abs/figs"
    monkeypatch.chdir(paths.REPO_ROOT / "notebooks")  # where the kernels run
    assert paths.results_dir() == tmp_path / "relres" and paths.data_mirror() == tmp_path / "mirror"


def test_the_cli_resolves_relative_paths_before_running(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATTREC_RESULTS_DIR", "relres")
    assert cli.main(["grid", "--profile", "tiny", "--list"]) == 0
    assert os.environ["ATTREC_RESULTS_DIR"] == str(tmp_path / "relres")


def make(*args, cwd=paths.REPO_ROOT):
    return subprocess.run(["make", "-n", *args, "NO_SETUP=1"], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("words", [("FRESH=true", "PUBLISH=yes"), ("FRESH=1", "PUBLISH=TRUE"), ("FRESH=on", "PUBLISH=Y")])
def test_make_flags_accept_yes_true_1(words):
    out = make("paper", *words)
    assert out.returncode == 0, out.stderr
    assert "--fresh" in out.stdout and "--publish" in out.stdout


@pytest.mark.parametrize("words", [("FRESH=0", "PUBLISH=no"), ("FRESH=false", "PUBLISH=")])
def test_make_flags_accept_no(words):
    out = make("paper", *words)
    assert out.returncode == 0, out.stderr
    assert "--fresh" not in out.stdout and "--publish" not in out.stdout


@pytest.mark.parametrize("word", ["FRESH=maybe", "PUBLISH=2", "DEBUG=yess", "ALLOW_MISSING_DATA=x"])
def test_make_flags_reject_other_values_naming_the_variable(word):
    out = make("paper", word)
    name, value = word.split("=")
    assert out.returncode == 2
    assert f"{name}={value} is not a yes/no value" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_full_disk_names_the_file_being_written(tmp_path):
    import errno

    from attrec_lib.settings.atomic import replace_atomically

    def full(fh):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "results" / "abc.json"
    with pytest.raises(OSError, match=rf"No space left on device: cannot write {target}") as info:
        replace_atomically(target, full)
    assert info.value.errno == errno.ENOSPC
    assert list(target.parent.iterdir()) == []  # no temporary file left


@pytest.mark.parametrize("seeds", [-1, "-1", "0,-1", 2**32, [0, 10**30]])
def test_a_seeds_parameter_out_of_range_names_it(seeds):
    """papermill ``-p seeds -1`` ended in numpy's "expected non-negative integer", naming nothing."""
    with pytest.raises(ValueError, match=r"parameter seeds: -?\d+ is out of range: a seed is a whole number"):
        profiles.profile("tiny", seeds=seeds)


def test_a_spec_with_a_seed_out_of_range_names_the_seed():
    from attrec_lib.runs import runspec
    with pytest.raises(ValueError, match=r"seed -1 is out of range"):
        runspec.make_spec("synthetic-planted", "pop", seed=-1)
    assert runspec.make_spec("synthetic-planted", "pop", seed=2**32 - 1).seed == 2**32 - 1
