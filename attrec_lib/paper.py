"""``make paper``: execute the notebooks through papermill and publish them only when all succeeded.

Command line: ``python -m attrec_lib paper [--profile NAME] [--fresh] [--publish] [--plan-only]
[notebooks ...]`` (no notebooks: every ``notebooks/NN-*.ipynb``, in name order).

Publishing never damages what is committed:

- every notebook executes into a staging folder under ``build/`` (papermill rewrites its output
  file after each cell, so it must never be the committed file), and figures and table CSVs go
  to the staging folder too (``ATTREC_FIGURES_DIR``);
- only when every notebook finished without error is each staged file moved over its target with
  ``os.replace``, one file at a time, so an interruption at any moment leaves every tracked file
  either as committed or as a complete new version;
- SIGINT and SIGTERM stop the build, shut the kernel down (nbclient's own handlers) and publish
  nothing; when make itself is killed (SIGKILL) the runner gets SIGTERM (Linux's parent-death
  signal) and does the same; when the runner is killed, the kernel notices its parent is gone and
  exits (ipykernel's parent poller), and the staging folder is left under ``build/`` (ignored).

The committed notebooks and figures are the ``full`` profile (:data:`PUBLISHED_PROFILE`), so
``make paper`` with no arguments rebuilds what is committed, from the cache. Any other profile
writes to ``build/<profile>/notebooks`` and ``build/<profile>/figures`` unless ``--publish``
asks for the committed files explicitly.

Before executing anything the runner prints the plan (:func:`attrec_lib.experiments.plan`): runs
needed, cached, to compute and the estimated compute time; ``--plan-only`` (``make plan``) stops
there.

Before the notebooks execute, every run the profile needs is computed
(:func:`attrec_lib.execution.fill_profile`: on a local Ray instance with one task per core,
``--workers N`` tasks, an existing cluster with ``--address`` / ``RAY_ADDRESS``, or in this process
with ``--workers 0``), so the notebooks only read the cache.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import paths

PUBLISHED_PROFILE = "full"  # the profile the committed notebooks, figures and CSVs were built with


def default_notebooks() -> list:
    return sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))


def add_arguments(parser) -> None:
    from .study import PROFILES
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to execute, in the order given (default: every notebooks/NN-*.ipynb)")
    parser.add_argument("--profile", default=PUBLISHED_PROFILE, choices=PROFILES,
                        help=f"experiment profile, one of {', '.join(PROFILES)} (default {PUBLISHED_PROFILE}: the "
                             f"committed one)")
    parser.add_argument("--fresh", action="store_true",
                        help="recompute every run this build needs instead of reading the cache")
    parser.add_argument("--publish", action="store_true",
                        help="replace the committed notebooks and figures even for a profile other than "
                             f"{PUBLISHED_PROFILE} (default: such profiles write to build/<profile>/)")
    parser.add_argument("--plan-only", "--dry-run", action="store_true",
                        help="print the plan (runs needed, cached, to compute, estimated time) and stop")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time on a local Ray instance (default: every core); 0: in this process")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: $RAY_ADDRESS)")


def targets(profile: str, publish: bool) -> tuple:
    """(notebooks folder, figures folder) that a build of ``profile`` publishes into."""
    if publish or profile == PUBLISHED_PROFILE:
        return paths.NOTEBOOKS_DIR, paths.figures_dir()
    out = paths.REPO_ROOT / "build" / profile
    return out / "notebooks", out / "figures"


def print_plan(profile: str, by_part: bool = False) -> None:
    """The plan of a profile; ``by_part``: then one line per group of runs (``grid --part``)."""
    from . import experiments, study
    prof = study.profile(profile)
    print(experiments.plan(study.all_specs(prof)).describe(), flush=True)
    pending = study.pending_tuned_rows(prof)
    if pending:
        print(f"then at most {pending} more runs, not counted above: the tuned rows of models whose tuning "
              "trials are not all cached (their settings are chosen after the trials ran)", flush=True)
    if by_part:
        for part in study.PARTS:
            p = experiments.plan(study.all_specs(prof, parts=[part]))
            hours = p.estimated_seconds / 3600
            unknown = p.to_compute - p.estimated_runs
            print(f"  {part:14} {p.total:5} runs, {p.cached:5} cached, {p.to_compute:5} to compute, "
                  f"~{hours:5.1f} h on one core" + (f" (+{unknown} not estimated)" if unknown else ""), flush=True)


def _move_into_place(source: Path, target: Path) -> None:
    """Replace ``target`` by ``source`` atomically (a copy first when they are on different disks)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _Stopped(Exception):
    """SIGTERM or SIGHUP arrived outside a notebook's execution."""


def _stop(signum, frame):
    raise _Stopped(signal.Signals(signum).name)


