"""Where runs execute: engine choice, the ETA, and real Ray runs on loopback.

The Ray tests start every Ray process in a new session (``start_new_session``) with its own
temporary folder, so they can check, and clean up, exactly the processes they started: the
local instance of ``grid --workers 2`` and a two-node cluster (``ray start --head`` plus a second
``ray start --address``) that only ever listens on 127.0.0.1.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from attrec_lib.engines import eta, ray_engine
from attrec_lib.runs import runspec

PY = sys.executable
RAY = str(Path(sys.executable).with_name("ray"))
COMPARED = ("spec", "selections", "history", "per_user", "epochs_run", "stopped_early")


# ------------------------------------------------------------------ no Ray needed

def test_resolve_engine_from_arguments_and_environment(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("ATTREC_WORKERS", raising=False)
    assert ray_engine.resolve() == (0, None)  # run_grid from code: in-process by default
    assert ray_engine.resolve(workers=3) == (3, None)
    monkeypatch.setenv("ATTREC_WORKERS", "2")
    assert ray_engine.resolve() == (2, None)
    assert ray_engine.resolve(workers=0) == (0, None)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert ray_engine.resolve() == (2, "127.0.0.1:6379")
    monkeypatch.delenv("ATTREC_WORKERS")
    assert ray_engine.resolve() == (None, "127.0.0.1:6379")
    assert ray_engine.resolve(workers=0) == (0, None)  # an explicit 0 beats the environment
    with pytest.raises(ValueError, match="workers=0"):
        ray_engine.resolve(workers=0, address="127.0.0.1:6379")
    with pytest.raises(ValueError, match="workers must be >= 0"):
        ray_engine.resolve(workers=-1)
    monkeypatch.setenv("ATTREC_WORKERS", "many")
    with pytest.raises(ValueError, match="ATTREC_WORKERS must be an integer, got 'many'"):
        ray_engine.resolve()


def test_command_line_defaults_to_every_core(monkeypatch):
    for name in ("RAY_ADDRESS", "ATTREC_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    assert ray_engine.command_line_workers() == ray_engine.available_cores()
    assert ray_engine.command_line_workers(0) == 0
    assert ray_engine.command_line_workers(None, "127.0.0.1:1234") is None


def test_loopback_addresses():
    assert ray_engine._is_loopback(None) and ray_engine._is_loopback("127.0.0.1:6379")
    assert ray_engine._is_loopback("localhost:1") and ray_engine._is_loopback("ray://127.0.0.1:10001")
    assert not ray_engine._is_loopback("10.0.0.5:6379") and not ray_engine._is_loopback("head.example:6379")


def _spec(model="attrec", dataset="synthetic-planted", epochs=10):
    return runspec.make_spec(dataset, model, "paper", train={"epochs": epochs}, d=8, seq_len=3, n_targets=2) \
        if model == "attrec" else runspec.make_spec(dataset, model, "paper", train={"epochs": epochs}, d=8)


def test_estimate_uses_runs_of_the_same_model_and_data_set():
    recorded = [  # two AttRec runs: 2 s and 4 s per epoch, 6 and 8 epochs, no evaluation overhead
        {"dataset": "synthetic-planted", "model": "attrec", "per_epoch": 2.0, "epochs": 6, "total": 12.0},
        {"dataset": "synthetic-planted", "model": "attrec", "per_epoch": 4.0, "epochs": 8, "total": 32.0},
        {"dataset": "other", "model": "bprmf", "per_epoch": 100.0, "epochs": 5, "total": 500.0},
    ]
    attrec, capped, bprmf = _spec(), _spec(epochs=4), _spec("bprmf")
    est = eta.estimate_seconds([attrec, capped, bprmf], recorded)
    assert est[0] == pytest.approx(3.0 * 7.0)  # median s/epoch x median epochs
    assert est[1] == pytest.approx(3.0 * 4.0)  # never more epochs than the spec allows
    assert est[2] is None  # BPRMF was recorded on another data set only


def test_estimate_takes_the_epochs_runs_go_under_the_specs_own_epoch_cap():
    recorded = [  # AttRec here only under a 40-epoch cap (it hit it); under a 100-epoch cap elsewhere it ran 80
        {"dataset": "synthetic-planted", "model": "attrec", "per_epoch": 2.0, "epochs": 40, "total": 80.0, "cap": 40},
        {"dataset": "other", "model": "attrec", "per_epoch": 9.0, "epochs": 80, "total": 720.0, "cap": 100},
    ]
    est = eta.estimate_seconds([_spec(epochs=40), _spec(epochs=100), _spec(epochs=60)], recorded)
    assert est[0] == pytest.approx(2.0 * 40)  # this set's s/epoch, its own cap's epochs
    assert est[1] == pytest.approx(2.0 * 80)  # this set's s/epoch, the epochs runs went under a 100 cap
    assert est[2] == pytest.approx(2.0 * 40)  # no run under a 60 cap: this set's runs, capped at 60


def test_estimate_scales_a_models_runs_on_other_data_sets_by_training_items(monkeypatch):
    sizes = {"small": 1000, "big": 5000, "synthetic-planted": 2000}
    monkeypatch.setattr(eta, "_train_interactions", lambda ds: sizes.get(ds))
    recorded = [  # BPRMF: 1 ms per training item on "small", 2 ms on "big"; wall = 1.5 x training time
        {"dataset": "small", "model": "bprmf", "per_epoch": 1.0, "epochs": 10, "total": 15.0},
        {"dataset": "big", "model": "bprmf", "per_epoch": 10.0, "epochs": 20, "total": 300.0},
    ]
    est = eta.estimate_seconds([_spec("bprmf", epochs=100), _spec("attrec")], recorded, with_basis=True)
    # median of 1 ms and 2 ms per item x 2000 items = 3 s/epoch; median 15 epochs; overhead 1.5
    assert est[0][0] == pytest.approx(3.0 * 15 * 1.5) and est[0][1] == "scaled"
    assert est[1] == (None, None)  # no AttRec run anywhere


def test_eta_counts_parallel_workers_and_corrects_by_measured_time(monkeypatch):
    specs = [_spec(), _spec("bprmf"), _spec(epochs=3)]
    monkeypatch.setattr(eta, "estimate_seconds", lambda s: [10.0, None, 30.0])
    bar = eta.GridProgress(specs, workers=2, enabled=False)
    assert bar.eta_seconds() == pytest.approx((10 + 20 + 30) / 2)  # the unknown one counts as the median
    bar.done(specs[0], seconds=20.0)  # took twice its estimate
    assert bar.eta_seconds() == pytest.approx((20 + 30) * 2.0 / 2)
    monkeypatch.setattr(eta, "estimate_seconds", lambda s: [None, None, None])
    bar = eta.GridProgress(specs, workers=1, enabled=False)
    assert bar.eta_seconds() is None
    bar.done(specs[0], seconds=5.0)
    assert bar.eta_seconds() == pytest.approx(10.0)


# ------------------------------------------------------------------ real Ray on loopback

@pytest.fixture
def ray_tmp():
    """A short temporary folder for Ray's sockets (a Unix socket path must stay under 108 bytes,
    which pytest's tmp_path can exceed once Ray appends its session folders)."""
    folder = Path(tempfile.mkdtemp(prefix="ar-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(results: Path, ray_tmp: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ATTREC_WORKERS", "ATTREC_FRESH_SINCE")}
    ray_tmp.mkdir(parents=True, exist_ok=True)
    env.update(ATTREC_RESULTS_DIR=str(results), RAY_TMPDIR=str(ray_tmp), RAY_USAGE_STATS_ENABLED="0",
               RAY_agent_register_timeout_ms="180000", **extra)
    return env


