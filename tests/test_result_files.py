"""Issue 24: a result file that does not check out is moved aside with a warning naming it and
recomputed, in every command (run, grid, grid --list, plan, compact), never a traceback and
never something to delete by hand; an edited number fails the digest stored in the file; files
written before the digest existed still load, and ``compact`` adds it (same numbers)."""
import base64
import json
import os
import subprocess
import sys
import warnings
import zlib

import pytest

from attrec_lib.runs import compute, runspec, store
from attrec_lib.settings import paths

TINY = {"d": 8, "seq_len": 3, "n_targets": 2}
TRAIN = {"epochs": 2, "batch_size": 256}


@pytest.fixture
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("ATTREC_FRESH_SINCE", raising=False)
    return tmp_path / "results"


def spec(seed=0):
    return runspec.make_spec("synthetic-planted", "attrec", "paper", seed=seed, train=TRAIN, **TINY)


def damage_packed_array(path):
    """Change one character inside a packed per-user array so that it still decodes as base64
    but no longer inflates (the zlib stream's checksum fails)."""
    stored = json.loads(path.read_text())
    text = stored["per_user"]["valid_selected"]["test_ranks"]
    raw = bytearray(base64.b64decode(text[len(store.PACKED_PREFIX):]))
    raw[len(raw) // 2] ^= 0x55
    stored["per_user"]["valid_selected"]["test_ranks"] = store.PACKED_PREFIX + base64.b64encode(bytes(raw)).decode()
    with pytest.raises(zlib.error):
        zlib.decompress(bytes(raw))
    path.write_text(json.dumps(stored, indent=1, sort_keys=True))


def edit_a_metric_digit(path):
    text = path.read_text()
    stored = json.loads(text)
    value = stored["selections"]["valid_selected"]["test_hr@50"]
    stored["selections"]["valid_selected"]["test_hr@50"] = round(value + 0.01, 6)  # one digit up
    path.write_text(json.dumps(stored, indent=1, sort_keys=True))


def test_every_new_result_file_carries_the_digest_of_its_content(results_in_tmp):
    compute.run(spec(), progress=False)
    stored = json.loads(store.result_path(spec()).read_text())
    assert stored[store.DIGEST_FIELD] == store.content_digest(stored)
    assert store.DIGEST_FIELD not in store.load_result(spec())  # served without it


def test_an_edited_metric_fails_the_digest_and_is_recomputed(results_in_tmp):
    first = compute.run(spec(), progress=False)
    path = store.result_path(spec())
    edit_a_metric_digit(path)
    with pytest.warns(UserWarning, match=f"{path} does not check out.*does not match the digest.*moved aside"):
        assert store.load_result(spec()) is None
    again = compute.run(spec(), progress=False)
    assert again["selections"] == first["selections"]  # the edited number is never served


@pytest.mark.parametrize("damage", [damage_packed_array, edit_a_metric_digit])
@pytest.mark.parametrize("command", [["grid", "--profile", "tiny", "--list"], ["plan", "--profile", "tiny"],
                                     ["compact"]])
def test_damaged_files_never_stop_a_command(results_in_tmp, damage, command):
    """The file of a tiny-profile run, damaged: each command goes on (exit 0), names the file in a
    warning and moves it aside; none prints a traceback."""
    from attrec_lib.study import all_runs, profiles
    target = all_runs.all_specs(profiles.profile("tiny"))[0]
    compute.run(target, progress=False)
    path = store.result_path(target)
    if damage is damage_packed_array:  # an older file (no digest), so that the arrays themselves are what fails
        stored = json.loads(path.read_text())
        stored.pop(store.DIGEST_FIELD)
        path.write_text(json.dumps(stored))
    damage(path)
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(results_in_tmp)}
    proc = subprocess.run([sys.executable, "-m", "attrec_lib", *command], cwd=paths.REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"{path} does not check out" in proc.stderr and "moved aside" in proc.stderr
    assert not path.exists() and len(list((results_in_tmp / store.ASIDE_DIR).iterdir())) == 1


def test_no_cache_and_fresh_runs_get_past_a_damaged_file(results_in_tmp, monkeypatch):
    import time
    compute.run(spec(), progress=False)
    store.result_path(spec()).write_text("[]")
    monkeypatch.setenv("ATTREC_FRESH_SINCE", str(time.time()))
    with pytest.warns(UserWarning, match="moved aside"):
        assert compute.run(spec(), progress=False)["spec_key"] == spec().key


def test_every_committed_result_carries_the_digest_of_its_content():
    """An edited digit in a committed result file fails its digest (it was served as is: 963 of
    the committed files were written before the digest existed; ``compact`` added it, same numbers)."""
    committed = sorted((paths.REPO_ROOT / "results").glob("*.json"))
    assert committed
    without = [p.name for p in committed if store.DIGEST_FIELD not in json.loads(p.read_text())]
    assert without == [], f"{len(without)} committed result file(s) without a digest (run `python -m attrec_lib compact`)"
    for path in committed:
        stored = json.loads(path.read_text())
        assert stored[store.DIGEST_FIELD] == store.content_digest(stored), path.name


def test_a_committed_result_without_a_digest_loads_unchanged(results_in_tmp):
    """A file written before the digest existed (a committed ML-100K result with its digest taken
    out) loads as before, without a warning."""
    committed = sorted((paths.REPO_ROOT / "results").glob("*.json"))
    with_data = [p for p in committed if json.loads(p.read_text())["spec"]["dataset"] == "ml-100k"][:1]
    if not with_data or not (os.environ.get("ATTREC_DATA_MIRROR") or (paths.RAW_DIR / "ml-100k").is_dir()):
        pytest.skip("needs a committed ML-100K result and the raw ML-100K file")
    results_in_tmp.mkdir(parents=True)
    stored = json.loads(with_data[0].read_text())
    stored.pop(store.DIGEST_FIELD, None)
    (results_in_tmp / with_data[0].name).write_text(json.dumps(stored, indent=1, sort_keys=True))
    s = runspec.RunSpec.from_dict(stored["spec"])
    assert s.key == with_data[0].stem  # the key is unchanged by the digest
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = store.load_result(s)
    assert loaded["selections"] == stored["selections"]


def test_compact_adds_the_digest_to_older_files_with_the_same_numbers(results_in_tmp):
    first = compute.run(spec(), progress=False)
    path = store.result_path(spec())
    stored = json.loads(path.read_text())
    stored.pop(store.DIGEST_FIELD)
    path.write_text(json.dumps(stored, indent=1, sort_keys=True))  # as written before issue 24
    out = store.compact_results(results_in_tmp)
    assert (out["rewritten"], out["moved_aside"]) == (1, 0)
    upgraded = json.loads(path.read_text())
    assert upgraded[store.DIGEST_FIELD] == store.content_digest(upgraded)
    assert store.load_result(spec())["selections"] == first["selections"]
    assert store.compact_results(results_in_tmp)["rewritten"] == 0


# --- errors that name the setting behind them ---------------------------------------------------

def test_a_diverging_run_names_the_learning_rate(results_in_tmp, capsys):
    from attrec_lib.report import cli
    code = cli.main(["run", "--dataset", "synthetic-planted", "--set", "d=8", "--train", "lr=1e30",
                     'optimizer="adam"', "--epochs", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "the training diverged" in err[0] and "train_config.lr=1e+30" in err[0]


@pytest.mark.parametrize("setting,named", [("d=1e12", "model config d=1000000000000 (default"),
                                           ("seq_len=10000", "model config seq_len=10000 (default")])
def test_a_run_too_large_for_memory_names_the_setting(results_in_tmp, capsys, setting, named):
    from attrec_lib.report import cli
    code = cli.main(["run", "--dataset", "synthetic-planted", "--set", setting, "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "out of memory" in err[0] and named in err[0]


@pytest.mark.parametrize("how", ["load", "compact"])
def test_the_move_aside_warning_names_the_file_once_and_asks_nothing(results_in_tmp, how):
    """The warning said "...; delete it to recompute); moved aside ..., and the run will be
    recomputed" (compact's also named the file twice): one instruction too many."""
    compute.run(spec(), progress=False)
    path = store.result_path(spec())
    path.write_text(json.dumps({"format": 3}))  # fields missing
    with pytest.warns(UserWarning) as caught:
        if how == "load":
            assert store.load_result(spec()) is None
        else:
            store.compact_results(results_in_tmp)
    said = " ".join(str(w.message) for w in caught)
    assert "missing field(s)" in said and "moved aside" in said
    assert "delete it" not in said and said.count(str(path)) == 1, said