def _end_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its parent (make) dies, even by SIGKILL, so the
    build stops and publishes nothing instead of running on unseen. Elsewhere: nothing happens."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        pr_set_pdeathsig = 1  # from <sys/prctl.h>
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def run(args) -> int:
    notebooks = [Path(nb) for nb in args.notebooks] or default_notebooks()
    for nb in notebooks:
        if not nb.is_file():
            raise FileNotFoundError(f"no such notebook {nb}")
    _end_with_parent()
    # Outside a notebook's execution (nbclient installs its own handlers during one), SIGTERM and
    # SIGHUP unwind like Ctrl-C: the staging folder is removed and nothing is published.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    if args.fresh:
        os.environ["ATTREC_FRESH_SINCE"] = str(time.time())
    print_plan(args.profile)
    if args.plan_only:
        return 0
    nb_target, fig_target = targets(args.profile, args.publish)
    staging_root = paths.REPO_ROOT / "build"
    staging_root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".paper-{args.profile}-", dir=staging_root))
    try:
        return _build(args, notebooks, stage, nb_target, fig_target)
    except (KeyboardInterrupt, _Stopped) as why:
        print(f"\nmake paper: stopped ({why or 'SIGINT'}); nothing was published", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _build(args, notebooks, stage: Path, nb_target: Path, fig_target: Path) -> int:
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from . import execution, study
    workers = execution.command_line_workers(args.workers, args.address)
    execution.resolve(workers, args.address)  # a bad value: one clear error before anything runs
    try:
        execution.fill_profile(study.profile(args.profile), workers, args.address)
    except execution.GridFailed as err:
        print(f"\nmake paper: {err}; nothing was published", file=sys.stderr)
        return 1
    # papermill logs the executing notebook's outputs (run_grid's "[i/n] ..." lines) through the
    # "papermill" logger.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    (stage / "notebooks").mkdir()
    (stage / "figures").mkdir()
    # The kernel inherits this environment: figures go to the staging folder, and the library it
    # imports is this checkout's (not whichever one the virtual environment was installed from).
    os.environ["ATTREC_FIGURES_DIR"] = str(stage / "figures")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(paths.REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    for i, nb in enumerate(notebooks, 1):
        print(f"=== [{i}/{len(notebooks)}] {nb} (profile={args.profile})", flush=True)
        t0 = time.time()
        staged = stage / "notebooks" / nb.name
        try:
            pm.execute_notebook(str(nb), str(staged), parameters={"profile": args.profile},
                                kernel_name=args.kernel, cwd=str(nb.parent.resolve()), log_output=True,
                                progress_bar=False)
        except PapermillExecutionError as err:
            kept = _keep_failed(staged)
            print(f"\nmake paper: {nb} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                  f"make paper: nothing was published; the failed notebook is {kept}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, _Stopped):
            raise
        except Exception as err:  # the kernel died or was shut down by a signal
            print(f"\nmake paper: {nb} did not finish ({type(err).__name__}: {err}); nothing was published",
                  file=sys.stderr)
            return 1
        for sig in (signal.SIGTERM, signal.SIGHUP):  # nbclient reset them when the notebook ended
            signal.signal(sig, _stop)
        print(f"=== {nb} done in {time.time() - t0:.0f} s", flush=True)
    published = 0
    for source in sorted((stage / "figures").iterdir()):
        _move_into_place(source, fig_target / source.name)
        published += 1
    for nb in notebooks:
        _record_published_path(stage / "notebooks" / nb.name, nb_target / nb.name)
        _move_into_place(stage / "notebooks" / nb.name, nb_target / nb.name)
        published += 1
    print(f"make paper: published {published} files to {_shown(nb_target)} and {_shown(fig_target)}", flush=True)
    return 0


def _keep_failed(staged: Path) -> Path:
    """Keep a failed notebook for reading, outside the staging folder that is about to go."""
    kept = paths.REPO_ROOT / "build" / "failed" / staged.name
    if staged.exists():
        _move_into_place(staged, kept)
    return _shown(kept)


def _record_published_path(staged: Path, target: Path) -> None:
    """papermill records the file it wrote (the staging folder, a path of this machine) in the
    notebook's metadata; record where the notebook is published instead, relative to the repo."""
    import json
    nb = json.loads(staged.read_text())
    meta = nb.get("metadata", {}).get("papermill")
    if meta is not None:
        meta["output_path"] = str(_shown(target))
        staged.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _shown(path: Path):
    try:
        return path.resolve().relative_to(paths.REPO_ROOT)
    except ValueError:
        return path


def main(argv=None) -> int:
    """``python -m attrec_lib.paper`` is kept as a synonym of ``python -m attrec_lib paper``."""
    from .__main__ import main as cli_main
    return cli_main(["paper", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
