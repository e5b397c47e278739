"""The in-process engine: the runs of a grid one after another in this process, and the run log
(one line per run on the terminal and in ``results/run.log``, never in a notebook's outputs)."""
from __future__ import annotations

import logging
import os
import sys

from ..runs.compute import run
from ..runs.store import load_result
from ..settings import paths


def _in_kernel() -> bool:
    """True inside a Jupyter kernel, where ipykernel forwards sys.stderr (and fd 2) into the
    notebook's outputs."""
    return type(sys.stderr).__module__.startswith("ipykernel")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (pytest and callers swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _run_log_handler() -> logging.Handler:
    """Where run progress goes. A command line keeps it on stderr. Inside a notebook kernel
    (``make paper``, papermill), stderr would land in the notebook as one box per run, so it goes
    to the controlling terminal (/dev/tty: the terminal that typed ``make paper``, which the
    kernel shares without passing through the notebook) and, where there is none (CI), to the log
    file ``paths.run_log_file()``."""
    if not _in_kernel():
        return _StderrHandler()
    if os.environ.get("ATTREC_RUN_LOG") is None:
        try:
            return logging.StreamHandler(open("/dev/tty", "w", buffering=1))  # noqa: SIM115
        except OSError:
            pass
    path = paths.run_log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.FileHandler(path)


def run_logger() -> logging.Logger:
    """The logger of run progress ("[i/n] dataset model seed ... (cached)"), set up once."""
    logger = logging.getLogger("attrec.runs")
    if not logger.handlers:
        handler = _run_log_handler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def run_in_process(specs, device=None, progress: bool = True, log: logging.Logger | None = None) -> tuple:
    """Every spec's result, keyed by spec key, computing the missing ones here one after another
    (each on one thread, inside :func:`run`); returns ``(results, number computed)``. With
    ``progress`` each run's line goes to ``log`` (``run_logger()`` unless given: the terminal,
    never the notebook)."""
    if progress and log is None:
        log = run_logger()
    # Epoch bars would be drawn into the notebook inside a kernel; the log lines say enough there.
    fit_progress = progress and not _in_kernel()
    results, computed = {}, 0
    for i, spec in enumerate(specs, 1):
        cached = results.get(spec.key) or load_result(spec)
        if progress:
            state = "cached" if cached is not None else "running"
            log.info("[%d/%d] %s %s seed=%s protocol=%s (%s)", i, len(specs), spec.dataset, spec.model,
                     spec.seed, spec.protocol, state)
        if cached is None:
            computed += 1
            cached = run(spec, device=device, progress=fit_progress)
        results[spec.key] = cached
    return results, computed
