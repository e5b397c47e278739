"""The study's own cost: ``make bench-study`` or ``python -m attrec_lib.bench.study_cost``.

For every model of the study (its ``paper`` preset) and each benchmarked data set, a fresh
one-thread child process trains a few epochs and times full-ranking evaluations; the figures are
medians of the measured epochs (after a warm-up epoch) and evaluations. From them, the cost of
every committed run (``results/*.json``: the epochs it trained and the evaluations it made) is
estimated as ``epochs x s/epoch + evaluations x s/eval`` of its model on its data set, summed into
core-hours per model: what regenerating the study from an empty cache would cost on this machine.
A data set that was not benchmarked borrows the nearest benchmarked one's times, scaled by its
training interactions (epochs) and by users x items (evaluations); a run's own settings (d, L)
are not modelled. The recorded ``wall_seconds`` of the committed runs are printed beside: they
were taken on a shared machine and are noisy.

``--against COMMIT`` measures the code of another commit side by side: a git worktree of it under
``build/``, and every configuration alternates between the two trees (A, B, A, B, ...), so both
see the same load and the ratio means something on a shared machine.

Next to each model's epoch time it prints the floor the arithmetic allows on this machine (FLOPs
and bytes of an epoch from :mod:`attrec_lib.bench.flops` over the measured GEMM rate and copy
bandwidth) and the ratio to it. Nothing tracked is written: the figures go to
``build/bench-study.json`` (``--out`` to choose).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from .. import models
from ..data import load_dataset, split_leave_last_out
from ..settings import paths
from .core import hardware
from .flops import bytes_per_window, flops_per_window

DATASETS = ("ml-100k", "ml-1m-first2999")
MODELS = ("attrec", "bprmf", "fmc", "fpmc", "hrm", "prme", "transrec", "caser", "lstm_plus", "sasrec",
          "pop", "itemknn", "ease", "sr", "sknn")

# The child imports only names that every commit of the study has had, from either layout.
CHILD = r'''
import json, sys, time, statistics
import torch
torch.set_num_threads(1)
spec = json.loads(sys.argv[1])
try:
    from attrec_lib.training.train import TrainConfig, fit
    from attrec_lib.training.evaluate import evaluate
except ImportError:
    from attrec_lib.train import TrainConfig, fit
    from attrec_lib.evaluate import evaluate
from attrec_lib import models
from attrec_lib.data import load_dataset, split_leave_last_out
from attrec_lib.data.sequences import make_windows
split = split_leave_last_out(load_dataset(spec["dataset"]), hold_out_valid=False)
torch.manual_seed(0)
cfg = models.make_config(spec["model"], "paper")
model = models.build(spec["model"], split.n_users, split.n_items, cfg)
trainable = any(p.requires_grad for p in model.parameters())
epochs = spec["epochs"] if trainable else 1
tcfg = TrainConfig(**{**models.training_overrides(spec["model"], "paper"), "epochs": epochs,
                      "eval_every": epochs, "patience": 0})
t0 = time.perf_counter()
res = fit(model, split, tcfg, seed=0, protocol="released", device="cpu", progress=False)
total = time.perf_counter() - t0
evals = []
for _ in range(spec["eval_repeats"]):
    t1 = time.perf_counter()
    evaluate(model, split, "test", device="cpu")
    evals.append(time.perf_counter() - t1)
per_epoch = list(getattr(res, "seconds_per_epoch", []) or [])
measured = per_epoch[1:] or per_epoch or [max(total - statistics.median(evals), 0.0) / epochs]
n_windows = len(make_windows(split.train, getattr(cfg, "seq_len", 1), getattr(cfg, "n_targets", 1), split.pad))
print("STUDY-COST " + json.dumps({"epoch_s": statistics.median(measured), "eval_s": statistics.median(evals),
                                  "trainable": trainable, "n_users": split.n_users, "n_items": split.n_items,
                                  "n_train": n_windows, "n_interactions": sum(len(s) for s in split.train), "d": getattr(cfg, "d", 0)}), flush=True)
'''


def child_env(tree: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "ATTREC_COMPILE": "0"}


def measure(tree: Path, dataset: str, model: str, epochs: int, eval_repeats: int) -> dict:
    """One configuration in a fresh interpreter importing the library of ``tree``."""
    spec = json.dumps({"dataset": dataset, "model": model, "epochs": epochs, "eval_repeats": eval_repeats})
    proc = subprocess.run([sys.executable, "-c", CHILD, spec], cwd=tree, env=child_env(tree),
                          capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("STUDY-COST "):
            return json.loads(line[len("STUDY-COST "):])
    raise RuntimeError(f"study-cost child failed for {model} on {dataset} in {tree}:\n{proc.stderr[-2000:]}")


def worktree(commit: str) -> Path:
    """A git worktree of ``commit`` under build/ (made once, reused)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=paths.REPO_ROOT,
                         capture_output=True, text=True)
    if sha.returncode != 0:
        raise SystemExit(f"--against: {commit!r} is not a commit of this repository")
    sha = sha.stdout.strip()
    tree = paths.REPO_ROOT / "build" / f"bench-study-{sha[:12]}"
    if not (tree / "attrec_lib").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(tree), sha], cwd=paths.REPO_ROOT,
                       check=True, capture_output=True)
    return tree


