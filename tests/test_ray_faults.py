"""Issue 24, the Ray engine under faults: SIGTERM to the driver takes the clean stop path; our
local Ray head dies with its driver even when the driver's whole process group is SIGKILLed; a
results folder that cannot be written is found before any training; a bad RAY_ADDRESS is one
line naming it within seconds; ``grid`` fills every run the plan names."""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from attrec_lib.engines import ray_engine
from attrec_lib.runs import runspec
from attrec_lib.settings import paths

PY = sys.executable
pytest.importorskip("ray")


@pytest.fixture
def ray_tmp():
    folder = Path(tempfile.mkdtemp(prefix="ar-"))  # short: Ray's socket paths must stay < 108 bytes
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def env_for(results: Path, ray_tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ATTREC_WORKERS", "ATTREC_FRESH_SINCE")}
    env.update(ATTREC_RESULTS_DIR=str(results), RAY_TMPDIR=str(ray_tmp), TMPDIR=str(ray_tmp),
               RAY_USAGE_STATS_ENABLED="0", RAY_agent_register_timeout_ms="180000")
    return env


def mentioning(folder: Path, seconds: float = 60.0) -> list:
    """Live processes whose command line or environment names ``folder`` (waits for them to end)."""
    needle = str(folder).encode()
    deadline = time.time() + seconds
    while True:
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z" and int(proc.name) != os.getpid() and any(
                        needle in (proc / f).read_bytes() for f in ("cmdline", "environ")):
                    found.append(int(proc.name))
            except (OSError, ValueError, IndexError):
                continue
        if not found or time.time() > deadline:
            return found
        time.sleep(0.5)


