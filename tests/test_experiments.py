"""The run cache: specs, atomic results, killed runs, FRESH builds, the command line."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from attrec_lib.engines import grid
from attrec_lib.runs import compute, runspec, store
from attrec_lib.settings import paths

TINY = dict(d=8, seq_len=3, n_targets=2)
TRAIN = dict(epochs=2, batch_size=256)


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("ATTREC_FRESH_SINCE", raising=False)
    return tmp_path / "results"


def spec(seed=0, **overrides):
    return runspec.make_spec("synthetic-planted", "attrec", "paper", seed=seed, train=TRAIN,
                                 **{**TINY, **overrides})


def test_spec_key_is_stable_and_resolves_defaults():
    a = spec()
    b = runspec.make_spec("synthetic-planted", "attrec", "paper", train={**TRAIN, "lr": 0.05}, **TINY)
    assert a.key == b.key  # lr 0.05 is the default: same run
    assert spec(seed=1).key != a.key and spec(omega=0.3).key != a.key
    assert runspec.RunSpec.from_dict(a.to_dict()) == a


def test_released_preset_defaults_protocol_and_tie_rule():
    s = runspec.make_spec("ml-100k", "attrec", "released_code")
    assert (s.protocol, s.tie_rule, s.model_config["d"]) == ("released", "released", 150)


def test_run_writes_one_json_and_reuses_it(results_in_tmp):
    s = spec()
    first = compute.run(s, progress=False)
    files = list(results_in_tmp.glob("*.json"))
    assert [f.name for f in files] == [f"{s.key}.json"]
    stored = json.loads(files[0].read_text())
    assert stored["spec"] == s.to_dict()
    assert {"valid_selected", "test_selected"} == set(stored["selections"])
    assert stored["code_version"]["source_sha256"] and stored["versions"]["torch"]
    packed = stored["per_user"]["valid_selected"]["test_ranks"]  # stored packed (format 3)
    assert packed.startswith(store.PACKED_PREFIX) and len(store.unpack_ints(packed)) == 200
    assert store.unpack_ints(packed) == first["per_user"]["valid_selected"]["test_ranks"]
    mtime = files[0].stat().st_mtime_ns
    again = compute.run(s, progress=False)
    assert again["finished_at"] == first["finished_at"] and files[0].stat().st_mtime_ns == mtime


def test_same_spec_same_metrics_without_cache():
    a = compute.execute(spec(seed=5), progress=False)
    b = compute.execute(spec(seed=5), progress=False)
    assert a["history"] == b["history"]


def test_run_grid_returns_rows_and_runs_only_what_is_missing(results_in_tmp, capsys):
    compute.run(spec(seed=0), progress=False)
    df = grid.run_grid([spec(seed=0), spec(seed=1)], progress=True)
    err = capsys.readouterr().err
    assert "(cached)" in err and "(running)" in err
    assert list(df["seed"]) == [0, 1]
    assert {"hr@50", "mrr", "ndcg@10", "test_sel_hr@50", "valid_hr@50", "cfg.omega"} <= set(df.columns)
    assert len(list(results_in_tmp.glob("*.json"))) == 2


def test_fresh_since_recomputes_older_results():
    s = spec()
    first = compute.run(s, progress=False)
    os.environ["ATTREC_FRESH_SINCE"] = str(time.time())
    try:
        second = compute.run(s, progress=False)
    finally:
        del os.environ["ATTREC_FRESH_SINCE"]
    assert second["finished_at"] > first["finished_at"]


def test_corrupt_result_file_is_recomputed_with_a_warning(results_in_tmp):
    s = spec()
    results_in_tmp.mkdir(parents=True)
    path = results_in_tmp / f"{s.key}.json"
    path.write_text('{"spec": ')
    with pytest.warns(UserWarning, match=f"result file .*{s.key}.json does not check out.*moved aside"):
        result = compute.run(s, progress=False)
    assert json.loads(path.read_text())["spec_key"] == result["spec_key"] == s.key  # whole again
    assert [p.read_text() for p in (results_in_tmp / store.ASIDE_DIR).iterdir()] == ['{"spec": ']


def _cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "attrec_lib", *args], cwd=paths.REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_run_killed_midway_leaves_no_result_and_keeps_the_others(results_in_tmp):
    done = spec(seed=0)
    compute.run(done, progress=False)
    before = (results_in_tmp / f"{done.key}.json").read_bytes()
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(results_in_tmp)}
    # patience=0: never stops early, so 500 epochs take minutes and the kill lands mid-training
    proc = _cli("run", "--dataset", "synthetic-planted", "--preset", "paper", "--seed", "9", "--epochs", "500",
                "--set", "d=8", "--train", "patience=0", env=env)
    time.sleep(6)  # well inside training (500 epochs take minutes)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sorted(p.name for p in results_in_tmp.iterdir()) == [f"{done.key}.json"]
    assert (results_in_tmp / f"{done.key}.json").read_bytes() == before
    killed = runspec.make_spec("synthetic-planted", "attrec", "paper", seed=9,
                                   train={"epochs": 500, "patience": 0}, d=8)
    assert store.load_result(killed) is None


def test_command_line_prints_metrics(results_in_tmp):
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(results_in_tmp)}
    proc = _cli("run", "--dataset", "synthetic-planted", "--preset", "paper", "--epochs", "2",
                "--set", "d=8", "omega=0.3", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "valid_selected" in out and "hr@50=" in out and "s/epoch" in out
    assert len(list(results_in_tmp.glob("*.json"))) == 1


def test_command_line_rejects_bad_values(results_in_tmp):
    proc = _cli("run", "--dataset", "synthetic-planted", "--set", "omega=2")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "omega" in err
    proc = _cli("run", "--dataset", "synthetic-planted", "--preset", "nope")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "unknown preset" in err


# --- the run key, checked loads, one thread -------------------------------------------------

def test_key_normalises_types_and_ignores_eval_batch_size():
    a = spec(omega=0.2)
    b = runspec.make_spec("synthetic-planted", "attrec", "paper", train={**TRAIN, "lr": 0.05},
                              d=8.0, seq_len=3, n_targets=2, omega=0.2)
    assert a.key == b.key and b.model_config["d"] == 8 and isinstance(b.model_config["d"], int)
    raw = runspec.RunSpec(**{**a.to_dict(), "model_config": {**a.model_config, "omega": 1},
                                 "train_config": {**a.train_config, "epochs": 2.0}})
    assert raw.key == spec(omega=1.0).key
    assert runspec.make_spec("synthetic-planted", "attrec", "paper",
                                 train={**TRAIN, "eval_batch_size": 7}, **TINY).key == spec().key
    assert spec(omega=0.3).key != spec().key
    with pytest.raises(ValueError, match="self_attention"):
        runspec.RunSpec(**{**a.to_dict(), "model_config": {**a.model_config, "self_attention": 1}}).key


def test_key_depends_on_results_version_and_data(monkeypatch):
    s = spec()
    key = s.key
    monkeypatch.setattr(runspec, "RESULTS_VERSION", runspec.RESULTS_VERSION + 1)
    assert s.key != key
    monkeypatch.undo()
    monkeypatch.setattr(runspec, "data_fingerprint", lambda dataset, tie_rule: "another data set")
    assert s.key != key


def test_result_records_version_threads_and_commit(results_in_tmp):
    result = compute.run(spec(), progress=False)
    assert result["results_version"] == runspec.RESULTS_VERSION
    assert result["threads"] == 1 and "1 threads" in result["device"]
    assert "git_commit" in result["code_version"]
    assert result["data_fingerprint"] == runspec.data_fingerprint("synthetic-planted", "stable")


@pytest.mark.parametrize("change, message", [
    (lambda r: {}, "missing field"),
    (lambda r: {**r, "results_version": 1}, "results_version 1"),
    (lambda r: {**r, "format": 1}, "format 1"),
    (lambda r: {**r, "spec_key": "0123456789abcdef"}, "another run's result"),
    (lambda r: [r], "expected a JSON object"),
    (lambda r: [], "expected a JSON object"),
])
def test_a_result_file_that_does_not_check_out_is_moved_aside_and_recomputed(results_in_tmp, change, message):
    s = spec()
    result = compute.run(s, progress=False)
    path = results_in_tmp / f"{s.key}.json"
    path.write_text(json.dumps(change(result)))
    assert [p for p, _ in store.stale_results(results_in_tmp)] == [path]
    with pytest.warns(UserWarning, match=message) as seen:
        again = compute.run(s, progress=False)
    assert any(str(path) in str(w.message) and "moved aside" in str(w.message) for w in seen)
    assert again["selections"] == result["selections"]  # recomputed: the same numbers
    assert store.load_result(s)["selections"] == result["selections"] and store.stale_results(results_in_tmp) == []
    (aside,) = (results_in_tmp / store.ASIDE_DIR).iterdir()
    assert json.loads(aside.read_text()) == json.loads(json.dumps(change(result)))  # kept for reading


def test_another_runs_result_copied_under_this_name_is_moved_aside(results_in_tmp):
    a, b = spec(seed=0), spec(seed=1)
    compute.run(a, progress=False)
    (results_in_tmp / f"{a.key}.json").rename(results_in_tmp / f"{b.key}.json")
    with pytest.warns(UserWarning, match=b.key):
        assert compute.run(b, progress=False)["spec_key"] == b.key


def test_runs_are_bit_identical_in_a_process_with_two_threads(results_in_tmp):
    # d = 150 (released_code): large enough that 2 threads do change the losses (measured: three
    # 2-thread fits of this spec gave three different epoch-2 losses), so this fails without one_thread
    code = (
        "import json, sys, torch\n"
        "torch.set_num_threads(2)\n"
        "from attrec_lib.runs import compute, runspec\n"
        "s = runspec.make_spec('synthetic-planted', 'attrec', 'released_code', seed=3,\n"
        "                          train={'epochs': 2, 'batch_size': 256})\n"
        "a = compute.execute(s, device='cpu', progress=False)\n"
        "b = compute.execute(s, device='cpu', progress=False)\n"
        "assert torch.get_num_threads() == 2, 'thread count not restored'\n"
        "print(json.dumps([a['history'], b['history'], a['threads']]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, second, threads = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first == second  # exact: every float of every epoch
    assert threads == 1


def test_grid_list_reports_result_files_that_are_never_served(results_in_tmp):
    results_in_tmp.mkdir(parents=True)
    (results_in_tmp / "0123456789abcdef.json").write_text(json.dumps({"format": 1, "spec": {}}))
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(results_in_tmp)}
    out, err = _cli("grid", "--profile", "tiny", "--list", env=env).communicate(timeout=120)
    assert "1 file(s) under results/ are never served" in out, err
    assert "stale 0123456789abcdef.json: format 1" in out


def test_the_summary_line_says_where_the_numbers_were_computed_from_what_each_result_records():
    cpu = {"device": "cpu: x86_64, 1 threads", "threads": 1}
    gpu = {"device": "cuda: NVIDIA H200", "threads": 1}
    assert grid.device_summary([cpu, cpu]) == "all computed on the CPU, one thread each"
    assert grid.device_summary([{"device": "cpu: x86_64, 2 threads", "threads": 2}]) == \
        "all computed on the CPU, 2 threads"
    assert grid.device_summary([gpu]) == "all computed on a GPU (NVIDIA H200)"
    assert grid.device_summary([cpu, gpu, gpu]) == "computed on a GPU (NVIDIA H200) (2), the CPU, one thread (1)"
    assert grid.device_summary([]) == "no runs"


def test_a_notebook_reading_runs_without_the_grid_can_say_where_they_were_computed(results_in_tmp):
    compute.run(spec(seed=0), progress=False)
    assert grid.devices_of([spec(seed=0), spec(seed=0)]) == "1 run read: all computed on the CPU, one thread each"
    assert grid.devices_of([spec(seed=0), spec(seed=1)]) == \
        "2 runs read: all computed on the CPU, one thread each; 1 not in the cache"


def test_run_grid_logs_each_run_and_prints_one_summary_line(results_in_tmp, capsys):
    import logging
    compute.run(spec(seed=0), progress=False)
    records = []
    log = logging.getLogger("test.run_grid")
    log.setLevel(logging.INFO)
    handler = logging.Handler()
    handler.emit = records.append
    log.addHandler(handler)
    grid.run_grid([spec(seed=0), spec(seed=1), spec(seed=0)], progress=True, log=log)
    out = capsys.readouterr()
    assert out.out == "3 runs: 2 from the cache, 1 computed; all computed on the CPU, one thread each\n"
    assert "(cached)" not in out.err and "(running)" not in out.err  # the log got them instead
    lines = [r.getMessage() for r in records]
    assert [line.split()[-1] for line in lines] == ["(cached)", "(running)", "(cached)"]
    grid.run_grid([spec(seed=0)], progress=False, log=log)
    assert capsys.readouterr().out == "" and len(records) == 3


@pytest.mark.parametrize("values", [[], [0], [1, 2, 3, 2**31 - 1], list(range(5000))])
def test_packed_integer_arrays_read_back_exactly(values):
    text = store.pack_ints(values)
    assert text.startswith(store.PACKED_PREFIX) and store.unpack_ints(text) == values
    assert all(type(v) is int for v in store.unpack_ints(text))


@pytest.mark.parametrize("values", [[-1], [2**31], [[1, 2]]])
def test_packing_refuses_what_int32_cannot_hold(values):
    with pytest.raises(ValueError):
        store.pack_ints(values)


def _as_format_2(result: dict) -> dict:
    """The file form the previous code wrote: per-user arrays as JSON lists."""
    return {**result, "format": 2}


def test_compact_rewrites_format_2_files_with_the_same_numbers_and_smaller(results_in_tmp):
    specs = [spec(seed=0), spec(seed=1)]
    fresh = [compute.run(s, progress=False) for s in specs]
    for s, r in zip(specs, fresh):  # what the previous code wrote: format 2, per-user lists
        store.result_path(s).write_text(json.dumps(_as_format_2(r), indent=1, sort_keys=True))
    (results_in_tmp / "0123456789abcdef.json").write_text("{truncated")  # damaged: moved aside
    old = [store.load_result(s) for s in specs]
    assert [o["format"] for o in old] == [2, 2]
    sizes = [store.result_path(s).stat().st_size for s in specs]
    with pytest.warns(UserWarning, match="0123456789abcdef.json does not check out"):
        out = store.compact_results(results_in_tmp)
    assert (out["files"], out["rewritten"], out["skipped"], out["moved_aside"]) == (3, 2, 0, 1)
    assert out["bytes_after"] < out["bytes_before"]
    for s, o, r, size in zip(specs, old, fresh, sizes):
        new = store.load_result(s)
        assert new == r and {**o, "format": 3} == new  # same numbers, per-user ranks included
        assert json.loads(store.result_path(s).read_text())["format"] == 3
        assert store.result_path(s).stat().st_size < size
    assert store.compact_results(results_in_tmp)["rewritten"] == 0  # nothing left to do
    assert [p.read_text() for p in (results_in_tmp / store.ASIDE_DIR).iterdir()] == ["{truncated"]


def test_a_packed_array_that_does_not_unpack_is_moved_aside_naming_the_file(results_in_tmp):
    s = spec()
    compute.run(s, progress=False)
    path = store.result_path(s)
    stored = json.loads(path.read_text())
    stored["per_user"]["valid_selected"]["test_ranks"] = store.PACKED_PREFIX + "not base64!"
    stored.pop(store.DIGEST_FIELD)  # as an older file: no digest to catch it first
    path.write_text(json.dumps(stored))
    with pytest.warns(UserWarning, match=f"{path}.*do not unpack.*moved aside"):
        assert store.load_result(s) is None
    assert not path.exists()


def test_compact_command_line_reports_sizes(results_in_tmp):
    s = spec()
    r = compute.run(s, progress=False)
    store.result_path(s).write_text(json.dumps(_as_format_2(r), indent=1))
    stdout, stderr = _cli("compact").communicate(timeout=120)
    assert "1 of 1 result file(s) rewritten packed" in stdout, stderr
    assert store.load_result(s) == r
