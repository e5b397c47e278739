"""``make paper``: execute the notebooks through papermill and publish them only when all succeeded.

Command line: ``python -m attrec_lib paper [--profile NAME] [--fresh] [--publish] [--plan-only]
[notebooks ...]`` (no notebooks: every ``notebooks/NN-*.ipynb``, in name order).

Publishing never damages what is committed:

- every notebook executes into a staging folder under ``build/`` (papermill rewrites its output
  file after each cell, so it must never be the committed file), and figures and table CSVs go
  to the staging folder too (``ATTREC_FIGURES_DIR``);
- only when every notebook finished without error are the staged files published, all or nothing
  (:func:`publish_all`): each target is first backed up into the staging folder and a journal
  (``build/.publish-journal.json``) names the backups; then each staged file replaces its target
  with ``os.replace``. An error or a signal midway puts every target back as it was; a build
  killed midway (SIGKILL) leaves the journal, and the next ``make paper`` puts the targets back
  before anything else;
- the published notebooks are in a stable form (:func:`stable_form`): no execution timestamps or
  durations, fixed cell ids (the cell papermill injects included), so a rebuild from the cache
  leaves ``git status`` clean;
- SIGINT and SIGTERM stop the build, shut the kernel down (nbclient's own handlers) and publish
  nothing; when make itself is killed (SIGKILL) the runner gets SIGTERM (Linux's parent-death
  signal) and does the same; when the runner is killed, the kernel notices its parent is gone and
  exits (ipykernel's parent poller), and the staging folder is left under ``build/`` (ignored).

The committed notebooks and figures are the ``full`` profile (:data:`PUBLISHED_PROFILE`), so
``make paper`` with no arguments rebuilds what is committed, from the cache. Any other profile
writes to ``build/<profile>/notebooks`` and ``build/<profile>/figures`` unless ``--publish``
asks for the committed files explicitly. Publishing over the committed files refuses, before
anything runs, when a data set the committed notebooks have (Table 1's CSV: the rows with
statistics) is not available here, naming them; ``--allow-missing-data`` (``make paper
ALLOW_MISSING_DATA=1``) publishes anyway.

Before executing anything the runner prints the plan (:func:`attrec_lib.engines.grid.plan`): runs
needed, cached, to compute and the estimated compute time; ``--plan-only`` (``make plan``) stops
there.

Before the notebooks execute, every run the profile needs is computed
(:func:`attrec_lib.study.all_runs.fill_profile`: on a local Ray instance with one task per core,
``--workers N`` tasks, an existing cluster with ``--address`` / ``RAY_ADDRESS``, or in this process
with ``--workers 0``), so the notebooks only read the cache.
"""
from __future__ import annotations

import csv
import ctypes
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from ..data import dataset_names, is_available
from ..engines import grid, ray_engine
from ..settings import paths
from ..settings.atomic import replace_atomically
from ..study import all_runs, decisions, profiles
from . import readme


PUBLISHED_PROFILE = "full"  # the profile the committed notebooks, figures and CSVs were built with
# The data sets each profile takes when present (the profiles keep only those present).
_WANTED_DATASETS = {"full": None, "standard": None, "quick": ("ml-100k",), "tiny": ()}  # None: every registered one
JOURNAL_NAME = ".publish-journal.json"


def default_notebooks() -> list:
    return sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))


def add_arguments(parser) -> None:
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to execute, in the order given (default: every notebooks/NN-*.ipynb)")
    parser.add_argument("--profile", default=PUBLISHED_PROFILE, choices=profiles.PROFILES,
                        help=f"experiment profile, one of {', '.join(profiles.PROFILES)} (default {PUBLISHED_PROFILE}: the "
                             f"committed one)")
    parser.add_argument("--fresh", action="store_true",
                        help="recompute every run this build needs instead of reading the cache")
    parser.add_argument("--publish", action="store_true",
                        help="replace the committed notebooks and figures even for a profile other than "
                             f"{PUBLISHED_PROFILE} (default: such profiles write to build/<profile>/)")
    parser.add_argument("--plan-only", "--dry-run", action="store_true",
                        help="print the plan (runs needed, cached, to compute, estimated time) and stop")
    parser.add_argument("--allow-missing-data", action="store_true",
                        help="publish over the committed notebooks even though data sets they have are absent here")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time on a local Ray instance (default: every core); 0: in this process")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: $RAY_ADDRESS)")


