"""Running a grid of specs on an engine (:func:`run_grid`), and what a grid will cost before
anything runs (:func:`plan`)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from ..runs.compute import result_row
from ..runs.store import load_result
from . import eta, ray_engine
from .local import run_in_process


def run_grid(specs, device=None, progress: bool = True, log: logging.Logger | None = None, workers=None,
             address=None) -> pd.DataFrame:
    """Run every spec not yet cached, return one row per spec.

    ``workers=0`` runs them here one after another (:func:`run_in_process`); ``workers=N`` on a
    local Ray instance with N single-threaded tasks at a time; ``address`` on an existing Ray
    cluster. Unset, they come from ``ATTREC_WORKERS`` and ``RAY_ADDRESS``, else in-process (see
    :func:`attrec_lib.engines.ray_engine.resolve`). With ``progress``, one summary line is printed on stdout, which is what a
    notebook shows: "N runs: M from the cache, K computed"; without it, nothing is written.
    """
    specs = list(specs)
    workers, address = ray_engine.resolve(workers, address)
    if workers == 0:
        results, computed = run_in_process(specs, device=device, progress=progress, log=log)
    else:
        before = sum(load_result(s) is None for s in {s.key: s for s in specs}.values())
        results = ray_engine.run_specs(specs, workers=workers, address=address, device=device, progress=progress)
        computed = before
    if progress:
        print(f"{len(specs)} runs: {len(specs) - computed} from the cache, {computed} computed; "
              f"{device_summary(results[s.key] for s in specs)}", flush=True)
    return pd.DataFrame([result_row(results[spec.key]) for spec in specs])


def devices_of(specs) -> str:
    """For a notebook that reads runs without :func:`run_grid`: how many distinct runs ``specs``
    are and where the cached ones were computed (:func:`device_summary`), and how many are not cached."""
    unique = list({s.key: s for s in specs}.values())
    found = [r for r in (load_result(s) for s in unique) if r is not None]
    missing = len(unique) - len(found)
    return (f"{len(unique)} run{'' if len(unique) == 1 else 's'} read: {device_summary(found)}"
            + (f"; {missing} not in the cache" if missing else ""))


def device_summary(results) -> str:
    """Where the numbers of these runs were computed, from what each result records: "all on the
    CPU, one thread each", or the count on each device (a GPU by its name) when they differ."""
    counts: dict[str, int] = {}
    for result in results:
        device = str(result.get("device", "unknown"))
        kind, _, detail = device.partition(": ")
        if kind == "cpu":
            threads = result.get("threads")
            label = "the CPU, one thread" if threads == 1 else f"the CPU, {threads} threads"
        elif kind == "cuda":
            label = f"a GPU ({detail})" if detail else "a GPU"
        else:
            label = device
        counts[label] = counts.get(label, 0) + 1
    if not counts:
        return "no runs"
    if len(counts) == 1:
        label = next(iter(counts))
        return f"all computed on {label}{' each' if label.endswith('one thread') else ''}"
    return "computed on " + ", ".join(f"{label} ({n})" for label, n in sorted(counts.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class Plan:
    """What running a list of specs will cost, before anything runs (see :func:`plan`)."""
    total: int  # distinct runs needed
    cached: int  # of which already in the run cache
    to_compute: int  # of which still to train
    estimated_seconds: float  # compute time of the runs to train that have a timing on record
    estimated_runs: int  # runs to train with an estimate (same model and data set cached before)
    missing: tuple = ()  # the specs to train, in order
    scaled_runs: int = 0  # of the estimated ones, those scaled from the model's runs on other data sets

    @property
    def basis(self) -> str:
        text = (f"basis: median recorded s/epoch of cached runs of the same model and data set x their median "
                f"epochs run (at most the run's epoch cap) x their wall/training time, for "
                f"{self.estimated_runs - self.scaled_runs} of {self.to_compute} runs")
        if self.scaled_runs:
            text += (f"; for {self.scaled_runs} more, the model's s/epoch per training item on other data sets "
                     "x this set's training items")
        unknown = self.to_compute - self.estimated_runs
        if unknown:
            text += f"; {unknown} run(s) of models with no timing on record are left out"
        return text

    def describe(self) -> str:
        lines = [f"plan: {self.total} runs needed, {self.cached} cached, {self.to_compute} to compute"]
        if self.to_compute and self.estimated_runs:
            hours, rest = divmod(int(round(self.estimated_seconds)), 3600)
            clock = f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
            lines.append(f"estimated compute time: {clock} at the recorded speed ({self.basis})")
        elif self.to_compute:
            lines.append("estimated compute time: unknown (no cached run of these models has a recorded speed)")
        return "\n".join(lines)


def plan(specs) -> Plan:
    """Count the distinct runs ``specs`` need, how many are cached, and estimate the compute time of
    the rest (:func:`eta.estimate_seconds`: the recorded speed of cached runs of the same
    model on the same data set, else on other data sets scaled by training items)."""
    unique = list({spec.key: spec for spec in specs}.values())
    missing = [s for s in unique if load_result(s) is None]
    estimates = eta.estimate_seconds(missing, with_basis=True) if missing else []
    seconds = sum(e for e, _ in estimates if e is not None)
    estimated = sum(1 for e, _ in estimates if e is not None)
    scaled = sum(1 for _, how in estimates if how == "scaled")
    return Plan(len(unique), len(unique) - len(missing), len(missing), seconds, estimated, tuple(missing), scaled)
