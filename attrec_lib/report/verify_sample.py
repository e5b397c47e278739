"""Recompute a random sample of committed runs in fresh processes and compare them with the cache.

``make verify-sample`` (``python -m attrec_lib.report.verify_sample``): per model, one committed run
drawn at random (seeded: ``--seed``), by default among its ML-100K runs, recomputed from its
recorded spec in a new Python process (one thread, nothing shared with this one) into a temporary
results folder; then every field that a run's numbers consist of (:data:`COMPARED`: the per-epoch
history, both selections' metrics, the per-user ranks, the epoch count, early stopping, the data
fingerprint, the key) is compared with the committed file. Timings, the device string and the code
version are recorded facts about the run, not its numbers, and are not compared.

Exit code 0 when every sampled run is bit-identical, 1 when any is not (each difference is named:
field, and the largest absolute difference of its numbers). ``--tolerance``: also accept runs that
differ only within the float rounding that :mod:`attrec_lib.report.goldens` allows between CPU
platforms (this CPU's platform id is printed: results computed on another CPU may round differently).
Nothing tracked is written.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import goldens
from ..runs import compute, store
from ..runs.runspec import RunSpec
from ..settings import paths

# The fields of a result that are its numbers (what a recompute must reproduce bit for bit).
COMPARED = ("spec_key", "data_fingerprint", "results_version", "epochs_run", "stopped_early", "history",
            "selections", "per_user")
DEFAULT_DATASETS = ("ml-100k",)


def committed_runs(results_dir: Path | None = None) -> list[dict]:
    """``{path, key, dataset, model, epochs_run}`` of every readable result file of the current version."""
    out = []
    for path in sorted(Path(results_dir or paths.results_dir()).glob("*.json")):
        try:
            result = store.read_result_file(path, path.stem)
        except (store.ResultFileError, ValueError):
            continue
        spec = result["spec"]
        out.append({"path": path, "key": result["spec_key"], "dataset": spec["dataset"], "model": spec["model"],
                    "epochs_run": result["epochs_run"]})
    return out


def sample(runs: list[dict], seed: int = 0, datasets=DEFAULT_DATASETS, models=None) -> list[dict]:
    """One run per model (models in name order), drawn with ``seed`` among its runs on ``datasets``
    (every data set when None); ``models`` narrows the models."""
    rng = np.random.default_rng(seed)
    by_model: dict = {}
    for run in runs:
        if datasets is not None and run["dataset"] not in datasets:
            continue
        if models is not None and run["model"] not in models:
            continue
        by_model.setdefault(run["model"], []).append(run)
    picked = []
    for model in sorted(by_model):
        candidates = sorted(by_model[model], key=lambda r: r["key"])
        picked.append(candidates[int(rng.integers(len(candidates)))])
    return picked


def _numbers(value) -> list:
    """Every number inside ``value`` (nested dicts and lists), in a fixed order."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    return []


def differences(committed: dict, recomputed: dict) -> list[dict]:
    """Per field of :data:`COMPARED` that is not identical: ``{field, max_abs_diff}`` (NaN where the
    two differ in structure or in a non-number)."""
    out = []
    for name in COMPARED:
        a, b = committed.get(name), recomputed.get(name)
        if json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True):
            continue
        na, nb = _numbers(a), _numbers(b)
        same_shape = len(na) == len(nb) and json.dumps(_skeleton(a)) == json.dumps(_skeleton(b))
        diff = float(np.max(np.abs(np.subtract(na, nb)))) if same_shape and na else float("nan")
        out.append({"field": name, "max_abs_diff": diff})
    return out


def _skeleton(value):
    """``value`` with every number replaced by 0: what two results must share to compare numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return 0
    if isinstance(value, dict):
        return {k: _skeleton(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_skeleton(v) for v in value]
    return str(type(value))


def headline(committed: dict, recomputed: dict) -> str:
    """The run's headline numbers, committed -> recomputed: the selected epoch and its test HR@50."""
    sel = compute.headline_selection(committed)
    a, b = committed["selections"].get(sel, {}), recomputed["selections"].get(sel, {})
    return (f"{sel}: epoch {a.get('epoch')} -> {b.get('epoch')}, test HR@50 "
            f"{a.get('test_hr@50', float('nan')):.4f} -> {b.get('test_hr@50', float('nan')):.4f}")


