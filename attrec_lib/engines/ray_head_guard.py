"""A guard for our local Ray head: it dies with the driver that started it, whatever kills the driver.

``python attrec_lib/engines/ray_head_guard.py DRIVER_PID COMMAND...`` is started by the driver in a new
session (so Ctrl-C in the driver's terminal does not reach Ray's processes before the driver has
cancelled its tasks). It starts ``COMMAND`` (``ray start --head --block ...``) in its own process
group and session, then watches: when its parent is no longer ``DRIVER_PID`` (the driver died,
even by SIGKILL of its whole process group, and this process was handed to init), or when the
command exited, it stops every process of its session (SIGTERM, then SIGKILL after a short
grace) and exits. SIGTERM to the guard itself (the driver's normal stop) does the same at once.

Nothing here imports Ray or torch: the guard must start in a fraction of a second.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.5
GRACE_SECONDS = 3.0


def session_pids(sid: int, exclude: int | None = None) -> list[int]:
    """Live processes of session ``sid`` (Linux /proc), ``exclude`` (a pid) left out."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        if fields[0] != "Z" and int(fields[3]) == sid and pid != exclude:
            out.append(pid)
    return out


def stop_everything(grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to every other process of this session, SIGKILL to what is left after ``grace``."""
    sid = os.getsid(0)
    for pid in session_pids(sid, os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + grace
    while session_pids(sid, os.getpid()) and time.time() < deadline:
        time.sleep(0.1)
        _reap()
    for pid in session_pids(sid, os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap()


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


class _Stop(Exception):
    pass


def _on_signal(signum, frame):
    raise _Stop()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print("usage: python attrec_lib/engines/ray_head_guard.py DRIVER_PID COMMAND...", file=sys.stderr)
        return 2
    driver, command = int(argv[0]), argv[1:]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    child = None
    try:
        if os.getppid() != driver:  # the driver died before we got here
            return 1
        child = subprocess.Popen(command)  # inherits our session, stdout and stderr
        while child.poll() is None and os.getppid() == driver:
            time.sleep(POLL_SECONDS)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # our own stop below must not interrupt us
        stop_everything()
    return 0 if child is None or child.returncode is None else child.returncode


if __name__ == "__main__":
    raise SystemExit(main())
