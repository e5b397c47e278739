"""Golden regression runs: a few canonical short runs whose every per-epoch number is stored
under ``tests/goldens/`` and recomputed by the test suite, which compares them exactly.

The runs: each model on ML-100K (its ``paper`` preset, the MovieLens L = 5, T = 3 where the
model reads them), AttRec's ``released_code`` preset under the released protocol and tie rule,
and AttRec on the synthetic planted set. Each runs 2 epochs of at most :data:`MAX_BATCHES`
training batches (about a quarter of an ML-100K epoch), so the whole set recomputes in about
two minutes on one core; every batch, negative draw, evaluation and selection is exercised, so
any change of numbers shows.

A change of numbers fails the golden test until the goldens and
``runspec.RESULTS_VERSION`` change together: :func:`regenerate` (``make goldens``) writes the
goldens and records their digest under the current results version in ``VERSIONS.json``; it
refuses to record different numbers under a version that already has a digest (bump the
version first). Every number is compared exactly: runs use one thread on the CPU, so the same
code, library versions and data give the same bits.

    make goldens          # = python -m attrec_lib.report.goldens
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys

import torch

from ..runs import runspec
from ..runs.compute import execute
from .. import models
from ..settings import paths
from ..settings.atomic import replace_atomically

GOLDEN_EPOCHS = 2
MAX_BATCHES = 25  # of about 90 batches per ML-100K epoch: keeps the test near 2 minutes on one core
GOLDEN_DATASET = "ml-100k"
LEDGER = "VERSIONS.json"
PLATFORMS = "platforms"
# How far a number may move between kinds of CPU (measured: AttRec released_code moves its epoch-2
# loss by 0.16%, a metric by up to 3 users of 943). The loss sums thousands of float terms (relative
# rounding ~1e-6 per epoch, grown by training); a metric moves by whole users (1/943 on ML-100K).
TOLERANCE = {"loss_rtol": 5e-3, "metric_atol": 0.01}
# Instruction-set flags of /proc/cpuinfo that select MKL's and ATen's kernels.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def goldens_dir():
    return paths.REPO_ROOT / "tests" / "goldens"


def _train() -> dict:
    return {"epochs": GOLDEN_EPOCHS, "patience": 0, "max_batches": MAX_BATCHES}


def _movielens_settings(model: str) -> dict:
    fields = {f for f in models.config_class(model).__dataclass_fields__}
    return {k: v for k, v in {"seq_len": 5, "n_targets": 3}.items() if k in fields}


def golden_specs() -> dict:
    """name -> RunSpec of every golden run."""
    specs = {f"{GOLDEN_DATASET}-{m}-paper": runspec.make_spec(GOLDEN_DATASET, m, "paper", train=_train(),
                                                                    **_movielens_settings(m))
             for m in models.model_names()}
    specs[f"{GOLDEN_DATASET}-attrec-released_code"] = runspec.make_spec(
        GOLDEN_DATASET, "attrec", "released_code", train=_train(), **_movielens_settings("attrec"))
    specs["synthetic-planted-attrec-paper"] = runspec.make_spec(
        "synthetic-planted", "attrec", "paper", train={"epochs": GOLDEN_EPOCHS, "patience": 0},
        d=16, seq_len=3, n_targets=2)
    return specs


def _ranks_digest(ranks) -> str:
    return hashlib.sha256(json.dumps(list(ranks)).encode()).hexdigest()[:16]


def golden_record(name: str, spec, result: dict) -> dict:
    """What a golden file holds: the spec, the per-epoch history (loss and every metric), each
    selection's epoch and metrics, and a digest of each selection's per-user test ranks."""
    return {
        "name": name,
        "results_version": runspec.RESULTS_VERSION,
        "spec": spec.canonical(),
        "data_fingerprint": runspec.data_fingerprint(spec.dataset, spec.tie_rule),
        "history": result["history"],
        "selections": result["selections"],
        "test_ranks_sha256": {sel: _ranks_digest(pu["test_ranks"]) for sel, pu in result["per_user"].items()},
    }


def numeric_platform() -> dict:
    """What decides a run's float rounding besides the code and the data: the torch build, the
    kernels ATen dispatches to, the CPU vendor and its vector instruction sets."""
    vendor, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                field, _, value = line.partition(":")
                field = field.strip()
                if field == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif field == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        vendor = platform.processor()
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine(), "vendor": vendor, "isa": [f for f in ISA_FLAGS if f in flags]}


def platform_id(description: dict | None = None) -> str:
    text = json.dumps(description or numeric_platform(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(expected, actual, where: str = "") -> list[tuple[str, object, object]]:
    """Every (path, expected, actual) where two golden records differ, in order."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            if key not in expected or key not in actual:
                out.append((f"{where}.{key}", expected.get(key), actual.get(key)))
            else:
                out.extend(differences(expected[key], actual[key], f"{where}.{key}"))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [(where, f"length {len(expected)}", f"length {len(actual)}")]
        return [d for i, (x, y) in enumerate(zip(expected, actual)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if expected == actual else [(where, expected, actual)]


def beyond_tolerance(expected: dict, actual: dict) -> list[tuple[str, object, object]]:
    """The differences that float rounding on another kind of CPU cannot explain: a loss off by
    more than ``loss_rtol``, a metric by more than ``metric_atol``, anything else at all (the
    per-user rank digests excepted: a digest cannot be close, and the metrics cover the ranks)."""
    out = []
    for where, a, b in differences(expected, actual):
        leaf = where.rsplit(".", 1)[-1]
        if where.startswith(".test_ranks_sha256"):
            continue
        both_float = isinstance(a, float) and isinstance(b, float)
        if both_float and leaf == "loss" and math.isclose(a, b, rel_tol=TOLERANCE["loss_rtol"]):
            continue
        if both_float and leaf != "loss" and abs(a - b) <= TOLERANCE["metric_atol"]:
            continue
        out.append((where, a, b))
    return out


def platform_path(directory=None, pid: str | None = None):
    return (directory or goldens_dir()) / PLATFORMS / f"{pid or platform_id()}.json"


def read_platform_goldens(directory=None) -> dict:
    """platform id -> {"platform", "results_version", "reference_digest", "runs"} of every
    recorded exact copy."""
    folder = (directory or goldens_dir()) / PLATFORMS
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"platform golden file {path}: {err}") from err
    return out


def record_platform(directory=None, progress: bool = True) -> dict:
    """Record this machine's exact copy of the goldens, refused where any number is beyond
    :data:`TOLERANCE` of the reference set (that is a change of code, not of CPU)."""
    directory = directory or goldens_dir()
    version = runspec.RESULTS_VERSION
    reference = read_goldens(directory)
    ledger = read_ledger(directory)
    if ledger.get(version) != digest(reference):
        raise SystemExit(f"the reference goldens are not those of results version {version}: run `make goldens`")
    records = {}
    for name, spec in golden_specs().items():
        if progress:
            print(f"golden {name} ...", file=sys.stderr, flush=True)
        records[name] = compute(name, spec)
        far = beyond_tolerance(reference[name], records[name])
        if far:
            where, a, b = far[0]
            raise SystemExit(f"golden run {name} differs from the reference beyond float rounding ({where}: "
                             f"{a!r} vs {b!r}): that is a change of numbers, not of platform; nothing written")
    payload = {"platform": numeric_platform(), "results_version": version, "reference_digest": ledger[version],
               "runs": records}
    path = platform_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda fh: fh.write(_text(payload).encode()))
    return payload


