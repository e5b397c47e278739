"""How long runs will take: the estimate from the epoch times recorded in cached runs
(:func:`estimate_seconds`), and the grid's progress bar with its ETA (:class:`GridProgress`)."""
from __future__ import annotations

import functools
import json
import statistics
import sys

from tqdm.auto import tqdm

from ..runs import runspec
from ..settings import paths


def _recorded_runs() -> list[dict]:
    """(dataset, model, seconds per epoch, epochs run, evaluation seconds) of every cached run."""
    out = []
    for path in sorted(paths.results_dir().glob("*.json")):
        try:
            r = json.loads(path.read_text())
            per_epoch, epochs = float(r["seconds_per_epoch"]), int(r["epochs_run"])
            wall = r.get("wall_seconds")  # absent: no evaluation overhead known
            out.append({"dataset": r["spec"]["dataset"], "model": r["spec"]["model"], "per_epoch": per_epoch,
                        "epochs": epochs, "total": per_epoch * epochs if wall is None else float(wall),
                        "cap": (r["spec"].get("train_config") or {}).get("epochs")})
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable file only costs the estimate one sample
    return out


@functools.lru_cache(maxsize=None)
def _train_interactions(dataset: str) -> int | None:
    """Training items of ``dataset`` under the validation protocol (the size an epoch scales
    with); None when the data set cannot be loaded here."""
    try:
        return int(sum(len(seq) for seq in runspec.load_split(dataset, "stable", True).train))
    except Exception:  # no data here: no size, so no scaled estimate
        return None


def estimate_seconds(specs, recorded=None, with_basis: bool = False) -> list:
    """Expected wall seconds of each spec: the median recorded seconds per epoch of cached runs of
    the same model and data set, times the median number of epochs they ran (capped by the spec's
    epoch limit; runs under the spec's own epoch cap where there are any, else the model's runs
    under that cap on other data sets, since a longer cap lets a run go on), scaled by their
    median ratio of wall time to training time (evaluation overhead). Where the model has runs on other data sets only, their per-epoch time per training
    item times this data set's training items (and their median epochs and overhead). None where
    the model has no cached run at all. ``with_basis``: (seconds, "same" | "scaled" | None) pairs."""
    recorded = _recorded_runs() if recorded is None else recorded
    by_pair: dict = {}
    by_model: dict = {}
    for r in recorded:
        by_pair.setdefault((r["dataset"], r["model"]), []).append(r)
        by_model.setdefault(r["model"], []).append(r)
    out = []
    for spec in specs:
        runs, basis = by_pair.get((spec.dataset, spec.model)), "same"
        per_epoch = statistics.median(r["per_epoch"] for r in runs) if runs else None
        if not runs and by_model.get(spec.model) and _train_interactions(spec.dataset):
            runs = [r for r in by_model[spec.model] if _train_interactions(r["dataset"])]
            if runs:
                basis = "scaled"
                per_item = statistics.median(r["per_epoch"] / _train_interactions(r["dataset"]) for r in runs)
                per_epoch = per_item * _train_interactions(spec.dataset)
        if not runs:
            out.append((None, None) if with_basis else None)
            continue
        cap = spec.train_config.get("epochs")
        epochs = min(statistics.median(r["epochs"] for r in _same_cap(runs, by_model[spec.model], cap)), cap or 10**9)
        overhead = statistics.median(r["total"] / max(r["per_epoch"] * r["epochs"], 1e-12) for r in runs)
        seconds = per_epoch * epochs * overhead
        out.append((seconds, basis) if with_basis else seconds)
    return out


def _same_cap(runs: list, model_runs: list, cap) -> list:
    """The runs whose epoch count says how long a run under epoch cap ``cap`` goes: ``runs`` (the
    same data set) under that cap, else the model's runs under that cap anywhere, else ``runs``."""
    for pool in (runs, model_runs):
        same = [r for r in pool if r.get("cap") == cap]
        if same:
            return same
    return runs


class GridProgress:
    """One bar over the runs of a grid, with an ETA in the postfix.

    The ETA is the estimated seconds still to run divided by the number of parallel workers,
    times the ratio of measured to estimated seconds of the runs finished so far (1 before any).
    A run with no recorded estimate counts as the median estimate; with no estimate at all, as the
    mean measured time of the runs finished so far (no ETA before the first finishes).
    """

    def __init__(self, specs, workers: int, enabled: bool = True):
        estimates = estimate_seconds(specs)
        known = [e for e in estimates if e is not None]
        fill = statistics.median(known) if known else None
        self.estimate = {s.key: (e if e is not None else fill) for s, e in zip(specs, estimates)}
        self.workers = max(int(workers), 1)
        self.left = len(specs)
        self.remaining = sum(self.estimate.values()) if fill is not None else None
        self.measured = self.expected = 0.0
        self.finished: list[float] = []
        self.failed = 0
        self.bar = tqdm(total=len(specs), unit="run", desc="grid", file=sys.stderr, disable=not enabled,
                        dynamic_ncols=True, bar_format="{desc}: {bar} {n}/{total} runs [{elapsed}{postfix}]")
        self._show()

    def eta_seconds(self) -> float | None:
        if self.remaining is not None:
            ratio = self.measured / self.expected if self.expected > 0 else 1.0
            return self.remaining * ratio / self.workers
        if self.finished:
            return statistics.fmean(self.finished) * self.left / self.workers
        return None

    def _show(self):
        eta = self.eta_seconds()
        text = "ETA unknown until a run finishes (none of these is cached)" if eta is None else f"ETA {_clock(eta)}"
        fails = f", {self.failed} failed" if self.failed else ""
        self.bar.set_postfix_str(f"{text}{fails}", refresh=True)

    def done(self, spec, seconds: float | None, failed: bool = False):
        est = self.estimate.get(spec.key)
        self.left -= 1
        if seconds is not None:
            self.finished.append(seconds)
        if est is not None and self.remaining is not None:
            self.remaining = max(self.remaining - est, 0.0)
            if seconds is not None:
                self.measured += seconds
                self.expected += est
        self.failed += int(failed)
        self.bar.update(1)
        self._show()

    def write(self, text: str):
        self.bar.write(text, file=sys.stderr)

    def close(self):
        self.bar.close()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"
