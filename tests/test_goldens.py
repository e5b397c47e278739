"""Golden regression: recompute the canonical short runs and compare every number exactly.

A failure here means a change altered some run's numbers. If that is intended: bump
``experiments.RESULTS_VERSION`` and run ``make goldens`` in the same commit (see
``attrec_lib/goldens.py``). ML-100K missing fails these tests (no silent skip in CI); set
``ATTREC_ALLOW_MISSING_DATA=1`` to skip them on a machine without the data.
"""
import os

import pytest

from attrec_lib import experiments, goldens
from attrec_lib.data import is_available

STORED = goldens.read_goldens()
SPECS = goldens.golden_specs()


def _need_data(dataset):
    if is_available(dataset):
        return
    message = (f"{dataset} is not available (set ATTREC_DATA_MIRROR or download it): the golden runs cannot be "
               "checked; set ATTREC_ALLOW_MISSING_DATA=1 to skip them knowingly")
    if os.environ.get("ATTREC_ALLOW_MISSING_DATA"):
        pytest.skip(message)
    pytest.fail(message)


def test_goldens_are_the_current_version_and_cover_every_golden_run():
    assert sorted(STORED) == sorted(SPECS), "run `make goldens`"
    ledger = goldens.read_ledger(goldens.goldens_dir())
    assert experiments.RESULTS_VERSION in ledger, (
        f"RESULTS_VERSION {experiments.RESULTS_VERSION} has no goldens: run `make goldens` in the same commit")
    assert ledger[experiments.RESULTS_VERSION] == goldens.digest(STORED), "goldens edited without `make goldens`"
    for name, record in STORED.items():
        assert record["results_version"] == experiments.RESULTS_VERSION, name
        assert record["spec"] == SPECS[name].canonical(), f"{name}: the golden spec changed; run `make goldens`"


def _first_difference(a, b, where=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{where}.{k}: only in one of them"
            d = _first_difference(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{where}: golden {a!r}, now {b!r}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_golden_run_recomputes_exactly(name):
    spec = SPECS[name]
    _need_data(spec.dataset)
    assert name in STORED, f"no golden for {name}: run `make goldens`"
    now = goldens.compute(name, spec)
    difference = _first_difference(STORED[name], now)
    assert difference is None, (
        f"golden run {name} changed ({difference}). If intended: bump experiments.RESULTS_VERSION and run "
        "`make goldens` in the same commit")