def targets(profile: str, publish: bool) -> tuple:
    """(notebooks folder, figures folder) that a build of ``profile`` publishes into."""
    if publish or profile == PUBLISHED_PROFILE:
        return paths.NOTEBOOKS_DIR, paths.FIGURES_DIR
    out = paths.REPO_ROOT / "build" / profile
    return out / "notebooks", out / "figures"


def absent_datasets(profile: str) -> list:
    """The data sets ``profile`` would run that are not available here (no raw files on disk or
    in the mirror), in the registry's order."""
    wanted = _WANTED_DATASETS.get(profile, ())
    return [d for d in (dataset_names() if wanted is None else wanted) if not is_available(d)]


def checked_profile(name: str):
    """The profile ``name``; one clear error when none of its data sets is available."""
    prof = profiles.profile(name)
    if not prof.table2_datasets:
        absent = absent_datasets(name)
        mirror = os.environ.get("ATTREC_DATA_MIRROR")
        raise ValueError(f"profile {name!r} has no data set available (absent: {', '.join(absent)}); "
                         + (f"ATTREC_DATA_MIRROR={mirror} holds none of their raw files" if mirror else
                            "set ATTREC_DATA_MIRROR to the folder of the raw data (e.g. one holding ml-100k/u.data)"))
    return prof


def committed_datasets(figures: Path | None = None) -> list:
    """The data sets the committed notebooks have: the rows of the committed Table 1 CSV with
    statistics (an absent data set's row has none). Empty when there is no such file."""
    path = (figures or paths.FIGURES_DIR) / "table1-datasets.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [row["dataset"] for row in csv.DictReader(fh) if row.get("users", "").strip()]


def check_publishable(profile: str, allow_missing: bool = False) -> None:
    """Refuse (ValueError, one line) to publish ``profile`` over the committed files when data sets
    the committed notebooks have are not in it."""
    have = set(profiles.profile(profile).table2_datasets)
    lost = [d for d in committed_datasets() if d not in have]
    if lost and not allow_missing:
        raise ValueError(f"refusing to publish profile {profile!r}: the committed notebooks have data set(s) "
                         f"{', '.join(lost)}, which this build lacks (not available here: check "
                         f"ATTREC_DATA_MIRROR); ALLOW_MISSING_DATA=1 (--allow-missing-data) publishes anyway")


def print_plan(profile: str, by_part: bool = False) -> None:
    """The plan of a profile; ``by_part``: then one line per group of runs (``grid --part``)."""
    prof = checked_profile(profile)
    absent = absent_datasets(profile)
    if absent:
        print(f"absent data sets, left out of this plan (no raw files here): {', '.join(absent)}", flush=True)
    print(grid.plan(all_runs.all_specs(prof)).describe(), flush=True)
    pending = decisions.pending_tuned_rows(prof)
    if pending:
        print(f"then at most {pending} more runs, not counted above: the tuned rows of models whose tuning "
              "trials are not all cached (their settings are chosen after the trials ran)", flush=True)
    if by_part:
        for part in all_runs.PARTS:
            p = grid.plan(all_runs.all_specs(prof, parts=[part]))
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


def _journal_path() -> Path:
    return paths.REPO_ROOT / "build" / JOURNAL_NAME


