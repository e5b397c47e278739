"""Speed and memory benchmark: ``make bench`` or ``python -m attrec_lib.bench [--quick] [--threads N ...]``.

(The FLOP and byte counts per model live in :mod:`attrec_lib.bench.flops`; the GPU check in
:mod:`attrec_lib.bench.gpu_check`.)

For each configuration (model x preset x data set) a fresh child process trains a few epochs
with the shared trainer (``train.fit``), then times full-ranking evaluations of all users, and
reports its own peak resident memory (``ru_maxrss``), so configurations never share a heap.
Figures: median seconds per training epoch after a warm-up epoch, median seconds per full
evaluation (all users, all items), peak RSS, training windows per second.

Next to each figure the benchmark prints the floor the arithmetic allows on this machine: the
floating-point operations of one epoch (forward + backward ~ 3x forward; see
:func:`flops_per_window`) divided by the sustained matmul rate measured here, and the bytes an
epoch must touch divided by the measured copy bandwidth; the floor is the larger of the two.
The paper's Table 5 (Titan X GPU, ``paper_numbers.TABLE5``) is printed for reference.

Timings on a shared machine are noisy: the load average is recorded before and after, and each
row also gives the CPU seconds per epoch the run's own process used (``cpu s/ep``), which other
jobs on the machine disturb much less than wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

# torch and the rest of the library are imported inside the functions that need them, so that
# `python -m attrec_lib.bench.gpu_check` (which imports this package first) can name a missing
# torch itself (gpu_check.missing_modules).
from ..settings import paper_numbers
from .flops import bytes_per_window, eval_flops, flops_per_window

PAPER_TABLE5 = {ds: paper_numbers.TABLE5[ds] for ds in ("ml-100k", "ml-1m")}  # the sets benchmarked here
# (key, how to build it): the ML-1M-shaped set has ML-1M's published totals.
DATASETS = {
    "ml-100k": "real (mirror)",
    "ml-1m-shaped": "synthetic: 6,040 users, 3,706 items, 1,000,209 interactions",
    "ml-1m-first2999": "real ML-1M, users 1-2999",
}
ML1M_SHAPE = (6040, 3706, 1_000_209)
CONFIGS = [("attrec", "paper"), ("attrec", "released_code"), ("caser", "paper")]
TARGETS = {  # this study's targets on a 2-core CPU, one thread (s/epoch, s/eval, MiB)
    ("ml-100k", "attrec", "paper"): {"epoch_s": 0.5},
    ("ml-100k", "attrec", "released_code"): {"epoch_s": 0.7},
    ("ml-1m-shaped", "attrec", "paper"): {"epoch_s": 6.0, "eval_s": 2.0, "peak_mib": 2048},
}


# -- what the hardware sustains -----------------------------------------------------------------
def matmul_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """Median sustained float32 GEMM rate (GFLOP/s) with the current torch thread setting."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    rates, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(rates) < 3:
        t0 = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)


def copy_gbps(mib: int = 256, repeats: int = 5) -> float:
    """Median memory bandwidth (GB/s, read + write) of a large tensor copy."""
    import torch
    src = torch.ones(mib * 2 ** 20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t0)
    return 2 * src.numel() * 4 / statistics.median(times) / 1e9


# -- one configuration, in a child process ------------------------------------------------------
def load_bench_split(key: str):
    """Leave-last-out split without a validation item: evaluation ranks every user once."""
    from ..data import load_dataset, split_leave_last_out
    from ..data.synthetic import shaped_like
    if key == "ml-1m-shaped":
        data = shaped_like(*ML1M_SHAPE, seed=0, name="ml-1m-shaped")
    else:
        data = load_dataset(key)
    return split_leave_last_out(data, hold_out_valid=False)


