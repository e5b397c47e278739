"""``make paper``: execute every notebook in place through papermill.

Usage: ``python -m attrec_lib.paper [--profile full|quick|tiny] [--fresh] notebooks/*.ipynb``.
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
    args = parser.parse_args(argv)

    import logging

    import papermill as pm

    # papermill logs the executing notebook's outputs (e.g. "N runs: M from the cache, K computed")
    # through the "papermill" logger; run_grid's per-run lines bypass the notebook and reach this
    # terminal directly (experiments.run_logger: /dev/tty, or build/runs.log without a terminal).
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from papermill.exceptions import PapermillExecutionError

    if args.fresh:
        os.environ["ATTREC_FRESH_SINCE"] = str(time.time())
    for nb in args.notebooks:
        if not nb.exists():
            print(f"make paper: no such notebook {nb}", file=sys.stderr)
            return 2
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