def committed_runs(results_dir: Path) -> list[dict]:
    """(model, data set, epochs trained, evaluations, recorded wall seconds) of every result file."""
    runs = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            spec = record["spec"]
            runs.append({"model": spec["model"], "dataset": spec["dataset"],
                         "epochs": int(record.get("epochs_run") or len(record["history"])),
                         "evals": len(record["history"]), "wall_s": float(record.get("wall_seconds") or 0.0)})
        except (ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"{path}: not a result file ({err})") from err
    return runs


def dataset_shape(dataset: str) -> dict:
    """Training interactions and users x items of a data set (for scaling benchmarked times)."""
    split = split_leave_last_out(load_dataset(dataset), hold_out_valid=True)
    return {"interactions": sum(len(s) for s in split.train), "cells": split.n_users * split.n_items}


def run_seconds(run: dict, times: dict, shapes: dict) -> float:
    """Estimated seconds of one committed run from the benchmarked times of its model."""
    measured = {ds: t for (m, ds), t in times.items() if m == run["model"]}
    if not measured:
        raise KeyError(run["model"])
    if run["dataset"] in measured:
        t, scale_epoch, scale_eval = measured[run["dataset"]], 1.0, 1.0
    else:
        shape = shapes[run["dataset"]]
        base = min(measured, key=lambda ds: abs(shapes[ds]["interactions"] - shape["interactions"]))
        t = measured[base]
        scale_epoch = shape["interactions"] / shapes[base]["interactions"]
        scale_eval = shape["cells"] / shapes[base]["cells"]
    epochs = run["epochs"] if t["trainable"] else 1
    return epochs * t["epoch_s"] * scale_epoch + run["evals"] * t["eval_s"] * scale_eval


def estimate(runs: list[dict], times: dict, shapes: dict) -> dict:
    """model -> estimated core-hours of its committed runs (and 'total')."""
    out: dict[str, float] = {}
    for run in runs:
        out[run["model"]] = out.get(run["model"], 0.0) + run_seconds(run, times, shapes) / 3600
    out["total"] = sum(out.values())
    return out


def floor_seconds(model: str, t: dict, hw: dict) -> float | None:
    """The arithmetic's floor of one epoch (None for a model the FLOP table does not cover)."""
    try:
        cfg = models.make_config(model, "paper")
        flops = flops_per_window(model, cfg) * t["n_train"]
        moved = bytes_per_window(model, cfg) * t["n_train"]
    except (ValueError, AttributeError):
        return None
    return max(flops / (hw["gflops"] * 1e9), moved / (hw["copy_gbps"] * 1e9))


