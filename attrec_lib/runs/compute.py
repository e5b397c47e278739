"""Computing one run: :func:`execute` trains and evaluates a spec, :func:`run` serves it from the
cache or computes and caches it; :func:`result_row` flattens a result into a table row.

Every run trains and evaluates on one intra-op thread (``training.train.one_thread``), so a key
always gives the same bits on a CPU; device, thread count and code commit are recorded in the
result, not in the key.
"""
from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch

from .. import models
from ..settings import paths
from ..settings.atomic import replace_atomically
from ..training.train import TrainConfig, device_name, fit, one_thread
from .runspec import RESULTS_VERSION, RunSpec, data_fingerprint, load_split, split_fingerprint
from .store import RESULT_FORMAT, check_writable, code_version, load_result, result_path, write_result


# Config fields that set how much memory a run takes, named when it runs out.
SIZE_FIELDS = ("d", "seq_len", "n_targets", "n_negatives", "hidden", "n_layers", "n_heads", "batch_size",
               "eval_batch_size")


class RunTooLarge(ValueError):
    """A run's settings ask for more memory than the machine has."""


def execute(spec: RunSpec, device=None, progress: bool = True, split=None) -> dict:
    """Train and evaluate one run (no cache involved) and return its result record. Running out of
    memory is :class:`RunTooLarge`, naming the size settings that differ from the model's defaults.
    The run is computed on its spec's device class (``spec.device_class``; a CPU run stays on the CPU
    even where a GPU is present); a ``device`` of another class is refused (:func:`device_for`)."""
    device = device_for(spec, device)
    with one_thread():
        try:
            return _execute(spec, device, progress, split)
        except (MemoryError, RuntimeError) as err:
            if not isinstance(err, MemoryError) and "alloc" not in str(err).lower() and "out of memory" not in str(err):
                raise
            raise RunTooLarge(f"{spec.dataset}/{spec.model}/s{spec.seed}: out of memory on {device} "
                              f"({_first_line(err)}) with {_size_settings(spec)}") from err


def device_for(spec: RunSpec, device=None) -> torch.device:
    """The device ``spec`` runs on: ``device`` when given and of the spec's class, else the spec's
    class itself. A device of another class is a ``ValueError``: its numbers (other rounding) would
    be cached under a key that says they come from ``spec.device_class``."""
    wanted = torch.device(spec.device_class) if device is None else torch.device(device)
    if wanted.type != spec.device_class:
        raise ValueError(f"run {spec.key} ({spec.dataset}/{spec.model}) is a {spec.device_class} run: computing it on "
                         f"{wanted} would give other bits under that key; build its spec with "
                         f"device_class={wanted.type!r} (a key of its own)")
    return wanted


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.split("] ", 1)[-1][:200]  # without the allocator's "[enforce fail at ...]" prefix


def _size_settings(spec: RunSpec) -> str:
    """The size settings of ``spec`` that differ from the model's defaults (those first), else all."""
    defaults = {**dict(vars(models.make_config(spec.model, None))), **dict(vars(TrainConfig()))}
    values = {**spec.model_config, **spec.train_config}
    sizes = {k: v for k, v in values.items() if k in SIZE_FIELDS}
    changed = {k: v for k, v in sizes.items() if defaults.get(k) != v}
    shown = changed or sizes
    owner = {k: "model config" if k in spec.model_config else "train_config" for k in shown}
    return ", ".join(f"{owner[k]} {k}={v} (default {defaults.get(k)})" for k, v in shown.items())


def _execute(spec: RunSpec, device, progress, split) -> dict:
    torch.manual_seed(spec.seed)
    if split is None:
        split = load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid", spec.split)
        fingerprint = data_fingerprint(spec.dataset, spec.tie_rule)
    else:  # a split given by the caller (tests, never cached): the fingerprint of that split
        fingerprint = split_fingerprint(split)
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
        "results_version": RESULTS_VERSION,
        "spec": spec.canonical(),
        "spec_key": spec.key_for(fingerprint),
        "data_fingerprint": fingerprint,
        "selections": selections,
        "per_user": per_user,
        "history": fitted.history,
        "epochs_run": len(fitted.seconds_per_epoch),
        "stopped_early": fitted.stopped_early,
        "seconds_per_epoch": statistics.median(fitted.seconds_per_epoch),
        "seconds_per_eval": statistics.median(fitted.seconds_per_eval) if fitted.seconds_per_eval else None,
        "epoch_seconds": fitted.seconds_per_epoch,
        "wall_seconds": time.time() - t0,
        "device": device_name(device),
        "threads": torch.get_num_threads(),
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
    check_writable(paths.results_dir())  # before training, not after: a result that cannot be saved is lost
    result = execute(spec, device=device, progress=progress)
    write_result(result_path(spec), result)
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


def trained_model(spec: RunSpec, device="cpu", progress: bool = False):
    """The model of ``spec`` at its headline epoch, for inspection (Figure 3's attention maps).

    The run cache keeps metrics, not weights. Training is deterministic for a spec and seed, so
    retraining for exactly the headline epoch's number of epochs rebuilds that epoch's weights;
    they are cached under ``results/models/<key>-e<epoch>.pt``.
    """
    result = run(spec, progress=progress)
    epoch = result["selections"][headline_selection(result)]["epoch"]
    path = paths.results_dir() / "models" / f"{spec.key}-e{epoch}.pt"
    split = load_split(spec.dataset, spec.tie_rule, spec.protocol == "valid", spec.split)
    mcfg = models.make_config(spec.model, None, **spec.model_config)
    model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    if path.exists():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu"))
            return model.eval()
        except Exception as exc:  # truncated, emptied or not this model's weights: retrain below
            warnings.warn(f"cached model weights {path} are damaged ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); retraining them", stacklevel=2)
            model = models.build(spec.model, split.n_users, split.n_items, mcfg)
    torch.manual_seed(spec.seed)
    tcfg = TrainConfig(**{**spec.train_config, "epochs": epoch, "patience": 0,
                          "eval_every": max(epoch, 1)})
    fit(model, split, tcfg, spec.seed, spec.protocol, device=device, progress=progress)  # one thread inside
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    replace_atomically(path, lambda fh: torch.save(state, fh))
    return model.cpu().eval()