def measure(dataset: str, model_name: str, preset: str, epochs: int, eval_repeats: int,
            device: str | None = None, split=None) -> dict:
    """Train ``epochs`` epochs (the first is the warm-up) and time ``eval_repeats`` evaluations."""
    import torch
    from .. import models
    from ..data.sequences import make_windows
    from ..training.evaluate import evaluate
    from ..training.train import TrainConfig, default_device, device_name, fit

    dev = torch.device(device) if device else default_device()
    split = split if split is not None else load_bench_split(dataset)
    torch.manual_seed(0)
    mcfg = models.make_config(model_name, preset)
    model = models.build(model_name, split.n_users, split.n_items, mcfg)
    tcfg = TrainConfig(**{**models.training_overrides(model_name, preset), "epochs": epochs,
                          "eval_every": epochs, "patience": 0})
    cpu0 = time.process_time()
    res = fit(model, split, tcfg, seed=0, protocol="released", device=dev, progress=False, threads=None)
    fit_cpu_s = time.process_time() - cpu0
    n_windows = len(make_windows(split.train, mcfg.seq_len, mcfg.n_targets, split.pad))
    eval_times, eval_cpu = [], []
    for _ in range(eval_repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        evaluate(model, split, "test", device=dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        eval_times.append(time.perf_counter() - t0)
        eval_cpu.append(time.process_time() - c0)
    measured = res.seconds_per_epoch[1:] or res.seconds_per_epoch
    epoch_s = statistics.median(measured)
    return {
        "dataset": dataset, "model": model_name, "preset": preset,
        "n_users": split.n_users, "n_items": split.n_items, "n_windows": n_windows,
        "d": mcfg.d, "epoch_s": epoch_s, "epoch_s_all": res.seconds_per_epoch,
        "eval_s": statistics.median(eval_times), "eval_s_all": eval_times,
        "windows_per_s": n_windows / epoch_s,
        # CPU seconds of this process per epoch (all epochs, warm-up included, minus the one
        # evaluation fit runs): much less sensitive than wall time to other jobs on a shared machine
        "cpu_epoch_s": max(fit_cpu_s - statistics.median(eval_cpu), 0.0) / epochs,
        "test_metrics": {k: v for k, v in res.history[-1].items() if k.startswith("test_")},
        "flops_per_epoch": flops_per_window(model_name, mcfg) * n_windows,
        "bytes_per_epoch": bytes_per_window(model_name, mcfg) * n_windows,
        "eval_flops": eval_flops(split.n_users, split.n_items, mcfg.d, model_name),
        "device": device_name(dev),
    }


def _child(spec: dict) -> None:
    import torch
    torch.set_num_threads(spec["threads"])
    out = measure(spec["dataset"], spec["model"], spec["preset"], spec["epochs"], spec["eval_repeats"])
    out["threads"] = spec["threads"]
    out["compiled"] = bool(spec.get("compile"))
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print("BENCH-RESULT " + json.dumps(out), flush=True)


def run_child(spec: dict) -> dict:
    """Run one configuration in a fresh interpreter with its thread count fixed."""
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]), "MKL_NUM_THREADS": str(spec["threads"]),
           "ATTREC_COMPILE": "1" if spec.get("compile") else "0"}
    proc = subprocess.run([sys.executable, "-m", "attrec_lib.bench", "--child", json.dumps(spec)],
                          env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    raise RuntimeError(f"benchmark child failed for {spec}:\n{proc.stderr[-3000:]}")


def hardware(threads: int) -> dict:
    """Sustained GEMM rate and copy bandwidth with ``threads`` threads (measured in a child)."""
    code = ("import json, torch; torch.set_num_threads(%d); from attrec_lib.bench.core import matmul_gflops, "
            "copy_gbps; print(json.dumps({'gflops': matmul_gflops(), 'copy_gbps': copy_gbps()}))" % threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_floors(row: dict, hw: dict) -> dict:
    flop_s = row["flops_per_epoch"] / (hw["gflops"] * 1e9)
    byte_s = row["bytes_per_epoch"] / (hw["copy_gbps"] * 1e9)
    row["floor_epoch_s"] = max(flop_s, byte_s)
    row["floor_epoch_flop_s"], row["floor_epoch_byte_s"] = flop_s, byte_s
    row["floor_eval_s"] = row["eval_flops"] / (hw["gflops"] * 1e9)
    return row


def caser_available() -> bool:
    from .. import models
    try:
        models.config_class("caser")
        return True
    except (ValueError, ImportError):
        return False


def format_table(rows: list) -> str:
    head = (f"{'data set':16} {'model/preset':22} {'thr':>3} {'s/epoch':>8} {'floor':>6} {'x floor':>7} "
            f"{'target':>6} {'win/s':>8} {'s/eval':>7} {'floor':>6} {'peak MiB':>8} {'GFLOP/s':>7} {'cpu s/ep':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        target = TARGETS.get((r["dataset"], r["model"], r["preset"]), {}).get("epoch_s")
        achieved = r["flops_per_epoch"] / r["epoch_s"] / 1e9
        lines.append(
            f"{r['dataset']:16} {r['model'] + '/' + r['preset'] + ('+compile' if r.get('compiled') else ''):22} {r['threads']:>3} {r['epoch_s']:8.3f} "
            f"{r['floor_epoch_s']:6.3f} {r['epoch_s'] / r['floor_epoch_s']:7.1f} "
            f"{(f'{target:.1f}' if target else '-'):>6} {r['windows_per_s']:8.0f} {r['eval_s']:7.3f} "
            f"{r['floor_eval_s']:6.3f} {r['peak_mib']:8.0f} {achieved:7.1f} {r.get('cpu_epoch_s', float('nan')):8.3f}")
    return "\n".join(lines)


def check_targets(rows: list) -> list:
    """One line per target: met or not, from the rows at the largest thread count."""
    out, top = [], max(r["threads"] for r in rows)
    rows = [r for r in rows if r["threads"] == top]
    for (ds, model, preset), limits in TARGETS.items():
        for r in (r for r in rows if r["dataset"] == ds and r["model"] == model and r["preset"] == preset):
            for field, limit in limits.items():
                ok = r[field] <= limit
                mode = "+compile" if r.get("compiled") else ""
                out.append(f"{'MET ' if ok else 'MISS'} {ds} {model}/{r['preset']}{mode} {field} {r[field]:.3f} <= {limit}")
    for ds in {r["dataset"] for r in rows}:
        for compiled in (False, True):
            att = [r["epoch_s"] for r in rows if r["dataset"] == ds and r["model"] == "attrec"
                   and bool(r.get("compiled")) == compiled]
            cas = [r["epoch_s"] for r in rows if r["dataset"] == ds and r["model"] == "caser"
                   and bool(r.get("compiled")) == compiled]
            if att and cas:
                ratio = cas[0] / min(att)
                mode = " (compiled)" if compiled else ""
                out.append(f"{'MET ' if ratio <= 1.5 else 'MISS'} {ds} caser/attrec epoch ratio{mode} {ratio:.2f} <= 1.5")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 epochs (1 timed), 1 evaluation: a smoke test")
    ap.add_argument("--threads", type=int, nargs="+", default=None,
                    help="torch/OpenMP threads per run (default: the cores this process may use)")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--models", nargs="+", default=None, help="e.g. attrec/paper caser/paper")
    ap.add_argument("--compile", choices=["off", "on", "both"], default="both",
                    help="time eager training, torch.compile'd training (ATTREC_COMPILE=1), or both")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results-<host>-<device>.json)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(json.loads(args.child))

    import torch
    threads = args.threads or [len(os.sched_getaffinity(0))]
    epochs, eval_repeats = (2, 1) if args.quick else (4, 3)
    configs = CONFIGS if args.models is None else [tuple(m.split("/")) for m in args.models]
    if any(m == "caser" for m, _ in configs) and not caser_available():
        print("note: model 'caser' is not registered yet in attrec_lib.models; skipping it")
        configs = [c for c in configs if c[0] != "caser"]
    gpu = torch.cuda.is_available()
    load_before = os.getloadavg()
    print(f"host {socket.gethostname()}, {os.cpu_count()} CPUs, load {load_before}, "
          f"device {'cuda: ' + torch.cuda.get_device_name() if gpu else 'cpu'}, torch {torch.__version__}")
    rows, hw_by_threads = [], {}
    for n in threads:
        hw = hardware(n)
        hw_by_threads[n] = hw
        print(f"threads {n}: sustained matmul {hw['gflops']:.1f} GFLOP/s, copy {hw['copy_gbps']:.1f} GB/s")
        for ds in args.datasets:
            for model, preset in configs:
                for compiled in {"off": [False], "on": [True], "both": [False, True]}[args.compile]:
                    spec = {"dataset": ds, "model": model, "preset": preset, "threads": n,
                            "epochs": epochs, "eval_repeats": eval_repeats, "compile": compiled}
                    row = add_floors(run_child(spec), hw)
                    rows.append(row)
                    print(format_table([row]).splitlines()[-1], flush=True)
    load_after = os.getloadavg()
    print()
    print(format_table(rows))
    print("\nfloor = max(FLOPs per epoch / sustained GEMM rate, bytes per epoch / copy bandwidth); "
          "x floor = measured / floor")
    print("paper Table 5 (Titan X): " + "; ".join(
        f"{ds} " + ", ".join(f"{m} {v} s" for m, v in row.items()) for ds, row in PAPER_TABLE5.items()))
    for line in check_targets(rows):
        print(line)
    print(f"load average before {load_before}, after {load_after}")
    device = (torch.cuda.get_device_name().replace(" ", "_") if gpu else "cpu")
    out = args.out or os.path.join("bench", f"results-{socket.gethostname()}-{device}.json")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as fh:
        json.dump({"host": socket.gethostname(), "device": device, "cpus": os.cpu_count(),
                   "torch": torch.__version__, "quick": args.quick, "epochs": epochs,
                   "load_before": load_before, "load_after": load_after, "hardware": hw_by_threads,
                   "paper_table5": PAPER_TABLE5, "targets": {"/".join(k): v for k, v in TARGETS.items()},
                   "rows": rows, "finished_at": time.time()}, fh, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
