"""``make paper``: execute every notebook in place through papermill.

Usage: ``python -m attrec_lib.paper [--profile full|quick|tiny] [--fresh] [--workers N] [--address A]
notebooks/*.ipynb``. First every run the profile needs is computed (``execution.fill_profile``:
on a local Ray instance with one task per core, ``--workers N`` tasks, an existing cluster with
``--address`` / ``RAY_ADDRESS``, or in this process with ``--workers 0``), so the notebooks then
only read the cache.
Notebooks run in the order given (the Makefile passes a sorted wildcard). Each gets the
papermill parameter ``profile``; ``--fresh`` sets ``ATTREC_FRESH_SINCE`` so that every run this
build needs is recomputed once (runs shared between notebooks are not recomputed twice). Cell
outputs stream to the terminal, so progress (notebook, run, epochs) is visible. A failing
notebook stops the build with its name and the failing cell.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.paper", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", default="full", choices=["full", "standard", "quick", "tiny"])
    parser.add_argument("--fresh", action="store_true", help="recompute every run instead of reading the cache")
    parser.add_argument("--kernel", default="python3")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time on a local Ray instance (default: every core); 0: in this process")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: $RAY_ADDRESS)")
    args = parser.parse_args(argv)

    import logging

    import papermill as pm

    # papermill logs the executing notebook's outputs (run_grid's "[i/n] ... (running)" lines and
    # the per-run epoch bars) through the "papermill" logger.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from papermill.exceptions import PapermillExecutionError

    if args.fresh:
        os.environ["ATTREC_FRESH_SINCE"] = str(time.time())
    for nb in args.notebooks:
        if not nb.exists():
            print(f"make paper: no such notebook {nb}", file=sys.stderr)
            return 2
    from . import execution, study
    workers = execution.command_line_workers(args.workers, args.address)
    try:
        execution.resolve(workers, args.address)
    except ValueError as err:
        print(f"make paper: {err}", file=sys.stderr)
        return 2
    try:
        execution.fill_profile(study.profile(args.profile), workers, args.address)
    except execution.GridFailed as err:
        print(f"\nmake paper: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmake paper: interrupted; every finished run is cached, no notebook was touched", file=sys.stderr)
        return 130
    for i, nb in enumerate(args.notebooks, 1):
        print(f"=== [{i}/{len(args.notebooks)}] {nb} (profile={args.profile})", flush=True)
        t0 = time.time()
        try:
            pm.execute_notebook(str(nb), str(nb), parameters={"profile": args.profile}, kernel_name=args.kernel,
                                cwd=str(nb.parent), log_output=True, progress_bar=False)
        except PapermillExecutionError as err:
            print(f"\nmake paper: {nb} failed in cell {err.exec_count}: {err.ename}: {err.evalue}",
                  file=sys.stderr)
            return 1
        print(f"=== {nb} done in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
