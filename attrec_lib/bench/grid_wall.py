"""Wall time and peak memory of a profile's whole grid, from an empty cache, run serially and on Ray.

``python -m attrec_lib.bench.grid_wall --profile quick --workers 0 2`` runs the profile's grid once
per worker count (0: one run after another in one process; N: a local Ray instance with N
single-threaded workers), each into its own empty results folder, and prints, for each:

- the wall time (data preparation is cached beforehand, so both see the same warm data cache);
- the peak memory of the whole process tree (the grid's process, the Ray head processes and the
  workers), as the peak of the summed proportional set size (PSS: shared pages counted once),
  sampled every ``--sample`` seconds, with the peak summed RSS beside it;
- whether every result of the Ray run is identical to the serial one (history, selections and
  per-user ranks), which the one-thread-per-run rule promises.

It writes ``bench/grid-wall-<profile>.json``. Run it on a quiet machine: the runs share the cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from ..settings import paths
from ..study import all_runs, profiles

_COMPARED = ("history", "selections", "per_user", "epochs_run")


def _tree_memory(root: psutil.Process) -> tuple[float, float, int]:
    """(summed PSS, summed RSS, process count) of ``root`` and every descendant, in MiB."""
    pss = rss = 0.0
    count = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0, 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        pss += getattr(info, "pss", info.rss)
        rss += info.rss
        count += 1
    return pss / 2**20, rss / 2**20, count


def run_once(profile: str, workers: int, results_dir: Path, sample: float) -> dict:
    """The profile's grid into ``results_dir`` in a child process; its wall time and peak memory."""
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(results_dir),
           "ATTREC_RUN_LOG": str(results_dir / "run-log.jsonl")}
    cmd = [sys.executable, "-m", "attrec_lib", "grid", "--profile", profile, "--workers", str(workers)]
    peak = {"pss_mib": 0.0, "rss_mib": 0.0, "processes": 0}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def watch():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            pss, rss, count = _tree_memory(root)
            peak["pss_mib"] = max(peak["pss_mib"], pss)
            peak["rss_mib"] = max(peak["rss_mib"], rss)
            peak["processes"] = max(peak["processes"], count)
            done.wait(sample)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"grid with --workers {workers} failed (exit {proc.returncode}):\n{out[-4000:]}")
    n = sum(1 for p in results_dir.glob("*.json"))
    return {"workers": workers, "wall_seconds": wall, "result_files": n, **peak, "tail": out.strip()[-600:]}


def _load(folder: Path) -> dict:
    out = {}
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text())
        out[path.name] = {k: data.get(k) for k in _COMPARED}
    return out


def compare(a: Path, b: Path) -> dict:
    ra, rb = _load(a), _load(b)
    differing = sorted(name for name in ra.keys() & rb.keys() if ra[name] != rb[name])
    return {"files_a": len(ra), "files_b": len(rb), "missing": sorted(ra.keys() ^ rb.keys()),
            "differing": differing, "identical": not differing and ra.keys() == rb.keys()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.bench.grid_wall", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick", choices=profiles.PROFILES)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="worker counts to time, in order (0: serial, in one process)")
    parser.add_argument("--sample", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--out", default=None, help="JSON to write (default bench/grid-wall-<profile>.json)")
    args = parser.parse_args(argv)
    specs = all_runs.all_specs(profiles.profile(args.profile))
    print(f"profile {args.profile}: {len(specs)} runs from an empty cache, worker counts {args.workers}; "
          f"estimate: `python -m attrec_lib plan --profile {args.profile}`", flush=True)
    report = {"profile": args.profile, "runs": len(specs), "machine": platform.node(),
              "cpus": os.cpu_count(), "load_before": os.getloadavg(), "timings": []}
    with tempfile.TemporaryDirectory(prefix="grid-wall-") as tmp:
        folders = []
        for i, workers in enumerate(args.workers):
            folder = Path(tmp) / f"{i}-workers-{workers}"
            folder.mkdir()
            print(f"workers={workers}: running ...", flush=True)
            timing = run_once(args.profile, workers, folder, args.sample)
            timing["load_after"] = os.getloadavg()
            report["timings"].append(timing)
            folders.append(folder)
            print(f"workers={workers}: {timing['wall_seconds']:.1f} s wall, {timing['result_files']} result files, "
                  f"peak memory {timing['pss_mib']:.0f} MiB PSS ({timing['rss_mib']:.0f} MiB RSS) over "
                  f"{timing['processes']} processes", flush=True)
        base = report["timings"][0]["wall_seconds"]
        for timing in report["timings"]:
            timing["speedup_vs_first"] = base / timing["wall_seconds"]
        report["identical"] = [compare(folders[0], f) for f in folders[1:]]
    for timing in report["timings"]:
        print(f"  workers={timing['workers']}: {timing['wall_seconds'] / 60:.2f} min, speed-up "
              f"{timing['speedup_vs_first']:.2f}x, peak {timing['pss_mib']:.0f} MiB PSS")
    for cmp in report["identical"]:
        print(f"  results identical to the first: {cmp['identical']} ({cmp['files_b']} files, "
              f"{len(cmp['differing'])} differing, {len(cmp['missing'])} missing)")
    out = Path(args.out) if args.out else paths.REPO_ROOT / "bench" / f"grid-wall-{args.profile}.json"
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