def start_grid(results: Path, ray_tmp: Path):
    proc = subprocess.Popen([PY, "-m", "attrec_lib", "grid", "--profile", "tiny", "--workers", "1"],
                            env=env_for(results, ray_tmp), cwd=paths.REPO_ROOT, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    seen = ""
    for line in proc.stderr:
        seen += line
        if "runs on local Ray on 127.0.0.1" in line:
            return proc, seen
    raise AssertionError(f"the grid did not reach Ray:\n{seen[-3000:]}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigterm_during_a_ray_grid_takes_the_clean_stop_path(tmp_path, ray_tmp):
    proc, seen = start_grid(tmp_path / "results", ray_tmp)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)  # to the driver alone, as a job scheduler or `kill` sends it
    _, rest = proc.communicate(timeout=300)
    assert proc.returncode == 130, seen[-2000:] + rest[-3000:]
    assert "cancelled:" in rest and "interrupted: every finished run is cached" in rest
    assert "Aborted" not in rest and "SIGTERM" not in rest.replace("(SIGTERM)", "")
    assert mentioning(ray_tmp) == [], "Ray processes outlived the SIGTERM"
    assert list((tmp_path / "results").glob("*.tmp")) == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_our_ray_head_dies_with_its_driver_when_the_group_is_sigkilled(tmp_path, ray_tmp):
    proc, seen = start_grid(tmp_path / "results", ray_tmp)
    head = mentioning(ray_tmp, seconds=0)
    assert len(head) > 2, "the local Ray instance's processes were not found"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver's whole group: Ray's head is in a session of its own
    proc.wait(timeout=30)
    left = mentioning(ray_tmp, seconds=60)
    if left:  # clean up for the other tests before failing
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert left == [], "the Ray head outlived its SIGKILLed driver"


def test_an_unwritable_results_folder_is_found_before_ray_starts(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(blocker / "results"))
    started = []
    monkeypatch.setattr(ray_engine, "_on_ray", lambda *a, **k: started.append(a))
    spec = runspec.make_spec("synthetic-planted", "attrec", "paper", seed=0, train={"epochs": 1}, d=8)
    with pytest.raises(PermissionError, match=f"results folder {blocker / 'results'} is not writable"):
        ray_engine.run_specs([spec], workers=1, progress=False)
    assert started == []


@pytest.mark.parametrize("address,said", [("garbage", "is not a Ray address"),
                                          ("127.0.0.1:1", "no Ray cluster answers there within 5 s")])
def test_a_bad_ray_address_is_one_line_naming_it_within_seconds(tmp_path, address, said):
    env = {**os.environ, "RAY_ADDRESS": address, "ATTREC_RESULTS_DIR": str(tmp_path / "results")}
    t0 = time.time()
    proc = subprocess.run([PY, "-m", "attrec_lib", "grid", "--profile", "tiny"], env=env, cwd=paths.REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert time.time() - t0 < 60
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert f"RAY_ADDRESS={address}" in err[0].replace("'", "") and said in err[0]


def test_grid_fills_every_run_the_plan_names(tmp_path):
    """``grid --profile tiny`` from an empty cache leaves nothing for the plan to compute: the
    tie-order runs (known once Table 2 is cached) and the tuned rows included."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "ATTREC_WORKERS", "ATTREC_FRESH_SINCE")}
    env["ATTREC_RESULTS_DIR"] = str(tmp_path / "results")
    grid = subprocess.run([PY, "-m", "attrec_lib", "grid", "--profile", "tiny", "--workers", "0"], env=env,
                          cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert grid.returncode == 0, grid.stderr[-3000:]
    plan = subprocess.run([PY, "-m", "attrec_lib", "plan", "--profile", "tiny"], env=env, cwd=paths.REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert ", 0 to compute" in plan.stdout, plan.stdout
    assert "more runs, not counted above" not in plan.stdout


def test_an_interrupted_ray_grid_cancels_no_task_itself(monkeypatch):
    """On Ctrl-C or SIGTERM the driver leaves the session without ray.cancel: a force-cancel racing
    the reply of a task that finishes at that moment aborted the driver inside Ray's C++ core
    ("Tried to complete task that was not pending", a stack dump, exit 1 instead of 130; 1 SIGTERM
    in 4 on the tiny grid). The tasks are fate-shared with the driver: leaving ends them."""
    calls = []

    class FakeRay:
        def cluster_resources(self):
            return {"CPU": 1}

        def remote(self, **options):
            task = type("Task", (), {"remote": staticmethod(lambda *a: object())})
            task.options = staticmethod(lambda **opts: task)  # per-run resources (engines: task_options)
            return lambda fn: task

        def wait(self, refs, num_returns=1):
            raise KeyboardInterrupt("SIGTERM")  # the signal arrives while the driver waits

        def cancel(self, ref, force=False):
            calls.append(ref)

    @contextlib.contextmanager
    def session(workers, address, gpus=0):
        yield FakeRay()

    monkeypatch.setattr(ray_engine, "_ray_session", session)
    monkeypatch.setattr(ray_engine, "_prepare_data", lambda specs: None)
    spec = runspec.make_spec("synthetic-planted", "pop", None, seed=0, train={"epochs": 1})
    with pytest.raises(KeyboardInterrupt):
        ray_engine._on_ray([spec], workers=1, address=None, device=None, progress=False)
    assert calls == []


@pytest.fixture
def http1_server():
    """A loopback port where an HTTP/1 server (as a dashboard or a proxy) answers, not Ray."""
    import socket
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_an_address_where_a_web_server_answers_is_one_line_naming_it_within_seconds(tmp_path, http1_server):
    """Ray's own client retried such an address for minutes (40 s per attempt here) and named no
    setting; the check before Ray starts sees that it does not speak gRPC's HTTP/2."""
    env = {**os.environ, "RAY_ADDRESS": http1_server, "ATTREC_RESULTS_DIR": str(tmp_path / "results")}
    t0 = time.time()
    try:
        proc = subprocess.run([PY, "-m", "attrec_lib", "grid", "--profile", "tiny"], env=env, cwd=paths.REPO_ROOT,
                              capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("still connecting after 90 s")
    assert time.time() - t0 < 60
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert f"RAY_ADDRESS={http1_server}" in err[0] and "not a Ray cluster" in err[0]


def test_a_real_ray_gcs_passes_the_address_check(ray_tmp, monkeypatch):
    """The check answers yes for Ray's own GCS (HTTP/2 SETTINGS at once). The head is our local
    instance (local_head: its own session, stopped alone; never `ray stop`, which stops every
    Ray on the machine)."""
    monkeypatch.setenv("RAY_TMPDIR", str(ray_tmp))
    monkeypatch.setenv("TMPDIR", str(ray_tmp))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with ray_engine.local_head(1) as address:
        ray_engine.check_address(address)  # raises when the check refuses it
    assert mentioning(ray_tmp) == []
