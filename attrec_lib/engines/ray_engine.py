"""Where the runs of a grid execute: in this process, or as Ray tasks.

:func:`grid.run_grid` hands its specs to :func:`run_specs`, which reads the cached ones
and computes the others on one of three engines:

* ``workers=0``: one run after another in this process (for debugging; per-run epoch bars).
* ``workers=N`` (N >= 1), no address: a local Ray instance started for this grid and stopped
  after it (:func:`local_head`: ``ray start --head`` in a session of its own, so that exactly its
  processes are stopped), listening on the loopback address 127.0.0.1 only (no dashboard, no
  usage stats, a fresh auth token), with N CPUs and one single-threaded task per CPU.
* an address (``--address`` or ``RAY_ADDRESS``): an existing Ray cluster is joined (never
  started or stopped by us); at most as many tasks are in flight as the cluster has CPUs (or
  ``workers``, when given).

Each Ray task trains and evaluates one run and returns its result record to the driver; the
driver alone writes the cache, atomically, so the workers need no shared file system. The data
do not travel through Ray: each worker loads its data set the way a serial run does, from its
node's processed-data cache (``data/processed``), built on first use from that node's raw files
(``ATTREC_DATA_MIRROR`` or the network). On a cluster every node therefore needs the same
commit of this study installed and its own copy (or mirror) of the raw data; a worker whose
library source differs from the driver's refuses the run rather than cache a result of other code.

A failed task is retried once; if it fails again, its spec and error are reported and the other
runs go on (:class:`GridFailed` is raised at the end). Ctrl-C, SIGTERM or SIGHUP cancels the tasks
in flight, shuts down a local Ray instance (no process of ours is left) and writes nothing
partial: a result is written only whole, by the driver. A driver killed outright (SIGKILL, even of
its whole process group) takes its local Ray instance with it: the instance runs under a guard
(``ray_head_guard.py``) that stops it once its driver is gone. Before any run is computed the
results folder is checked for writability, and an address (``--address``, ``RAY_ADDRESS``) must
answer within :data:`RAY_CONNECT_TIMEOUT` seconds (:func:`check_address`). Every run sets ``torch.set_num_threads(1)`` (one thread per
run), so a run gives the same bits whichever engine executes it.

One progress bar covers the grid; its ETA comes from the epoch times recorded in cached runs of
the same model and data set (see :func:`estimate_seconds`), corrected by how long the runs of
this grid actually take.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import load_processed
from ..runs import compute, runspec, store
from ..settings import paths
from . import local
from .eta import GridProgress
from .ray_head_guard import session_pids

LOOPBACK = "127.0.0.1"
# Ray rewrites a loopback node address to the machine's routable one unless this is "0" (the
# switch it keeps for single-machine platforms); with it, every Ray server listens on 127.0.0.1.
_RAY_SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@dataclass(frozen=True)
class Failure:
    spec: runspec.RunSpec
    error: str  # the last attempt's error, as the worker raised it

    def describe(self) -> str:
        s = self.spec
        return (f"{s.key} {s.dataset} {s.model} seed={s.seed} protocol={s.protocol}: "
                f"{self.error.strip().splitlines()[-1] if self.error.strip() else 'unknown error'}")


class GridFailed(RuntimeError):
    """Some runs failed twice; every other run of the grid finished and is cached."""

    def __init__(self, failures):
        self.failures = list(failures)
        lines = "\n  ".join(f.describe() for f in self.failures)
        super().__init__(f"{len(self.failures)} run(s) failed after one retry:\n  {lines}")


def available_cores() -> int:
    """The cores this process may use (its CPU affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve(workers=None, address=None) -> tuple[int | None, str | None]:
    """``(workers, address)`` after the environment: ``address`` falls back to ``RAY_ADDRESS``,
    ``workers`` to ``ATTREC_WORKERS``, else 0 (in-process). ``workers=None`` is returned only
    with an address (as many tasks as the cluster has CPUs)."""
    if address is None:
        address = os.environ.get("RAY_ADDRESS") or None
    elif workers == 0:
        raise ValueError("workers=0 runs in-process and cannot be combined with a Ray address")
    if workers is None:
        text = os.environ.get("ATTREC_WORKERS")
        if text:
            try:
                workers = int(text)
            except ValueError:
                raise ValueError(f"ATTREC_WORKERS must be an integer, got {text!r}") from None
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if workers == 0:
        return 0, None
    if address is None and workers is None:
        return 0, None
    return workers, address


RAY_CONNECT_TIMEOUT = 5.0  # seconds to wait for a Ray cluster's address to answer


def check_address(address: str | None, given: str = "RAY_ADDRESS") -> None:
    """One clear error, within :data:`RAY_CONNECT_TIMEOUT` seconds, when ``address`` (from
    ``given``: ``--address`` or ``RAY_ADDRESS``) is not ``host:port`` or nothing answers there;
    Ray's own client retries for minutes and names neither. ``auto`` is left to Ray."""
    if address is None or address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{given}={address!r} is not a Ray address: expected host:port (e.g. 127.0.0.1:6379) "
                         f"or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT) as conn:
            speaks = _speaks_http2(conn, address) if "://" not in address else True
    except OSError as err:
        raise ValueError(f"{given}={address}: no Ray cluster answers there within {RAY_CONNECT_TIMEOUT:.0f} s "
                         f"({err.strerror or err}); start one (ray start --head) or unset {given}") from None
    if not speaks:
        raise ValueError(f"{given}={address}: something answers there but it is not a Ray cluster (no gRPC: a "
                         f"web server, e.g. the dashboard's port?); give the head's GCS address that `ray start "
                         f"--head` prints (port 6379 by default) or unset {given}")


# The HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113, 3.4 and 6.5).
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _speaks_http2(conn, address: str) -> bool:
    """Whether the server on ``conn`` answers the HTTP/2 preface with a SETTINGS frame, as Ray's
    GCS (a gRPC server) does at once. An HTTP/1 server (a dashboard, a proxy) does not; Ray's own
    client would retry it for minutes. A TLS cluster (RAY_USE_TLS) is not checked here."""
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return True
    conn.settimeout(RAY_CONNECT_TIMEOUT)
    conn.sendall(_HTTP2_PREFACE)
    head = b""
    with contextlib.suppress(OSError):
        while len(head) < 9:
            chunk = conn.recv(9 - len(head))
            if not chunk:
                break
            head += chunk
    return len(head) == 9 and head[3] == 0x04  # frame type 4: SETTINGS


def resolve_checked(workers=None, address=None) -> tuple[int | None, str | None]:
    """:func:`resolve`, then :func:`check_address` on the address it picked, naming where it came
    from: the command line's check before anything runs."""
    workers, resolved = resolve(workers, address)
    check_address(resolved, "--address" if address else "RAY_ADDRESS")
    return workers, resolved


# ---------------------------------------------------------------- ETA from recorded epoch times


# ---------------------------------------------------------------- the task (runs in any process)

def run_task(spec_dict: dict, driver_source: str, device=None) -> dict:
    """One run, executed wherever the engine put it; returns the result record (writes nothing)."""
    mine = store.code_version()["source_sha256"]
    if mine != driver_source:
        raise RuntimeError(f"the worker on {socket.gethostname()} has library source {mine} but the driver "
                           f"has {driver_source}: install the same commit of the study on every node")
    torch.set_num_threads(1)  # a Ray worker runs one run at a time: one thread for good
    return compute.execute(runspec.RunSpec.from_dict(spec_dict), device=device, progress=False)


# ---------------------------------------------------------------- what a run asks of its node

GPU_RUNS_PER_CARD = 8  # default runs sharing one card (ATTREC_GPU_RUNS_PER_CARD overrides)


def gpu_runs_per_card() -> int:
    """How many GPU runs share one card: ``ATTREC_GPU_RUNS_PER_CARD`` or :data:`GPU_RUNS_PER_CARD`.
    A run of these data sets leaves a card mostly idle (bench/gpu-NVIDIA_H200.json: an ML-100K
    AttRec epoch is 0.27 s, launch-bound), so several at once fill it; each still holds one CPU."""
    return paths.gpu_runs_per_card(GPU_RUNS_PER_CARD)


def task_options(spec, per_card: int | None = None) -> dict:
    """The Ray resources one run asks for: one CPU (its one thread), and for a GPU run (device
    class "cuda") a 1/``per_card`` share of a card, so that Ray runs ``per_card`` of them on one
    card at once and the CPU runs on the other cores."""
    if spec.device_class == "cuda":
        return {"num_cpus": 1, "num_gpus": 1.0 / (per_card or gpu_runs_per_card())}
    return {"num_cpus": 1}


def check_resources(specs, resources: dict, where: str) -> None:
    """One clear error before anything runs when the specs ask for a resource the cluster lacks
    (a GPU run on a cluster without a GPU would wait for ever)."""
    needed = {}
    for spec in specs:
        options = dict(task_options(spec))
        asked = {"CPU": options.pop("num_cpus", 0), "GPU": options.pop("num_gpus", 0), **options.pop("resources", {})}
        for key, amount in asked.items():
            if amount:
                needed[key] = max(needed.get(key, 0.0), amount)
    lacking = sorted(k for k, v in needed.items() if resources.get(k, 0.0) < v)
    if lacking:
        gpu_runs = sum(1 for s in specs if s.device_class == "cuda")
        raise ValueError(f"{where} has no {', '.join(lacking)} (it has {dict(sorted(resources.items()))}); "
                         f"{gpu_runs} of the {len(specs)} runs are GPU runs (device class cuda)")


# ---------------------------------------------------------------- engines

def run_specs(specs, workers=None, address=None, device=None, progress: bool = True) -> dict:
    """The result of every spec, keyed by spec key: cached ones read, missing ones computed on the
    engine that ``workers`` and ``address`` choose (see :func:`resolve`) and written to the cache
    as each arrives. Raises :class:`GridFailed` after the other runs when some failed twice, and
    KeyboardInterrupt on Ctrl-C after cancelling what was in flight."""
    workers, address = resolve(workers, address)
    specs = list(specs)
    if workers == 0:
        return _in_process(specs, device, progress)
    results, missing = {}, []
    for spec in specs:
        if spec.key not in results:
            results[spec.key] = store.load_result(spec)
            if results[spec.key] is None:
                missing.append(spec)
    if progress:
        print(f"grid: {len(results)} runs, {len(results) - len(missing)} cached, {len(missing)} to run",
              file=sys.stderr, flush=True)
    if missing:
        store.check_writable(paths.results_dir())  # before any training: its results must land somewhere
        computed, failures = _on_ray(missing, workers, address, device, progress)
        results.update(computed)
        if failures:
            raise GridFailed(failures)
    return results


def _in_process(specs, device, progress) -> dict:
    """One run after another in this process, in the grid's order (a failure stops the grid)."""
    return local.run_in_process(specs, device=device, progress=progress)[0]


def _is_loopback(address: str | None) -> bool:
    if address is None:
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def session_processes(sid: int) -> list[int]:
    """Pids of the live processes in session ``sid`` (Linux /proc): everything that a process
    started with ``start_new_session`` left behind, however deep."""
    return session_pids(sid)


def stop_session(proc, grace: float = 30.0) -> None:
    """SIGTERM to the process group of ``proc`` (started in a new session), then SIGKILL to
    whatever of that session is still alive after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(Exception):
        proc.wait(timeout=grace)
    deadline = time.time() + grace
    while (left := session_processes(proc.pid)) and time.time() < deadline:
        time.sleep(0.5)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=grace)


def _free_loopback_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


_HEAD_STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL when our local Ray instance stops


@contextlib.contextmanager
def local_head(cpus: int, attempts: int = 3, gpus: int = 0, resources: dict | None = None):
    """Our own one-node Ray instance on 127.0.0.1, yielding its address.

    It is ``ray start --head --block`` in a new session with its own temporary folder, so that
    stopping it stops exactly its processes, under a guard that stops them when this process
    dies (:mod:`.ray_head_guard`). Its agents get explicit ports where Ray allows it;
    still, its raylet aborts the start when the dashboard agent has not reported its port
    within 15 s, which happens on a heavily loaded machine, so a failed start is tried again
    (``attempts`` in all).
    """
    ray_cli = Path(sys.executable).with_name("ray")
    ray_cli = str(ray_cli) if ray_cli.exists() else (shutil.which("ray") or "ray")
    errors = []
    for attempt in range(1, attempts + 1):
        gcs, agent_grpc, agent_http, metrics, runtime_env = _free_loopback_ports(5)
        folder = tempfile.mkdtemp(prefix="attrec-ray-")  # short: Ray's socket paths must stay < 108 bytes
        # The guard (engines/ray_head_guard.py) starts `ray start` and stops its whole session when
        # this process dies, whatever kills it (SIGKILL of its process group included).
        # (run as a script: importing the package would import torch first)
        guard = [sys.executable, str(Path(__file__).with_name("ray_head_guard.py")), str(os.getpid())]
        cmd = [*guard, ray_cli, "start", "--head", "--block", "--node-ip-address", LOOPBACK, "--port", str(gcs),
               "--num-cpus", str(cpus), "--include-dashboard", "false", "--disable-usage-stats",
               "--temp-dir", folder, "--dashboard-agent-grpc-port", str(agent_grpc),
               "--dashboard-agent-listen-port", str(agent_http), "--metrics-export-port", str(metrics),
               "--runtime-env-agent-port", str(runtime_env), "--num-gpus", str(int(gpus))]
        if resources:
            cmd += ["--resources", json.dumps(resources)]
        log_path = os.path.join(folder, "ray-start.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, env={**os.environ, _RAY_SINGLE_MACHINE_ENV: "0"}, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            started = _wait_started(proc, log_path)
            if started:
                yield f"{LOOPBACK}:{gcs}"
                return
            with open(log_path) as fh:
                errors.append(f"attempt {attempt}: " + (fh.read().strip().splitlines() or ["no output"])[-1])
        finally:
            # Every result is already in the driver's hands: no need for Ray's own graceful stop,
            # which waits ~30 s on internal timeouts; what outlives a short grace is killed.
            stop_session(proc, grace=_HEAD_STOP_GRACE)
            shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError("the local Ray instance did not start:\n  " + "\n  ".join(errors))


def _wait_started(proc, log_path: str, timeout: float = 300.0) -> bool:
    """True once ``ray start`` says the node runs; False when it exits or times out first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(log_path) as fh:
            if "Ray runtime started" in fh.read():
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    return False


_TOKEN: list = []


def _process_token() -> str:
    if not _TOKEN:
        _TOKEN.append(secrets.token_hex(32))
    return _TOKEN[0]


@contextlib.contextmanager
def _ray_session(workers, address, gpus: int = 0):
    """Connected to Ray inside the block: a local loopback instance (:func:`local_head`, started
    here and stopped on exit) or the cluster at ``address`` (only disconnected on exit)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    saved = {k: os.environ.get(k) for k in (_RAY_SINGLE_MACHINE_ENV, "RAY_AUTH_TOKEN", "RAY_AUTH_MODE")}
    loopback = _is_loopback(address)
    if loopback:
        os.environ[_RAY_SINGLE_MACHINE_ENV] = "0"
    check_address(address)
    if address is None and not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        # A token for our own instances (Ray would otherwise create one under ~/.ray): one per
        # process, since Ray reads it once, and a second grid in this process (fill_profile's second
        # phase) must present the same token to its new instance.
        os.environ["RAY_AUTH_TOKEN"] = _process_token()
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray
    from ray._private import ray_constants
    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    if loopback:
        ray_constants.ENABLE_RAY_CLUSTER = False  # the environment is read once, at import
    try:
        with contextlib.ExitStack() as stack:
            cluster = address  # None: our own local instance
            if address is None:
                address = stack.enter_context(local_head(workers, gpus=gpus, resources=LOCAL_EXTRA_RESOURCES or None))
            if not ray.is_initialized():
                try:
                    ray.init(address=address, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING)
                except (ConnectionError, RuntimeError) as err:
                    if cluster is None:
                        raise
                    # Something that speaks HTTP/2 but is not Ray's GCS (a proxy): Ray tried ~20 s.
                    raise ValueError(f"Ray address {cluster} (--address or RAY_ADDRESS): Ray could not connect "
                                     f"there ({str(err).splitlines()[0]}); give the head's GCS address that `ray "
                                     f"start --head` prints") from err
                stack.callback(ray.shutdown)
            yield ray
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


LOCAL_EXTRA_RESOURCES: dict = {}  # custom resources of our local instance (tests schedule on them)


def local_gpus() -> int:
    """CUDA cards this machine offers to our local Ray instance (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _prepare_data(specs):
    """Build each data set's processed cache once here, so that local workers read it instead of
    all building it at once (remote nodes build their own on first use)."""
    for dataset, tie_rule in sorted({(s.dataset, s.tie_rule) for s in specs}):
        if dataset != "synthetic-planted":
            load_processed(dataset, tie_rule)


def _on_ray(specs, workers, address, device, progress) -> tuple[dict, list[Failure]]:
    _prepare_data(specs)
    source = store.code_version()["source_sha256"]
    results, failures = {}, []
    gpus = local_gpus() if address is None and any(s.device_class == "cuda" for s in specs) else 0
    with _ray_session(workers, address, gpus) as ray, _sigterm_as_interrupt():
        resources = ray.cluster_resources()
        cpus = int(resources.get("CPU", 1))
        in_flight_max = min(workers, cpus) if workers else cpus
        where = f"Ray cluster at {address}" if address else f"local Ray on {LOOPBACK}"
        check_resources(specs, resources, where)
        task = ray.remote(num_cpus=1, max_retries=1, retry_exceptions=True)(run_task)
        bar = GridProgress(specs, in_flight_max, enabled=progress)
        n_gpu = sum(1 for s in specs if s.device_class == "cuda")
        on_gpu = (f", {n_gpu} GPU runs {gpu_runs_per_card()} to a card on {resources.get('GPU', 0):g} GPU(s)"
                  if n_gpu else "")
        bar.write(f"{len(specs)} runs on {where}: {in_flight_max} at a time, {cpus} CPUs{on_gpu}")
        queue = list(reversed(specs))  # pop() takes them in the grid's order
        pending = {}
        try:
            while queue or pending:
                while queue and len(pending) < in_flight_max:
                    spec = queue.pop()
                    ref = task.options(**task_options(spec)).remote(spec.to_dict(), source, device)
                    pending[ref] = (spec, time.time())
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    spec, started = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as err:  # the task failed twice (Ray retried it once)
                        failures.append(Failure(spec, _task_error(err)))
                        bar.write(f"failed: {failures[-1].describe()}")
                        bar.done(spec, None, failed=True)
                        continue
                    store.write_result(store.result_path(spec), result)
                    results[spec.key] = result
                    bar.done(spec, time.time() - started)
        except KeyboardInterrupt:
            # No ray.cancel: a force-cancel that races the reply of a task finishing at that moment
            # aborts this driver inside Ray's C++ core ("Tried to complete task that was not
            # pending": exit 1 with a stack dump, 1 SIGTERM in 4 on the tiny grid). Leaving the
            # session is enough: the tasks are fate-shared with this driver, so disconnecting
            # (ray.shutdown, below) ends them on a cluster, and stopping our local instance ends its
            # workers.
            bar.write(f"cancelled: {len(pending)} run(s) in flight dropped, {len(queue)} not started; "
                      "every finished run is cached")
            raise
        finally:
            bar.close()
    return results, failures


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Inside the block, SIGTERM (and SIGHUP) to this process unwinds like Ctrl-C: the tasks in
    flight are cancelled, a local Ray instance is stopped, nothing partial is written. Without it
    Ray's driver dies of the signal mid-call (its C++ core aborts: exit 134). Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _task_error(err: BaseException) -> str:
    cause = getattr(err, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return f"{type(err).__name__}: {err}"


# ---------------------------------------------------------------- the command line's entry points

def command_line_workers(workers=None, address=None) -> int | None:
    """The command line's default engine: every core of this machine on a local Ray instance
    (``run_grid`` called from code runs in-process unless told otherwise)."""
    if workers is None and not (address or os.environ.get("RAY_ADDRESS") or os.environ.get("ATTREC_WORKERS")):
        return available_cores()
    return workers