def format_rows(times: dict, other: dict | None, floors: dict) -> str:
    head = f"{'model':<10} {'data set':<16} {'s/epoch':>8} {'s/eval':>7} {'floor':>7} {'x floor':>7}"
    if other is not None:
        head += f" {'then s/ep':>9} {'then s/ev':>9} {'ep ratio':>8}"
    lines = [head]
    for (model, ds), t in times.items():
        fl = floors.get((model, ds))
        floor_text = "-" if fl is None else f"{fl:.3f}"
        ratio_text = "-" if fl is None else f"{t['epoch_s'] / fl:.1f}"
        line = f"{model:<10} {ds:<16} {t['epoch_s']:>8.3f} {t['eval_s']:>7.3f} {floor_text:>7} {ratio_text:>7}"
        if other is not None and (model, ds) in other:
            o = other[(model, ds)]
            line += f" {o['epoch_s']:>9.3f} {o['eval_s']:>9.3f} {o['epoch_s'] / t['epoch_s']:>8.2f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.bench.study_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--epochs", type=int, default=3, help="epochs per measurement, the first a warm-up")
    parser.add_argument("--eval-repeats", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="alternations per configuration (medians kept)")
    parser.add_argument("--against", metavar="COMMIT", help="also measure this commit's code, alternating")
    parser.add_argument("--out", type=Path, default=paths.REPO_ROOT / "build" / "bench-study.json")
    args = parser.parse_args(argv)
    for name in ("epochs", "eval_repeats", "repeats"):
        if getattr(args, name) < (2 if name == "epochs" else 1):
            raise SystemExit(f"--{name.replace('_', '-')} is too small: {getattr(args, name)}")
    trees = {"now": paths.REPO_ROOT}
    if args.against:
        trees["then"] = worktree(args.against)
    samples: dict = {label: {} for label in trees}
    for ds in args.datasets:
        for model in args.models:
            for _ in range(args.repeats):
                for label, tree in trees.items():  # alternate: both trees see the same load
                    samples[label].setdefault((model, ds), []).append(
                        measure(tree, ds, model, args.epochs, args.eval_repeats))
            print(f"measured {model} on {ds}", file=sys.stderr, flush=True)
    times = {label: {key: {**vals[0], "epoch_s": statistics.median(v["epoch_s"] for v in vals),
                           "eval_s": statistics.median(v["eval_s"] for v in vals)}
                     for key, vals in per.items()} for label, per in samples.items()}
    hw = hardware(1)
    floors = {key: floor_seconds(key[0], t, hw) for key, t in times["now"].items()}
    runs = committed_runs(paths.results_dir())
    needed = sorted({r["dataset"] for r in runs} | set(args.datasets))
    shapes = {ds: dataset_shape(ds) for ds in needed}
    kept = [r for r in runs if r["model"] in args.models]
    cost = {label: estimate(kept, t, shapes) for label, t in times.items()}
    recorded = sum(r["wall_s"] for r in kept) / 3600
    print(format_rows(times["now"], times.get("then"), floors))
    print(f"\n{len(kept)} committed runs of {len(args.models)} models: recorded {recorded:.2f} core-hours (shared machine)")
    for label in trees:
        per_model = ", ".join(f"{m} {h:.2f}" for m, h in sorted(cost[label].items()) if m != "total")
        print(f"estimated with the {label} code: {cost[label]['total']:.2f} core-hours ({per_model})")
    if "then" in cost:
        print(f"cost now / cost then: {cost['now']['total'] / cost['then']['total']:.2f}")
    payload = {"hardware": hw, "args": {k: str(v) for k, v in vars(args).items()},
               "times": {label: {f"{m}/{ds}": t for (m, ds), t in per.items()} for label, per in times.items()},
               "floors_s": {f"{m}/{ds}": f for (m, ds), f in floors.items()},
               "core_hours": cost, "recorded_core_hours": recorded, "runs": len(kept)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
