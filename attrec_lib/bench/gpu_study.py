"""``make gpu-study``: a sizeable part of the study on a CUDA host, in one call of at most ~10 minutes.

It computes Table 2's learned-model runs on ML-100K (the full profile's specs, every seed) as GPU
runs, several at once on the card (``--per-card``, default the Ray engine's
:data:`~attrec_lib.engines.ray_engine.GPU_RUNS_PER_CARD`), each in a process of its own with one
CPU thread, and prints and writes (``bench/gpu-study-<card>.json``):

* runs per minute, and each run's wall time, epochs and peak GPU memory;
* every metric's difference (test HR@50, MRR, NDCG@10; validation HR@50) from the committed CPU
  run of the same spec, beside the CPU runs' own seed-to-seed standard deviation (the noise a
  GPU's other rounding should stay within);
* the full profile's projected wall time on this host: each learned model's recorded CPU wall
  time over the committed runs times its measured GPU/CPU ratio here, spread over the runs the
  cards hold at once; the fitted baselines on the cores left; the two side by side.

Nothing is written under ``results/``: a GPU run's key is its own (device class ``cuda``) and
the notebooks read CPU runs. A run that would start after ``--budget-s`` is skipped and listed.

Without CUDA it is a *dry run* (tested on any machine: tests/test_gpu_study.py): the same code path
on the CPU with the tiny profile's learned runs (synthetic data), each compared with the same spec
computed in this process, so every difference must be exactly zero.

Made for a bare GPU host (no Ray, no install: torch, numpy, pandas, scipy, tqdm)::

    ATTREC_DATA_MIRROR=shared-data PYTHONPATH=. python3 -m attrec_lib.bench.gpu_study
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import json
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time

import torch

from .. import study
from ..engines.ray_engine import GPU_RUNS_PER_CARD
from ..runs import compute, runspec, store
from ..settings import paths
from ..study import decisions

METRICS = ("hr@50", "mrr", "ndcg@10", "valid_hr@50")


def _one(spec_dict: dict, device: str) -> dict:
    """One run in a worker process: its metrics, wall time and peak memory (nothing written)."""
    torch.set_num_threads(1)
    spec = runspec.RunSpec.from_dict(spec_dict)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = compute.execute(spec, device=device, progress=False)
    wall = time.perf_counter() - t0
    row = compute.result_row(result)
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else None
    return {"key": spec.key, "dataset": spec.dataset, "model": spec.model, "seed": spec.seed,
            "wall_s": wall, "epochs_run": result["epochs_run"], "seconds_per_epoch": result["seconds_per_epoch"],
            "peak_gpu_bytes": peak, "device": result["device"], **{m: row.get(m) for m in METRICS}}


def study_specs(dry_run: bool) -> list:
    """The runs timed: Table 2's learned models on ML-100K (full profile), or the tiny profile's."""
    prof = study.profile("tiny" if dry_run else "full")
    specs = decisions.learned_table2_specs(prof)
    if not dry_run:
        specs = [s for s in specs if s.dataset == "ml-100k"]
    return [dataclasses.replace(s, device_class="cpu" if dry_run else "cuda") for s in specs
            if runspec.is_learned(s.model)]


def reference_rows(specs, dry_run: bool) -> dict:
    """{GPU spec key: the CPU run's metrics}: the committed result of the same spec on the CPU
    (a dry run computes it here, in this process, when no committed one exists)."""
    out = {}
    for spec in specs:
        cpu = dataclasses.replace(spec, device_class="cpu")
        result = store.load_result(cpu)
        if result is None and dry_run:
            result = compute.execute(cpu, device="cpu", progress=False)
        if result is not None:
            row = compute.result_row(result)
            out[spec.key] = {"wall_seconds": result.get("wall_seconds"), **{m: row.get(m) for m in METRICS}}
    return out


def seed_sd(rows: list, reference: dict) -> dict:
    """{(dataset, model, metric): sd over seeds of the CPU runs} (the noise to compare with)."""
    groups = {}
    for row in rows:
        ref = reference.get(row["key"])
        if ref is None:
            continue
        for m in METRICS:
            if ref.get(m) is not None:
                groups.setdefault((row["dataset"], row["model"], m), []).append(ref[m])
    return {k: statistics.stdev(v) for k, v in groups.items() if len(v) > 1}


def project_full_profile(rows: list, reference: dict, slots: int, cores: int) -> dict:
    """The full profile's wall time on this host, from its committed CPU runs' recorded wall time:
    learned runs scaled by their model's median GPU/CPU wall ratio measured here (the median over
    measured models for one not measured) and spread over ``slots`` runs at once; fitted runs on
    the ``cores`` left. Both parts run side by side, so the longer is the projection."""
    ratios = {}
    for row in rows:
        ref = reference.get(row["key"])
        if ref and ref.get("wall_seconds"):
            ratios.setdefault(row["model"], []).append(row["wall_s"] / ref["wall_seconds"])
    ratio = {m: statistics.median(v) for m, v in ratios.items()}
    if not ratio:
        return {"error": "no measured run has a committed CPU twin: nothing to scale"}
    fallback = statistics.median(ratio.values())
    learned_cpu = fitted_cpu = projected_learned = 0.0
    unmeasured, missing = set(), 0
    for spec in study.all_specs(study.profile("full")):
        result = store.load_result(spec)
        if result is None or not result.get("wall_seconds"):
            missing += 1
            continue
        wall = float(result["wall_seconds"])
        if runspec.is_learned(spec.model):
            learned_cpu += wall
            projected_learned += wall * ratio.get(spec.model, fallback)
            if spec.model not in ratio:
                unmeasured.add(spec.model)
        else:
            fitted_cpu += wall
    learned_wall = projected_learned / max(1, slots)
    fitted_wall = fitted_cpu / max(1, cores)
    return {"gpu_over_cpu_wall": ratio, "fallback_ratio": fallback, "unmeasured_models": sorted(unmeasured),
            "learned_cpu_core_h": learned_cpu / 3600, "fitted_cpu_core_h": fitted_cpu / 3600,
            "learned_wall_h": learned_wall / 3600, "fitted_wall_h": fitted_wall / 3600,
            "projected_wall_h": max(learned_wall, fitted_wall) / 3600, "runs_not_cached": missing,
            "slots": slots, "fitted_cores": cores}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="the tiny profile on the CPU even with CUDA")
    ap.add_argument("--per-card", type=int, default=None, help="runs at once on one card (default: the engine's)")
    ap.add_argument("--budget-s", type=float, default=480.0, help="start no run after this many seconds")
    ap.add_argument("--out", default=None, help="JSON path (default bench/gpu-study-<card>.json)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    if args.per_card is not None and args.per_card < 1:
        print(f"gpu-study: --per-card must be >= 1, got {args.per_card}", file=sys.stderr)
        return 2
    dry_run = args.dry_run or not torch.cuda.is_available()
    device = "cpu" if dry_run else "cuda"
    cards = 0 if dry_run else torch.cuda.device_count()
    per_card = args.per_card or GPU_RUNS_PER_CARD
    slots = 2 if dry_run else per_card * cards
    cores = os.cpu_count() or 1
    card = "dryrun-cpu" if dry_run else torch.cuda.get_device_name(0)
    print(f"gpu-study: {'DRY RUN on the CPU (no CUDA or --dry-run)' if dry_run else f'{cards} x {card}'}, "
          f"{slots} runs at once, torch {torch.__version__}, python {platform.python_version()}", flush=True)
    specs = study_specs(dry_run)
    reference = reference_rows(specs, dry_run)
    rows, skipped, failed = [], [], []
    context = multiprocessing.get_context("spawn")  # CUDA cannot be forked into workers
    pool = cf.ProcessPoolExecutor(max_workers=slots, mp_context=context)
    try:
        futures = {}
        for spec in specs:
            futures[pool.submit(_one, spec.to_dict(), device)] = spec
        t_runs = time.perf_counter()
        for future in cf.as_completed(futures):
            spec = futures[future]
            try:
                row = future.result()
            except Exception as err:  # one failed run is reported; the others go on
                failed.append(f"{spec.dataset} {spec.model} seed={spec.seed}: {type(err).__name__}: {err}")
                continue
            rows.append(row)
            ref = reference.get(row["key"], {})
            diff = {m: (row[m] - ref[m]) if row.get(m) is not None and ref.get(m) is not None else None
                    for m in METRICS}
            row["diff_from_cpu"] = diff
            shown = ", ".join(f"{m} {d:+.4f}" for m, d in diff.items() if d is not None) or "no CPU twin"
            print(f"  {row['dataset']} {row['model']:9} seed={row['seed']} {row['wall_s']:6.1f} s "
                  f"{row['epochs_run']:3} epochs  vs CPU: {shown}", flush=True)
            if time.perf_counter() - t_start > args.budget_s:
                for other, s in futures.items():
                    if other.cancel():
                        skipped.append(f"{s.dataset} {s.model} seed={s.seed}")
        runs_wall = time.perf_counter() - t_runs
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    sd = seed_sd(rows, reference)
    within = [abs(r["diff_from_cpu"][m]) <= sd[(r["dataset"], r["model"], m)]
              for r in rows for m in METRICS
              if r["diff_from_cpu"].get(m) is not None and (r["dataset"], r["model"], m) in sd]
    out = {"card": card, "dry_run": dry_run, "cards": cards, "slots": slots, "host": socket.gethostname(),
           "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
           "runs": rows, "skipped": skipped, "failed": failed, "runs_wall_s": runs_wall,
           "runs_per_minute": 60 * len(rows) / runs_wall if runs_wall > 0 else None,
           "seed_sd_cpu": {"/".join(k): v for k, v in sd.items()},
           "within_one_seed_sd": f"{sum(within)} of {len(within)}" if within else None,
           "max_abs_diff": {m: max((abs(r["diff_from_cpu"][m]) for r in rows if r["diff_from_cpu"].get(m) is not None),
                                   default=None) for m in METRICS},
           "projection": project_full_profile(rows, reference, slots, max(1, cores - slots)) if not dry_run else None}
    print(f"gpu-study: {len(rows)} runs in {runs_wall:.0f} s ({out['runs_per_minute']:.1f} runs/min), "
          f"{len(skipped)} skipped over the budget, {len(failed)} failed")
    print(f"  largest difference from the CPU run of the same spec: "
          + ", ".join(f"{m} {v:.4f}" for m, v in out["max_abs_diff"].items() if v is not None))
    if within:
        print(f"  within one CPU seed-to-seed sd: {out['within_one_seed_sd']} (run, metric) pairs")
    if out["projection"] and "projected_wall_h" in out["projection"]:
        p = out["projection"]
        print(f"  full profile on this host: about {p['projected_wall_h']:.2f} h (learned runs "
              f"{p['learned_wall_h']:.2f} h on {slots} GPU slots, from {p['learned_cpu_core_h']:.1f} CPU core-h; "
              f"fitted runs {p['fitted_wall_h']:.2f} h on {p['fitted_cores']} cores)")
    for line in failed:
        print(f"  FAILED: {line}")
    path = args.out or os.path.join(paths.BENCH_DIR, f"gpu-study-{card.replace(' ', '_').replace('/', '_')}.json")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(f"{path}.tmp", "w") as fh:
        json.dump(out, fh, indent=1)
    os.replace(f"{path}.tmp", path)
    print(f"gpu-study: {time.perf_counter() - t_start:.0f} s in all; wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
