"""Every path the project uses, resolved from the repository root.

No other module builds paths with ``..``; they import from here. Environment variables:

``ATTREC_DATA_MIRROR``
    A local folder laid out like the study's offline data copy (one sub-folder per data set,
    e.g. ``ml-100k/u.data``). When set, raw files are taken from it instead of the network.
``ATTREC_FRESH_SINCE``
    A unix time: cached results finished before it are recomputed (``make paper FRESH=1``).
``ATTREC_RESULTS_DIR``
    Overrides the run cache folder (tests point it at a temporary folder).
``ATTREC_FIGURES_DIR``
    Where figures and table CSVs are written. Unset: a scratch folder, ``build/scratch/figures``,
    so that a notebook run by hand (papermill, Jupyter) never replaces the committed ``figures/``;
    ``make paper`` points it at its staging folder and publishes from there.

A relative path in any of these variables is taken relative to the directory the command was
started in (:func:`absolute_environment`, called by the command line), not to the notebooks'
folder their kernels run in.
``ATTREC_RUN_LOG``
    The file that run progress is appended to when a notebook kernel has no terminal to write
    to (``build/runs.log`` unless set; see ``engines.local.run_logger``).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
FIGURES_DIR = REPO_ROOT / "figures"  # the committed figures: written only by make paper's publish
BENCH_DIR = REPO_ROOT / "bench"
BUILD_DIR = REPO_ROOT / "build"
SITE_DIR = BUILD_DIR / "site"
SCRATCH_FIGURES_DIR = BUILD_DIR / "scratch" / "figures"
DOCS_DIR = REPO_ROOT / "docs"


def results_dir() -> Path:
    """The run cache folder (``results/`` unless ``ATTREC_RESULTS_DIR`` says otherwise)."""
    override = os.environ.get("ATTREC_RESULTS_DIR")
    return Path(override) if override else REPO_ROOT / "results"


def figures_dir() -> Path:
    """Where figures and table CSVs are written: ``ATTREC_FIGURES_DIR``, else the scratch folder
    (never the committed ``figures/`` unless the variable names it)."""
    override = os.environ.get("ATTREC_FIGURES_DIR")
    return Path(override) if override else SCRATCH_FIGURES_DIR


PATH_VARIABLES = ("ATTREC_RESULTS_DIR", "ATTREC_FIGURES_DIR", "ATTREC_DATA_MIRROR", "ATTREC_RUN_LOG")


def absolute_environment(base: Path | None = None) -> None:
    """Make every relative path in :data:`PATH_VARIABLES` absolute, against ``base`` (default: the
    current directory, where the command was started), so that processes started from elsewhere
    (notebook kernels run in ``notebooks/``, Ray workers) read the same folders."""
    base = Path.cwd() if base is None else Path(base)
    for name in PATH_VARIABLES:
        value = os.environ.get(name)
        if value and not Path(value).expanduser().is_absolute():
            os.environ[name] = str((base / Path(value).expanduser()).resolve())


FRESH_SINCE_SLACK = 86400.0  # a day of clock difference between machines


class SettingError(ValueError):
    """An environment variable of the project holds a value it cannot use."""


def data_mirror() -> Path | None:
    """The local mirror folder named by ``ATTREC_DATA_MIRROR``, or None.

    A value naming no folder is an error rather than skipped: skipping it would end in "raw file
    not found, set ATTREC_DATA_MIRROR", which hides that the variable is set but wrong.
    """
    value = os.environ.get("ATTREC_DATA_MIRROR")
    if not value:
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        raise SettingError(f"ATTREC_DATA_MIRROR={value!r} is not a folder; set it to the local copy of the "
                           f"raw data (one sub-folder per data set, e.g. ml-100k/u.data) or unset it")
    return folder


def fresh_since() -> float | None:
    """The unix time in ``ATTREC_FRESH_SINCE`` (cached results older than it are recomputed), or None."""
    value = os.environ.get("ATTREC_FRESH_SINCE")
    if not value:
        return None
    try:
        stamp = float(value)
    except ValueError:
        stamp = float("nan")
    if stamp != stamp or stamp in (float("inf"), float("-inf")):
        raise SettingError(f"ATTREC_FRESH_SINCE={value!r} is not a unix time in seconds (e.g. 1764237600); "
                           f"`make paper FRESH=1` sets it for you")
    if stamp < 0:  # before 1970: nothing would ever be recomputed, whatever was meant
        raise SettingError(f"ATTREC_FRESH_SINCE={value!r} is before 1970: it must be a unix time in seconds "
                           f"(e.g. 1764237600); `make paper FRESH=1` sets it for you")
    now = time.time()
    if stamp > now + FRESH_SINCE_SLACK:  # every result would be stale, for ever
        raise SettingError(f"ATTREC_FRESH_SINCE={value!r} is in the future (milliseconds instead of seconds?): "
                           f"it must be a unix time in seconds, at most now ({now:.0f}); `make paper FRESH=1` "
                           f"sets it for you")
    return stamp


def run_log_file() -> Path:
    """Where a notebook kernel without a terminal appends run progress (``ATTREC_RUN_LOG``)."""
    override = os.environ.get("ATTREC_RUN_LOG")
    return Path(override) if override else BUILD_DIR / "runs.log"


def gpu_runs_per_card(default: int) -> int:
    """``ATTREC_GPU_RUNS_PER_CARD``: how many GPU runs share one card (``default`` when unset)."""
    value = os.environ.get("ATTREC_GPU_RUNS_PER_CARD")
    if not value:
        return default
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise SettingError(f"ATTREC_GPU_RUNS_PER_CARD must be an integer >= 1, got {value!r}")
    return count