def publish_all(pairs, backup_dir: Path) -> int:
    """Replace each ``target`` by its ``source`` (pairs of paths), all or nothing.

    Every existing target is first copied into ``backup_dir`` and a journal names the backups
    (and the targets that did not exist); then the sources move into place. An exception or a
    signal midway restores every target from its backup; a kill midway leaves the journal for
    :func:`recover_interrupted_publish`. Returns the number of files published."""
    pairs = [(Path(s), Path(t)) for s, t in pairs]
    backup_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (_, target) in enumerate(pairs):
        saved = None
        if target.exists():
            saved = backup_dir / f"{i:04d}-{target.name}"
            shutil.copy2(target, saved)
        entries.append({"target": str(target.resolve()), "backup": str(saved) if saved else None})
    journal = _journal_path()
    journal.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(journal, lambda fh: fh.write(json.dumps(entries, indent=1).encode()))
    try:
        for source, target in pairs:
            _move_into_place(source, target)
    except BaseException:
        _restore(entries)
        journal.unlink(missing_ok=True)
        raise
    journal.unlink(missing_ok=True)
    return len(pairs)


def _restore(entries) -> None:
    for entry in entries:
        target = Path(entry["target"])
        if entry["backup"] is None:
            target.unlink(missing_ok=True)
        elif Path(entry["backup"]).exists():
            _copy_back(Path(entry["backup"]), target)


def _copy_back(backup: Path, target: Path) -> None:
    """Put ``backup`` over ``target`` atomically (a copy, so a second rollback finds it again)."""
    replace_atomically(target, lambda fh: fh.write(backup.read_bytes()))
    shutil.copystat(backup, target)


def recover_interrupted_publish() -> bool:
    """Put back the targets of a publish that was killed midway (its journal is still there).
    True when there was one."""
    journal = _journal_path()
    if not journal.exists():
        return False
    try:
        entries = json.loads(journal.read_text())
    except ValueError:
        raise ValueError(f"{journal}: damaged publish journal; `git status` shows what an interrupted "
                         f"publish changed (`git checkout notebooks figures` restores them), then delete it") from None
    _restore(entries)
    journal.unlink()
    for entry in entries:  # the staging folder the backups were in
        if entry["backup"]:
            shutil.rmtree(Path(entry["backup"]).parent.parent, ignore_errors=True)
            break
    print(f"make paper: an interrupted publish was rolled back ({len(entries)} files as they were before it)",
          file=sys.stderr, flush=True)
    return True


