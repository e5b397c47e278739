"""Runs and the run cache: one spec -> one JSON file under ``results/``.

A run is fully described by a :class:`RunSpec` (data set, model, resolved model config,
resolved training config, protocol, tie rule, seed). Its result is written atomically (a
temporary file, then a rename) to ``results/<spec hash>.json``; :func:`run` returns the cached
result when the file exists, so a killed sweep loses only the run in progress and never reads a
partial file. :func:`run_grid` runs what is missing and returns one DataFrame row per run.

``make paper FRESH=1`` sets ``ATTREC_FRESH_SINCE`` (a unix time): cached results finished
before it are recomputed (runs shared by several notebooks are computed once per build).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from . import __version__, models, paths
from .data.sequences import split_leave_last_out
from .train import PROTOCOLS, TrainConfig, default_device, fit

RESULT_FORMAT = 1
TIE_RULES = ("stable", "released")


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    model: str
    model_config: dict = field(default_factory=dict)  # every field of the model's config, resolved
    train_config: dict = field(default_factory=dict)  # every field of TrainConfig, resolved
    protocol: str = "valid"  # "valid" (validation-selected) or "released" (no validation, test-selected)
    tie_rule: str = "stable"  # which of a user's tied latest items is the test item (see data)
    seed: int = 0

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "model": self.model, "model_config": dict(self.model_config),
                "train_config": dict(self.train_config), "protocol": self.protocol,
                "tie_rule": self.tie_rule, "seed": self.seed}

    @property
    def key(self) -> str:
        """sha256 of the canonical JSON of the spec (first 16 hex digits)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(**d)


def make_spec(dataset: str, model: str = "attrec", preset: str | None = "paper", seed: int = 0,
              protocol: str | None = None, tie_rule: str | None = None, train: dict | None = None,
              **model_overrides) -> RunSpec:
    """Build a fully resolved spec. ``preset="released_code"`` also defaults the protocol and the
    tie rule to the released code's (no validation item, the authors' tie rule)."""
    if preset is not None and preset not in models.presets(model):
        preset_known = sorted(models.presets(model))
        raise ValueError(f"unknown preset {preset!r} for model {model!r}; known presets: {preset_known}")
    released = preset == "released_code"
    protocol = protocol or ("released" if released else "valid")
    tie_rule = tie_rule or ("released" if released else "stable")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    if tie_rule not in TIE_RULES:
        raise ValueError(f"tie_rule must be one of {list(TIE_RULES)}, got {tie_rule!r}")
    mcfg = models.make_config(model, preset, **model_overrides)
    tfields = {**models.training_overrides(model, preset), **(train or {})}
    unknown = set(tfields) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown training field(s) {sorted(unknown)}")
    tcfg = TrainConfig(**tfields).validate()
    return RunSpec(dataset, model, dataclasses.asdict(mcfg), dataclasses.asdict(tcfg), protocol, tie_rule, int(seed))


@functools.lru_cache(maxsize=8)
def load_split(dataset: str, tie_rule: str, hold_out_valid: bool):
    from .data import load_dataset
    return split_leave_last_out(load_dataset(dataset, tie_rule=tie_rule), hold_out_valid=hold_out_valid)


def result_path(spec: RunSpec):
    return paths.results_dir() / f"{spec.key}.json"


def load_result(spec: RunSpec) -> dict | None:
    """The cached result of ``spec``, or None (also when it is older than a FRESH build)."""
    path = result_path(spec)
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"corrupt result file {path}: {err}; delete it to recompute") from err
    fresh_since = os.environ.get("ATTREC_FRESH_SINCE")
    if fresh_since and result.get("finished_at", 0) < float(fresh_since):
        return None
    return result


