"""Golden regression runs: a few canonical short runs whose every per-epoch number is stored
under ``tests/goldens/`` and recomputed by the test suite, which compares them exactly.

The runs: each model on ML-100K (its ``paper`` preset, the MovieLens L = 5, T = 3 where the
model reads them), AttRec's ``released_code`` preset under the released protocol and tie rule,
and AttRec on the synthetic planted set. Each runs 2 epochs of at most :data:`MAX_BATCHES`
training batches (about a quarter of an ML-100K epoch), so the whole set recomputes in about
two minutes on one core; every batch, negative draw, evaluation and selection is exercised, so
any change of numbers shows.

A change of numbers fails the golden test until the goldens and
``experiments.RESULTS_VERSION`` change together: :func:`regenerate` (``make goldens``) writes the
goldens and records their digest under the current results version in ``VERSIONS.json``; it
refuses to record different numbers under a version that already has a digest (bump the
version first). Every number is compared exactly: runs use one thread on the CPU, so the same
code, library versions and data give the same bits.

    make goldens          # = python -m attrec_lib.goldens
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys

from . import experiments, models, paths
from .atomic import replace_atomically

GOLDEN_EPOCHS = 2
MAX_BATCHES = 25  # of about 90 batches per ML-100K epoch: keeps the test near 2 minutes on one core
GOLDEN_DATASET = "ml-100k"
LEDGER = "VERSIONS.json"


def goldens_dir():
    return paths.REPO_ROOT / "tests" / "goldens"


def _train() -> dict:
    return {"epochs": GOLDEN_EPOCHS, "patience": 0, "max_batches": MAX_BATCHES}


def _movielens_settings(model: str) -> dict:
    fields = {f for f in models.config_class(model).__dataclass_fields__}
    return {k: v for k, v in {"seq_len": 5, "n_targets": 3}.items() if k in fields}


def golden_specs() -> dict:
    """name -> RunSpec of every golden run."""
    specs = {f"{GOLDEN_DATASET}-{m}-paper": experiments.make_spec(GOLDEN_DATASET, m, "paper", train=_train(),
                                                                    **_movielens_settings(m))
             for m in models.model_names()}
    specs[f"{GOLDEN_DATASET}-attrec-released_code"] = experiments.make_spec(
        GOLDEN_DATASET, "attrec", "released_code", train=_train(), **_movielens_settings("attrec"))
    specs["synthetic-planted-attrec-paper"] = experiments.make_spec(
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
        "results_version": experiments.RESULTS_VERSION,
        "spec": spec.canonical(),
        "data_fingerprint": experiments.data_fingerprint(spec.dataset, spec.tie_rule),
        "history": result["history"],
        "selections": result["selections"],
        "test_ranks_sha256": {sel: _ranks_digest(pu["test_ranks"]) for sel, pu in result["per_user"].items()},
    }


def compute(name: str, spec) -> dict:
    return golden_record(name, spec, experiments.execute(spec, device="cpu", progress=False))


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
    version = experiments.RESULTS_VERSION
    records = {}
    for name, spec in golden_specs().items():
        if progress:
            print(f"golden {name} ...", file=sys.stderr, flush=True)
        records[name] = compute(name, spec)
    new_digest = digest(records)
    ledger = read_ledger(directory)
    if ledger.get(version, new_digest) != new_digest:
        raise SystemExit(
            f"the golden numbers changed but experiments.RESULTS_VERSION is still {version} (recorded digest "
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
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.goldens", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    records = regenerate()
    print(f"wrote {len(records)} golden runs for results version {experiments.RESULTS_VERSION} "
          f"(digest {digest(records)}) to tests/goldens/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