def compute(name: str, spec) -> dict:
    return golden_record(name, spec, execute(spec, device="cpu", progress=False))


def _text(record: dict) -> str:
    return json.dumps(record, indent=1, sort_keys=True) + "\n"


def digest(records: dict) -> str:
    """One sha256 over every golden record (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(records):
        h.update(_text(records[name]).encode())
    return h.hexdigest()[:16]


def read_ledger(directory) -> dict:
    path = directory / LEDGER
    if not path.exists():
        return {}
    try:
        return {int(k): v for k, v in json.loads(path.read_text()).items()}
    except (ValueError, AttributeError) as err:
        raise ValueError(f"golden ledger {path}: unreadable ({err})") from err


def read_goldens(directory=None) -> dict:
    directory = directory or goldens_dir()
    out = {}
    for path in sorted(directory.glob("*.json")):
        if path.name == LEDGER:
            continue
        try:
            out[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"golden file {path}: {err}") from err
    return out


def regenerate(directory=None, progress: bool = True) -> dict:
    """Recompute every golden run; write the files only once all are computed, and record their
    digest under the current results version (refused if that version has other numbers)."""
    directory = directory or goldens_dir()
    version = runspec.RESULTS_VERSION
    records = {}
    for name, spec in golden_specs().items():
        if progress:
            print(f"golden {name} ...", file=sys.stderr, flush=True)
        records[name] = compute(name, spec)
    new_digest = digest(records)
    ledger = read_ledger(directory)
    if ledger.get(version, new_digest) != new_digest:
        raise SystemExit(
            f"the golden numbers changed but runspec.RESULTS_VERSION is still {version} (recorded digest "
            f"{ledger[version]}, now {new_digest}): bump RESULTS_VERSION in the same commit, then rerun "
            "`make goldens`")
    ledger[version] = new_digest
    directory.mkdir(parents=True, exist_ok=True)
    for name, record in records.items():
        replace_atomically(directory / f"{name}.json", lambda fh, r=record: fh.write(_text(r).encode()))
    stale = [p for p in directory.glob("*.json") if p.name != LEDGER and p.stem not in records]
    for path in stale:
        path.unlink()
    ledger_text = json.dumps({str(k): v for k, v in sorted(ledger.items())}, indent=1) + "\n"
    replace_atomically(directory / LEDGER, lambda fh: fh.write(ledger_text.encode()))
    for pid, copy in read_platform_goldens(directory).items():  # copies of older numbers are void
        if copy.get("reference_digest") != new_digest:
            platform_path(directory, pid).unlink()
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.report.goldens", description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", action="store_true",
                        help="record this machine's exact copy of the current goldens (tests/goldens/platforms/)")
    args = parser.parse_args(argv)
    if args.platform:
        payload = record_platform()
        print(f"wrote {len(payload['runs'])} golden runs of platform {platform_id()} "
              f"({payload['platform']}) for results version {runspec.RESULTS_VERSION}")
        return 0
    records = regenerate()
    print(f"wrote {len(records)} golden runs for results version {runspec.RESULTS_VERSION} "
          f"(digest {digest(records)}) to tests/goldens/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