def stable_form(nb: dict, name: str, published_path: str | None = None, source_path: str | None = None) -> dict:
    """The executed notebook ``nb`` without what changes from one execution to the next: no
    execution timestamps or durations (papermill's and nbclient's metadata), a fixed id for
    the cell papermill injects (derived from the notebook's parameters cell, else ``name``), and
    consecutive stream outputs of one cell joined (the kernel flushes ``print``'s text and its
    newline as one message or two depending on timing).
    ``published_path``: recorded as papermill's output path instead of the staging file;
    ``source_path``: as its input path (relative to the repo, whatever folder the checkout is in)."""
    meta = nb.get("metadata", {}).get("papermill")
    if meta is not None:
        for key in ("duration", "start_time", "end_time"):
            meta.pop(key, None)
        if published_path is not None:
            meta["output_path"] = published_path
        if source_path is not None:
            meta["input_path"] = source_path
    cells = nb.get("cells", [])
    params = next((c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    base = params.get("id") if params is not None and params.get("id") else Path(name).stem[:40]
    taken = {c.get("id") for c in cells}
    for cell in cells:
        if "outputs" in cell:
            cell["outputs"] = _joined_streams(cell["outputs"])
        cmeta = cell.get("metadata", {})
        cmeta.pop("execution", None)
        pm_meta = cmeta.get("papermill")
        if isinstance(pm_meta, dict):
            for key in ("duration", "start_time", "end_time"):
                pm_meta.pop(key, None)
        if "injected-parameters" in cmeta.get("tags", []):
            wanted = f"{base}-injected"
            if cell.get("id") != wanted:
                taken.discard(cell.get("id"))
                n = 2
                while wanted in taken:
                    wanted, n = f"{base}-injected{n}", n + 1
                cell["id"] = wanted
                taken.add(wanted)
    return nb


def _joined_streams(outputs: list) -> list:
    """``outputs`` with each run of stream outputs of the same name (stdout, stderr) as one, its
    text as lines (as nbformat writes them)."""
    out = []
    for output in outputs:
        if (output.get("output_type") == "stream" and out and out[-1].get("output_type") == "stream"
                and out[-1].get("name") == output.get("name")):
            out[-1] = {**out[-1], "text": _text(out[-1]["text"]) + _text(output["text"])}
        else:
            out.append(dict(output))
    for output in out:
        if output.get("output_type") == "stream":
            output["text"] = _text(output["text"]).splitlines(keepends=True)
    return out


def _text(text) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


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
    recover_interrupted_publish()
    if args.fresh:
        os.environ["ATTREC_FRESH_SINCE"] = str(time.time())
    print_plan(args.profile)
    if args.plan_only:
        return 0
    nb_target, fig_target = targets(args.profile, args.publish)
    if nb_target == paths.NOTEBOOKS_DIR:
        check_publishable(args.profile, getattr(args, "allow_missing_data", False))
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
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    workers = ray_engine.command_line_workers(args.workers, args.address)
    ray_engine.resolve_checked(workers, args.address)  # a bad value: one clear error before anything runs
    try:
        all_runs.fill_profile(profiles.profile(args.profile), workers, args.address)
    except ray_engine.GridFailed as err:
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
    for nb in notebooks:
        _write_stable_form(stage / "notebooks" / nb.name, nb_target / nb.name, nb)
    pairs = [(source, fig_target / source.name) for source in sorted((stage / "figures").iterdir())]
    pairs += [(stage / "notebooks" / nb.name, nb_target / nb.name) for nb in notebooks]
    try:
        published = publish_all(pairs, stage / "backup")
    except OSError as err:  # disk full, a read-only target: publish_all put every target back
        print(f"\nmake paper: publishing failed ({err}); every file it had replaced was put back, so nothing "
              f"was published", file=sys.stderr)
        return 1
    print(f"make paper: published {published} files to {_shown(nb_target)} and {_shown(fig_target)}", flush=True)
    return update_readme(fig_target)


def update_readme(fig_target: Path) -> int:
    """After a publish over the committed files, the README's generated blocks follow them
    (:mod:`attrec_lib.report.readme`); a build into ``build/<profile>/`` leaves the README alone.
    Returns the exit code: 1 (one line) when the published files cannot write the blocks."""
    target = paths.REPO_ROOT / "README.md"
    if Path(fig_target).resolve() != paths.FIGURES_DIR.resolve() or not target.is_file():
        return 0
    try:
        changed = readme.write(target, paths.FIGURES_DIR, paths.REPO_ROOT / "bench")
    except (OSError, ValueError, KeyError) as err:
        print(f"make paper: published, but README.md was not rewritten ({type(err).__name__}: {err})", file=sys.stderr)
        return 1
    print(f"make paper: README.md {'rewritten from' if changed else 'already follows'} {_shown(fig_target)}", flush=True)
    return 0


def _keep_failed(staged: Path) -> Path:
    """Keep a failed notebook for reading, outside the staging folder that is about to go."""
    kept = paths.REPO_ROOT / "build" / "failed" / staged.name
    if staged.exists():
        _move_into_place(staged, kept)
    return _shown(kept)


def _write_stable_form(staged: Path, target: Path, source: Path | None = None) -> None:
    """Rewrite the staged notebook in its stable form (:func:`stable_form`), recording where it is
    published (relative to the repo) instead of the staging file papermill wrote; the JSON is
    laid out as nbformat writes it (indent 1, sorted keys)."""
    try:
        nb = json.loads(staged.read_text())
    except ValueError:  # not a notebook (the tests' fake papermill): published as it is
        return
    if not isinstance(nb, dict) or "cells" not in nb:
        return
    nb = stable_form(nb, staged.name, str(_shown(target)), None if source is None else str(_shown(Path(source))))
    staged.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _shown(path: Path):
    try:
        return path.resolve().relative_to(paths.REPO_ROOT)
    except ValueError:
        return path
