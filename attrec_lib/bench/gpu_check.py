"""``make gpu-check``: one short script (at most ~5 minutes) that times the study on a CUDA card.

It runs, in this process and on ``cuda``:

1. the benchmark (:func:`attrec_lib.bench.core.measure`) of AttRec ``paper`` and ``released_code``
   and Caser on ML-100K, and of AttRec ``paper`` on the ML-1M-shaped synthetic set;
2. one 5-epoch AttRec ``released_code`` run on ML-100K under the validation protocol;

and writes ``bench/gpu-<card>.json`` with the card's name, the torch version and every figure.

Without CUDA it is a *dry run*: the same code path on the CPU with tiny synthetic data in
place of ML-100K and ML-1M (so it is tested on any machine; see tests/test_gpu_check.py), and
it writes ``bench/gpu-dryrun-cpu.json`` unless ``--out`` says otherwise.

Made to run on a bare machine with no install and no network::

    ATTREC_DATA_MIRROR=shared-data PYTHONPATH=. python3 -m attrec_lib.bench.gpu_check

It needs only torch, numpy, pandas and tqdm, checks them first and names what is missing;
ML-100K is read from the folder ``ATTREC_DATA_MIRROR`` names (``<mirror>/ml-100k/u.data``).
A step that would start after ``--budget-s`` seconds is skipped and listed as such.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import socket
import sys
import time

REQUIRED = ("torch", "numpy", "pandas", "tqdm")
# (data set, model, preset): the configurations timed, in order of importance
BENCH_CASES = [("ml-100k", "attrec", "paper"), ("ml-100k", "attrec", "released_code"),
               ("ml-100k", "caser", "paper"), ("ml-1m-shaped", "attrec", "paper")]
RUN_EPOCHS = 5  # the released_code run


def missing_modules() -> list:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


# The library (and so torch) is imported inside the functions below, never at module level, and
# attrec_lib.bench's __init__ imports nothing that needs torch: on a machine without it main() names
# the missing module instead of failing at import (tests/test_gpu_check.py runs it with torch blocked).
def load_splits(dry_run: bool) -> dict:
    """Benchmark splits (no validation item) per data set key; tiny synthetic ones in a dry run."""
    from ..data.synthetic import planted_sequences, shaped_like
    from ..data.sequences import split_leave_last_out
    from .core import load_bench_split
    if dry_run:
        return {"ml-100k": split_leave_last_out(planted_sequences(n_users=40, n_items=60, length=20),
                                                hold_out_valid=False),
                "ml-1m-shaped": split_leave_last_out(shaped_like(60, 80, 60 * 25, seed=0, name="tiny-shaped"),
                                                     hold_out_valid=False)}
    return {key: load_bench_split(key) for key in ("ml-100k", "ml-1m-shaped")}


def released_code_run(dry_run: bool, device) -> dict:
    """A 5-epoch AttRec ``released_code`` run on ML-100K (validation protocol), timed."""
    import torch
    from .. import models
    from ..data import load_dataset
    from ..data.sequences import split_leave_last_out
    from ..data.synthetic import planted_sequences
    from ..training.train import TrainConfig, fit
    data = planted_sequences(n_users=40, n_items=60, length=20) if dry_run else load_dataset("ml-100k")
    split = split_leave_last_out(data, hold_out_valid=True)
    torch.manual_seed(0)
    cfg = models.make_config("attrec", "released_code")
    model = models.build("attrec", split.n_users, split.n_items, cfg)
    tcfg = TrainConfig(**{**models.training_overrides("attrec", "released_code"), "epochs": RUN_EPOCHS,
                          "patience": 0})
    t0 = time.perf_counter()
    res = fit(model, split, tcfg, seed=0, protocol="valid", device=device, progress=False)
    return {"dataset": split.name, "epochs": RUN_EPOCHS, "wall_s": time.perf_counter() - t0,
            "seconds_per_epoch": res.seconds_per_epoch, "seconds_per_eval": res.seconds_per_eval,
            "history": res.history}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny synthetic data on the CPU even with CUDA")
    ap.add_argument("--out", default=None, help="JSON path (default bench/gpu-<card>.json)")
    ap.add_argument("--budget-s", type=float, default=270.0, help="start no step after this many seconds")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    missing = missing_modules()
    if missing:
        print(f"gpu-check: missing Python modules {missing}; needed: {list(REQUIRED)}", file=sys.stderr)
        return 2
    import torch
    from ..settings import paths
    from .core import measure
    dry_run = args.dry_run or not torch.cuda.is_available()
    if not dry_run:
        mirror = paths.data_mirror()
        if mirror is None or not (mirror / "ml-100k" / "u.data").is_file():
            print("gpu-check: ML-100K not found: set ATTREC_DATA_MIRROR to a folder holding ml-100k/u.data "
                  f"(now {os.environ.get('ATTREC_DATA_MIRROR')!r})", file=sys.stderr)
            return 2
    device = torch.device("cpu" if dry_run else "cuda")
    card = "dryrun-cpu" if dry_run else torch.cuda.get_device_name(device)
    print(f"gpu-check: {'DRY RUN on the CPU (no CUDA or --dry-run)' if dry_run else 'device ' + card}, "
          f"torch {torch.__version__}, python {platform.python_version()}", flush=True)
    if dry_run:
        torch.set_num_threads(1)

    out = {"card": card, "dry_run": dry_run, "host": socket.gethostname(), "torch": torch.__version__,
           "cuda": torch.version.cuda, "python": platform.python_version(), "rows": [], "skipped": []}
    splits = load_splits(dry_run)
    epochs = 2 if dry_run else 3  # the first epoch is the warm-up, not counted
    for ds, model, preset in BENCH_CASES:
        if time.perf_counter() - t_start > args.budget_s:
            out["skipped"].append(f"bench {ds} {model}/{preset}")
            continue
        row = measure(ds, model, preset, epochs=epochs, eval_repeats=2, device=device.type, split=splits[ds])
        out["rows"].append(row)
        print(f"  {ds:13} {model}/{preset:14} {row['epoch_s']:7.3f} s/epoch  {row['eval_s']:6.3f} s/eval  "
              f"({row['n_windows']} windows)", flush=True)
    if time.perf_counter() - t_start > args.budget_s:
        out["skipped"].append("released_code run")
    else:
        out["released_code_run"] = released_code_run(dry_run, device)
        last = out["released_code_run"]["history"][-1]
        print(f"  released_code {RUN_EPOCHS} epochs: {out['released_code_run']['wall_s']:.1f} s, "
              f"valid HR@50 {last['valid_hr@50']:.4f}, test HR@50 {last['test_hr@50']:.4f}", flush=True)
    out["total_s"] = time.perf_counter() - t_start
    for step in out["skipped"]:
        print(f"  SKIPPED (over the {args.budget_s:.0f} s budget): {step}")
    path = args.out or os.path.join(paths.BENCH_DIR, f"gpu-{card.replace(' ', '_').replace('/', '_')}.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(out, fh, indent=1)
    os.replace(tmp, path)
    print(f"gpu-check: {out['total_s']:.0f} s in all; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