def within_tolerance(diffs: list[dict]) -> bool:
    """True when every difference is a number within the goldens' cross-platform metric tolerance
    (losses in the history may differ more in absolute terms: they are sums over a whole epoch)."""
    limit = goldens.TOLERANCE["metric_atol"]
    return all(np.isfinite(d["max_abs_diff"]) and (d["field"] == "history" or d["max_abs_diff"] <= limit)
               for d in diffs)


def recompute_in_child(path: Path, timeout: float | None = None) -> dict:
    """The run recorded in ``path``, recomputed by ``python -m attrec_lib.report.verify_sample --child``
    in a fresh process with its own temporary results folder; its result (per-user arrays unpacked)."""
    with tempfile.TemporaryDirectory(prefix="verify-sample-") as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, ATTREC_RESULTS_DIR=str(Path(tmp) / "results"), OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        proc = subprocess.run([sys.executable, "-m", "attrec_lib.report.verify_sample", "--child", str(path),
                               str(out)], env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"recomputing {path.name} failed (exit {proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        return json.loads(out.read_text())


def _child(path: str, out: str) -> int:
    result = store.read_result_file(Path(path), Path(path).stem)
    spec = RunSpec.from_dict(result["spec"])
    if spec.key != result["spec_key"]:
        raise SystemExit(f"{path}: its recorded spec hashes to {spec.key}, not {result['spec_key']}")
    fresh = compute.execute(spec, device="cpu", progress=False)
    Path(out).write_text(json.dumps(fresh))
    return 0


def verify(picked: list[dict], tolerance: bool = False, log=print) -> int:
    """Recompute each of ``picked`` and compare; print one line per run and a summary; the exit code."""
    log(f"verify-sample: {len(picked)} runs; this CPU's platform id {goldens.platform_id()}")
    failed = 0
    for run in picked:
        committed = store.read_result_file(run["path"], run["key"])
        t0 = time.time()
        fresh = recompute_in_child(run["path"])
        diffs = differences(committed, fresh)
        if not diffs:
            verdict = "bit-identical"
        elif tolerance and within_tolerance(diffs):
            verdict = "within float rounding: " + ", ".join(f"{d['field']} (max |Δ| {d['max_abs_diff']:.3g})"
                                                            for d in diffs)
        else:
            verdict = "DIFFERS: " + ", ".join(f"{d['field']} (max |Δ| {d['max_abs_diff']:.3g})" for d in diffs)
            failed += 1
        log(f"  {run['model']:<10} {run['dataset']:<10} {run['key']}  {run['epochs_run']:>3} epochs  "
            f"{time.time() - t0:6.1f} s  {verdict}" + ("" if not diffs else f"; {headline(committed, fresh)}"))
    log(f"verify-sample: {len(picked) - failed} of {len(picked)} reproduced"
        + ("" if not failed else f"; {failed} differ"))
    return 1 if failed else 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(*argv[1:3])
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.report.verify_sample", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="which runs are drawn (default 0)")
    parser.add_argument("--datasets", nargs="*", default=list(DEFAULT_DATASETS),
                        help="draw among runs on these data sets (default ml-100k; none given: every data set)")
    parser.add_argument("--models", nargs="*", default=None, help="only these models")
    parser.add_argument("--tolerance", action="store_true",
                        help="accept differences within the goldens' cross-platform float rounding")
    args = parser.parse_args(argv)
    picked = sample(committed_runs(), args.seed, tuple(args.datasets) or None, args.models)
    if not picked:
        print("verify-sample: no committed run matches (data sets "
              f"{args.datasets or 'any'}, models {args.models or 'any'})", file=sys.stderr)
        return 2
    return verify(picked, tolerance=args.tolerance)


if __name__ == "__main__":
    raise SystemExit(main())