def _replace_atomically(path, write) -> None:
    """Call ``write(file_object)`` on a temporary file next to ``path``, then rename it over
    ``path``: a reader sees the old file or the whole new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_atomic(path, payload: dict) -> None:
    text = json.dumps(payload, indent=1, sort_keys=True).encode()
    _replace_atomically(path, lambda fh: fh.write(text))


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """Git commit of the repository (if any) and a hash of the library's source files."""
    digest = hashlib.sha256()
    for path in sorted(paths.REPO_ROOT.joinpath("attrec_lib").rglob("*.py")):
        digest.update(path.relative_to(paths.REPO_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"library": __version__, "source_sha256": digest.hexdigest()[:16], "git_commit": commit}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def execute(spec: RunSpec, device=None, progress: bool = True, split=None) -> dict:
    """Train and evaluate one run (no cache involved) and return its result record."""
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(spec.seed)
    if split is None:
        split = load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid")
    mcfg = models.make_config(spec.model, None, **spec.model_config)
    model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    tcfg = TrainConfig(**spec.train_config)
    t0 = time.time()
    fitted = fit(model, split, tcfg, spec.seed, spec.protocol, device=device, progress=progress,
                 description=f"{spec.dataset}/{spec.model}/s{spec.seed}")
    selections, per_user = {}, {}
    for name, best in fitted.best.items():
        best = dict(best)
        best.pop("_key")
        per_user[name] = {"test_users": best.pop("test_users"), "test_ranks": best.pop("test_ranks")}
        selections[name] = best
    return {
        "format": RESULT_FORMAT,
        "spec": spec.to_dict(),
        "spec_key": spec.key,
        "selections": selections,
        "per_user": per_user,
        "history": fitted.history,
        "epochs_run": len(fitted.seconds_per_epoch),
        "stopped_early": fitted.stopped_early,
        "seconds_per_epoch": statistics.median(fitted.seconds_per_epoch),
        "seconds_per_eval": statistics.median(fitted.seconds_per_eval) if fitted.seconds_per_eval else None,
        "epoch_seconds": fitted.seconds_per_epoch,
        "wall_seconds": time.time() - t0,
        "device": _device_name(device),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__,
                     "pandas": pd.__version__},
        "code_version": code_version(),
        "finished_at": time.time(),
    }


def run(spec: RunSpec, device=None, progress: bool = True) -> dict:
    """The result of ``spec``: from the cache when present, else computed and cached."""
    cached = load_result(spec)
    if cached is not None:
        return cached
    result = execute(spec, device=device, progress=progress)
    _write_atomic(result_path(spec), result)
    return result


def headline_selection(result: dict) -> str:
    """The selection a table reports by default: validation-selected when there is one."""
    return "valid_selected" if "valid_selected" in result["selections"] else "test_selected"


def result_row(result: dict) -> dict:
    """One flat row: spec fields, config fields (``cfg.*``), metrics of both selections."""
    spec = result["spec"]
    row = {"dataset": spec["dataset"], "model": spec["model"], "seed": spec["seed"],
           "protocol": spec["protocol"], "tie_rule": spec["tie_rule"], "key": result["spec_key"]}
    row.update({f"cfg.{k}": v for k, v in spec["model_config"].items()})
    head = headline_selection(result)
    row["selection"] = head
    for sel_name, prefix in ((head, ""), ("test_selected", "test_sel_")):
        sel = result["selections"].get(sel_name)
        if sel is None:
            continue
        row[f"{prefix}epoch"] = sel["epoch"]
        for k, v in sel.items():
            if k.startswith("test_"):
                row[f"{prefix}{k[len('test_'):]}"] = v
        if sel_name == "valid_selected":
            for k, v in sel.items():
                if k.startswith("valid_"):
                    row[k] = v
    row["seconds_per_epoch"] = result["seconds_per_epoch"]
    row["seconds_per_eval"] = result["seconds_per_eval"]
    row["epochs_run"] = result["epochs_run"]
    row["device"] = result["device"]
    return row


def run_grid(specs, device=None, progress: bool = True, workers=None, address=None) -> pd.DataFrame:
    """Run every spec not yet cached, return one row per spec.

    ``workers=0`` runs them here one after another (printing which); ``workers=N`` on a local Ray
    instance with N single-threaded tasks at a time; ``address`` on an existing Ray cluster. Unset,
    they come from ``ATTREC_WORKERS`` and ``RAY_ADDRESS``, else in-process (see ``execution``).
    """
    from . import execution
    specs = list(specs)
    results = execution.run_specs(specs, workers=workers, address=address, device=device, progress=progress)
    return pd.DataFrame([result_row(results[spec.key]) for spec in specs])


def trained_model(spec: RunSpec, device="cpu", progress: bool = False):
    """The model of ``spec`` at its headline epoch, for inspection (Figure 3's attention maps).

    The run cache keeps metrics, not weights. Training is deterministic for a spec and seed, so
    retraining for exactly the headline epoch's number of epochs rebuilds that epoch's weights;
    they are cached under ``results/models/<key>-e<epoch>.pt``.
    """
    result = run(spec, progress=progress)
    epoch = result["selections"][headline_selection(result)]["epoch"]
    path = paths.results_dir() / "models" / f"{spec.key}-e{epoch}.pt"
    split = load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid")
    mcfg = models.make_config(spec.model, None, **spec.model_config)
    model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    if path.exists():
        model.load_state_dict(torch.load(path, map_location="cpu"))
        return model.eval()
    torch.manual_seed(spec.seed)
    tcfg = TrainConfig(**{**spec.train_config, "epochs": epoch, "patience": 0,
                          "eval_every": max(epoch, 1)})
    fit(model, split, tcfg, spec.seed, spec.protocol, device=device, progress=progress)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _replace_atomically(path, lambda fh: torch.save(state, fh))
    return model.cpu().eval()
