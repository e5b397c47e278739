"""The run cache: specs, atomic results, killed runs, FRESH builds, the command line."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from attrec_lib import experiments, paths

TINY = dict(d=8, seq_len=3, n_targets=2)
TRAIN = dict(epochs=2, batch_size=256)


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("ATTREC_FRESH_SINCE", raising=False)
    return tmp_path / "results"


def spec(seed=0, **overrides):
    return experiments.make_spec("synthetic-planted", "attrec", "paper", seed=seed, train=TRAIN,
                                 **{**TINY, **overrides})


def test_spec_key_is_stable_and_resolves_defaults():
    a = spec()
    b = experiments.make_spec("synthetic-planted", "attrec", "paper", train={**TRAIN, "lr": 0.05}, **TINY)
    assert a.key == b.key  # lr 0.05 is the default: same run
    assert spec(seed=1).key != a.key and spec(omega=0.3).key != a.key
    assert experiments.RunSpec.from_dict(a.to_dict()) == a


def test_released_preset_defaults_protocol_and_tie_rule():
    s = experiments.make_spec("ml-100k", "attrec", "released_code")
    assert (s.protocol, s.tie_rule, s.model_config["d"]) == ("released", "released", 150)


def test_run_writes_one_json_and_reuses_it(results_in_tmp):
    s = spec()
    first = experiments.run(s, progress=False)
    files = list(results_in_tmp.glob("*.json"))
    assert [f.name for f in files] == [f"{s.key}.json"]
    stored = json.loads(files[0].read_text())
    assert stored["spec"] == s.to_dict()
    assert {"valid_selected", "test_selected"} == set(stored["selections"])
    assert stored["code_version"]["source_sha256"] and stored["versions"]["torch"]
    assert len(stored["per_user"]["valid_selected"]["test_ranks"]) == 200
    mtime = files[0].stat().st_mtime_ns
    again = experiments.run(s, progress=False)
    assert again["finished_at"] == first["finished_at"] and files[0].stat().st_mtime_ns == mtime


def test_same_spec_same_metrics_without_cache():
    a = experiments.execute(spec(seed=5), progress=False)
    b = experiments.execute(spec(seed=5), progress=False)
    assert a["history"] == b["history"]


def test_run_grid_returns_rows_and_runs_only_what_is_missing(results_in_tmp, capsys):
    experiments.run(spec(seed=0), progress=False)
    df = experiments.run_grid([spec(seed=0), spec(seed=1)], progress=True)
    err = capsys.readouterr().err
    assert "(cached)" in err and "(running)" in err
    assert list(df["seed"]) == [0, 1]
    assert {"hr@50", "mrr", "ndcg@10", "test_sel_hr@50", "valid_hr@50", "cfg.omega"} <= set(df.columns)
    assert len(list(results_in_tmp.glob("*.json"))) == 2


def test_fresh_since_recomputes_older_results():
    s = spec()
    first = experiments.run(s, progress=False)
    os.environ["ATTREC_FRESH_SINCE"] = str(time.time())
    try:
        second = experiments.run(s, progress=False)
    finally:
        del os.environ["ATTREC_FRESH_SINCE"]
    assert second["finished_at"] > first["finished_at"]


def test_corrupt_result_file_is_named(results_in_tmp):
    s = spec()
    results_in_tmp.mkdir(parents=True)
    (results_in_tmp / f"{s.key}.json").write_text('{"spec": ')
    with pytest.raises(ValueError, match=f"corrupt result file .*{s.key}"):
        experiments.run(s, progress=False)


def _cli(*args, env=None):
    return subprocess.Popen([sys.executable, "-m", "attrec_lib", *args], cwd=paths.REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_run_killed_midway_leaves_no_result_and_keeps_the_others(results_in_tmp):
    done = spec(seed=0)
    experiments.run(done, progress=False)
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
    killed = experiments.make_spec("synthetic-planted", "attrec", "paper", seed=9,
                                   train={"epochs": 500, "patience": 0}, d=8)
    assert experiments.load_result(killed) is None


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


def test_run_grid_logs_each_run_and_prints_one_summary_line(results_in_tmp, capsys):
    import logging
    experiments.run(spec(seed=0), progress=False)
    records = []
    log = logging.getLogger("test.run_grid")
    log.setLevel(logging.INFO)
    handler = logging.Handler()
    handler.emit = records.append
    log.addHandler(handler)
    experiments.run_grid([spec(seed=0), spec(seed=1), spec(seed=0)], progress=True, log=log)
    out = capsys.readouterr()
    assert out.out == "3 runs: 2 from the cache, 1 computed\n"
    assert "(cached)" not in out.err and "(running)" not in out.err  # the log got them instead
    lines = [r.getMessage() for r in records]
    assert [line.split()[-1] for line in lines] == ["(cached)", "(running)", "(cached)"]
    experiments.run_grid([spec(seed=0)], progress=False, log=log)
    assert capsys.readouterr().out == "" and len(records) == 3