_session_processes = ray_engine.session_processes


def _wait_gone(sid: int, seconds: float = 60.0) -> list[int]:
    deadline = time.time() + seconds
    while (left := _session_processes(sid)) and time.time() < deadline:
        time.sleep(0.5)
    return left


def _mentioning(folder: Path, seconds: float = 60.0) -> list[int]:
    """Live processes whose command line or environment names ``folder`` (waits for them to end)."""
    needle = str(folder).encode()
    deadline = time.time() + seconds
    while True:
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if int(proc.name) != os.getpid() and any(needle in (proc / f).read_bytes()
                                                         for f in ("cmdline", "environ")):
                    found.append(int(proc.name))
            except (OSError, ValueError):
                continue
        if not found or time.time() > deadline:
            return found
        time.sleep(0.5)


def _results(folder: Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _assert_same_runs(reference: dict, other: dict):
    assert set(other) <= set(reference) and other
    for key, result in other.items():
        for field in COMPARED:
            assert result[field] == reference[key][field], f"{key}: {field} differs from the serial run"


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The tiny profile run serially, in-process (``--workers 0``): the reference bits."""
    root = tmp_path_factory.mktemp("serial")
    proc = subprocess.run([PY, "-m", "attrec_lib", "grid", "--profile", "tiny", "--workers", "0"],
                          env=_env(root / "results", root / "ray"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = _results(root / "results")
    assert len(results) >= 18
    return results


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tiny_profile_on_local_ray_survives_ctrl_c_and_matches_serial(serial, tmp_path, ray_tmp):
    results = tmp_path / "results"
    env = _env(results, ray_tmp, TMPDIR=str(ray_tmp))  # the local head's folder is made in TMPDIR
    cmd = [PY, "-m", "attrec_lib", "grid", "--profile", "tiny", "--workers", "2"]
    # 1. Ctrl-C once the tasks are running: the whole process group gets SIGINT, as in a terminal.
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    seen = ""
    for line in proc.stderr:
        seen += line
        if "runs on local Ray on 127.0.0.1" in line:
            break
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGINT)
    _, rest = proc.communicate(timeout=300)
    assert proc.returncode == 130, seen + rest
    assert "cancelled:" in rest and "interrupted" in rest
    assert _wait_gone(proc.pid) == [] and _mentioning(ray_tmp) == [], "Ray processes outlived Ctrl-C"
    assert list(ray_tmp.glob("attrec-ray-*")) == []  # the local instance's folder is gone too
    results.mkdir(exist_ok=True)
    assert list(results.glob("*.tmp")) == []
    partial = _results(results)  # what finished before Ctrl-C is whole (parses) and right
    for key, result in partial.items():
        assert all(result[f] == serial[key][f] for f in COMPARED), key
    # 2. The same command again finishes the profile, reusing what was cached.
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert f"{len(partial)} cached" in err and "runs on local Ray on 127.0.0.1" in err
    assert _wait_gone(proc.pid) == [] and _mentioning(ray_tmp) == [], "Ray processes are left after the grid"
    done = _results(results)
    assert set(done) == set(serial)
    _assert_same_runs(serial, done)


TWO_GRIDS = """
from attrec_lib import study
from attrec_lib.engines import ray_engine
specs = study.all_specs(study.profile("tiny"))[:4]
ray_engine.run_specs(specs[:2], workers=2, progress=False)
ray_engine.run_specs(specs[2:], workers=2, progress=False)  # a second local instance, same process
print("two grids done")
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_grids_in_one_process_each_start_their_own_local_ray(serial, tmp_path, ray_tmp):
    # fill_profile runs a second grid after the first (the runs chosen on the first's results):
    # the second local instance must accept this process's connection as the first did.
    results = tmp_path / "results"
    proc = subprocess.Popen([PY, "-c", TWO_GRIDS], env=_env(results, ray_tmp, TMPDIR=str(ray_tmp)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    out, err = proc.communicate(timeout=500)
    assert proc.returncode == 0 and "two grids done" in out, err[-3000:]
    assert _wait_gone(proc.pid) == [] and _mentioning(ray_tmp) == [], "Ray processes are left after the grids"
    done = _results(results)
    assert len(done) == 4
    _assert_same_runs(serial, done)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ray on Linux rewrites a loopback --node-ip-address to the machine's routable address; the head
# keeps 127.0.0.1 with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, but a joining node refuses to start
# under that setting, so the second node runs `ray start` with that one rewrite switched off.
JOIN_ON_LOOPBACK = ("import ray._private.services as services; services.resolve_ip_for_localhost = lambda host: host; "
                    "from ray.scripts.scripts import main; main()")


def _start_node(cmd, env, log: Path, attempts: int = 3):
    """``ray start --block`` in a new session, tried again when the node does not come up (on a
    busy machine its raylet can give up on a slow agent); returns the running process."""
    for _ in range(attempts):
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        if ray_engine._wait_started(proc, str(log)):
            return proc
        ray_engine.stop_session(proc)
    raise AssertionError(f"`ray start` failed {attempts} times:\n{log.read_text()[-3000:]}")


def _listening_sockets(pids) -> list[str]:
    """Local addresses of the TCP sockets in LISTEN state that the given processes hold."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    out = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                out.append(cols[1].split(":")[0])
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_node_loopback_cluster_gives_the_serial_results(serial, tmp_path, ray_tmp):
    port = _free_port()
    token = secrets.token_hex(32)  # the cluster's own token (Ray would otherwise use ~/.ray)
    head_env = _env(tmp_path / "unused", ray_tmp / "head", RAY_AUTH_TOKEN=token, RAY_AUTH_MODE="token",
                    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    node_env = _env(tmp_path / "unused", ray_tmp / "node", RAY_AUTH_TOKEN=token, RAY_AUTH_MODE="token")
    started = []
    try:
        address = f"127.0.0.1:{port}"
        started.append(_start_node(
            [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
             "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats",
             "--temp-dir", str(ray_tmp / "head")], head_env, ray_tmp / "head.log"))
        started.append(_start_node(
            [PY, "-c", JOIN_ON_LOOPBACK, "start", "--block", "--address", address, "--node-ip-address", "127.0.0.1",
             "--num-cpus", "1", "--disable-usage-stats", "--temp-dir", str(ray_tmp / "node")],
            node_env, ray_tmp / "node.log"))
        results = tmp_path / "results"
        driver_env = _env(results, ray_tmp / "driver", RAY_AUTH_TOKEN=token, RAY_AUTH_MODE="token")
        # wait until both nodes are in the cluster, then run the grid through --address
        probe = ("import ray, time, sys\n"
                 "from attrec_lib.engines import ray_engine\n"
                 "with ray_engine._ray_session(None, sys.argv[1]) as r:\n"
                 "    t = time.time()\n"
                 "    while r.cluster_resources().get('CPU', 0) < 2 and time.time() - t < 180: time.sleep(1)\n"
                 "    print(int(r.cluster_resources().get('CPU', 0)))\n")
        cpus = subprocess.run([PY, "-c", probe, address], env=driver_env, capture_output=True, text=True, timeout=300)
        assert cpus.stdout.strip().endswith("2"), cpus.stderr[-3000:]
        proc = subprocess.run([PY, "-m", "attrec_lib", "grid", "--profile", "tiny", "--address", address],
                              env=driver_env, capture_output=True, text=True, timeout=600, start_new_session=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"runs on Ray cluster at {address}: 2 at a time, 2 CPUs" in proc.stderr
        done = _results(results)
        assert set(done) == set(serial)
        _assert_same_runs(serial, done)
        # a run that fails (twice: Ray retries it once) is reported with its spec; the others go on
        bad = ("from attrec_lib import study\n"
               "from attrec_lib.engines import grid, ray_engine\n"
               "from attrec_lib.runs import runspec\n"
               "good = study.spec_for(study.profile('tiny'), 'synthetic-planted', 'pop', seed=7)\n"
               "bad = runspec.RunSpec('synthetic-planted', 'attrec', {'d': 0}, good.train_config)  # fails in the worker\n"
               "try:\n"
               "    grid.run_grid([bad, good], address=__import__('sys').argv[1], progress=False)\n"
               "except ray_engine.GridFailed as err:\n"
               "    print('GRIDFAILED', bad.key, good.key, err)\n")
        proc = subprocess.run([PY, "-c", bad, address], env=driver_env, capture_output=True, text=True, timeout=300)
        report = [line for line in proc.stdout.splitlines() if line.startswith("GRIDFAILED")]
        assert report, proc.stdout[-3000:] + proc.stderr[-3000:]
        bad_key, good_key = report[0].split()[1:3]
        assert "1 run(s) failed after one retry" in proc.stdout and "d must be >= 1" in proc.stdout
        assert f"{bad_key} synthetic-planted attrec seed=0" in proc.stdout
        assert "retries remaining, so the task will be retried" in proc.stdout  # Ray's own note of the retry
        assert (results / f"{good_key}.json").exists() and not (results / f"{bad_key}.json").exists()
        # both nodes ran tasks: each wrote worker logs into its own temporary folder
        for node in ("head", "node"):
            assert list((ray_tmp / node).glob("session_*/logs/worker-*")), f"no task ran on {node}"
        # every socket our cluster listens on is bound to loopback: 127.0.0.1 as /proc/net/tcp writes
        # it, the same as an IPv4-mapped IPv6 address, or ::1 (never 0.0.0.0, :: or a real address)
        loopback = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
        ours = [pid for p in started for pid in _session_processes(p.pid)]
        listening = _listening_sockets(ours)
        assert listening and set(listening) <= loopback, listening
    finally:
        for p in reversed(started):  # SIGTERM to the process group of each `ray start` we ran
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in started:
            p.wait(timeout=60)
            left = _wait_gone(p.pid)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            assert left == [], f"processes of `ray start` (session {p.pid}) outlived SIGTERM"
