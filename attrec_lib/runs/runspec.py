"""What a run is, and its key: :class:`RunSpec`, :func:`make_spec`, :data:`RESULTS_VERSION`.

A run is fully described by a :class:`RunSpec` (data set, model, resolved model config,
resolved training config, protocol, tie rule, seed). A result is a function of three things,
and its key (:attr:`RunSpec.key`, the file name ``results/<key>.json``) hashes all three:

* the canonical spec: config values normalised through the config dataclasses (``100`` and
  ``100.0`` are one value; a bool field takes ``True``, not ``1``), with the fields that cannot
  change a number left out (:data:`KEY_EXCLUDED_TRAINING`, e.g. the evaluation batch size);
* :data:`RESULTS_VERSION`, bumped in every commit that changes any run's numbers (together with
  the golden runs under ``tests/goldens/``: ``make goldens``);
* a fingerprint of the processed data (sha256 of the split's arrays, :func:`data_fingerprint`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from .. import models
from ..models.base import FittedRecommender
from ..data import load_dataset
from ..data.preprocess import check_tie_rule
from ..data.splits import LEAVE_LAST_OUT, check_split, make_split, sequence_timestamps
from ..settings.validation import check_seed, check_types
from ..training.train import PROTOCOLS, TrainConfig


# Bump in the commit that changes any run's numbers (code, defaults, data pipeline), together with
# the golden runs (``make goldens``); results of another version are never read as results.
RESULTS_VERSION = 3
DEVICE_CLASSES = ("cpu", "cuda")  # RunSpec.device_class: where a run's numbers come from


# TrainConfig fields that cannot change a run's numbers, left out of the run key.
KEY_EXCLUDED_TRAINING = ("eval_batch_size",)


def _canonical_value(owner: str, name: str, kind: str, value):
    """``value`` of field ``name`` as the type the config dataclass declares (``kind``)."""
    bad = ValueError(f"{owner}.{name}: expected {kind}, got {value!r}")
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise bad
    if isinstance(value, (bool, np.bool_)):
        raise bad
    if kind == "float":
        if isinstance(value, (int, float, np.integer, np.floating)):
            return float(value)
        raise bad
    if kind == "int":
        if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating))
                                                     and float(value).is_integer()):
            return int(value)
        raise bad
    if kind == "str":
        if isinstance(value, str):
            return value
        raise bad
    return value


def canonical_config(cls, values: dict, owner: str) -> dict:
    """Every field of dataclass ``cls`` from ``values`` (defaults for the missing ones), each
    normalised to its declared type; an unknown field is an error naming it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"{owner}: unknown field(s) {sorted(unknown)}")
    out = {}
    for name, f in fields.items():
        value = values[name] if name in values else getattr(cls(), name)
        out[name] = _canonical_value(owner, name, str(f.type), value)
    return out


@functools.lru_cache(maxsize=None)
def data_fingerprint(dataset: str, tie_rule: str) -> str:
    """sha256 (16 hex digits) of the processed data's split arrays (validation item held out,
    which contains every item of every sequence), computed once per process."""
    return split_fingerprint(load_split(dataset, tie_rule, True))


def split_fingerprint(split) -> str:
    """sha256 (16 hex digits) of a split's arrays: sizes, training sequences, valid and test items."""
    digest = hashlib.sha256(f"{split.n_users} {split.n_items} {split.pad}".encode())
    for items in split.train:
        arr = np.ascontiguousarray(np.asarray(items, dtype=np.int64))
        digest.update(len(arr).to_bytes(8, "little"))
        digest.update(arr.tobytes())
    for arr in (split.valid, split.test):
        digest.update(np.ascontiguousarray(np.asarray(arr, dtype=np.int64)).tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    model: str
    model_config: dict = field(default_factory=dict)  # every field of the model's config, resolved
    train_config: dict = field(default_factory=dict)  # every field of TrainConfig, resolved
    protocol: str = "valid"  # "valid" (validation-selected) or "released" (no validation, test-selected)
    tie_rule: str = "stable"  # how rows with equal timestamps are ordered: stable, released, shuffled:<seed> (see data)
    seed: int = 0
    # which targets are held out (data.splits): leave_last_out (the paper's), first_occurrence, global_time:<q>.
    # Left out of to_dict (so of the key and the result file) at its default: older keys stay as they were.
    split: str = LEAVE_LAST_OUT
    # the class of device the run is computed on (DEVICE_CLASSES): a GPU rounds differently, so its
    # result must never be served under a CPU run's key. Left out of to_dict at "cpu" (keys unchanged).
    device_class: str = "cpu"

    def to_dict(self) -> dict:
        d = {"dataset": self.dataset, "model": self.model, "model_config": dict(self.model_config),
             "train_config": dict(self.train_config), "protocol": self.protocol,
             "tie_rule": self.tie_rule, "seed": self.seed}
        if self.split != LEAVE_LAST_OUT:
            d["split"] = self.split
        if self.device_class != "cpu":
            d["device_class"] = self.device_class
        return d

    def canonical(self) -> dict:
        """The spec with config values normalised to their declared types (see the module doc)."""
        d = self.to_dict()
        d["model_config"] = canonical_config(models.config_class(self.model), d["model_config"],
                                             f"model_config ({self.model})")
        d["train_config"] = canonical_config(TrainConfig, d["train_config"], "train_config")
        d["seed"] = _canonical_value("spec", "seed", "int", self.seed)
        return d

    def key_payload(self, fingerprint: str | None = None) -> dict:
        """What the run key hashes: canonical spec (minus fields that change no number),
        results version, data fingerprint (of the registered data set unless given)."""
        d = self.canonical()
        for name in KEY_EXCLUDED_TRAINING:
            d["train_config"].pop(name)
        if fingerprint is None:
            fingerprint = data_fingerprint(self.dataset, self.tie_rule)
        return {"spec": d, "results_version": RESULTS_VERSION, "data": fingerprint}

    def key_for(self, fingerprint: str | None = None) -> str:
        """sha256 of the canonical JSON of :meth:`key_payload` (first 16 hex digits)."""
        text = json.dumps(self.key_payload(fingerprint), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """The run key: :meth:`key_for` the registered data set's fingerprint."""
        return self.key_for()

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        return cls(**d)


_LEARNED_DEVICE_CLASS = ["cpu"]  # a stack: the class make_spec gives learned models (learned_models_on)


def is_learned(model: str) -> bool:
    """Whether ``model`` is trained by gradient steps (a GPU can run it), as opposed to a fitted one
    (Pop, ItemKNN, EASE, SR, SKNN: one closed-form or counting fit, on the CPU)."""
    return not issubclass(models.model_class(model), FittedRecommender)


@contextlib.contextmanager
def learned_models_on(device_class: str):
    """Inside the block, :func:`make_spec` gives every learned model's spec this device class
    (unless a call names one): ``grid --device cuda`` builds a profile's specs under it, so its
    learned runs are GPU runs with keys of their own while its fitted baselines stay CPU runs
    (whose committed results are then reused)."""
    if device_class not in DEVICE_CLASSES:
        raise ValueError(f"device_class must be one of {list(DEVICE_CLASSES)}, got {device_class!r}")
    _LEARNED_DEVICE_CLASS.append(device_class)
    try:
        yield
    finally:
        _LEARNED_DEVICE_CLASS.pop()


def default_device_class(model: str) -> str:
    """The device class :func:`make_spec` gives ``model`` when the call names none: "cpu" for a
    fitted model, else the innermost :func:`learned_models_on` ("cpu" outside any)."""
    return _LEARNED_DEVICE_CLASS[-1] if is_learned(model) else "cpu"


def make_spec(dataset: str, model: str = "attrec", preset: str | None = "paper", seed: int = 0,
              protocol: str | None = None, tie_rule: str | None = None, train: dict | None = None,
              split: str = LEAVE_LAST_OUT, device_class: str | None = None, **model_overrides) -> RunSpec:
    """Build a fully resolved spec. ``preset="released_code"`` also defaults the protocol and the
    tie rule to the released code's (no validation item, the authors' tie rule). ``split``: which
    targets are held out (``data.splits``; every split but leave-last-out needs protocol "valid").
    ``device_class``: where its numbers come from; None: :func:`default_device_class` ("cpu" unless
    inside :func:`learned_models_on`)."""
    if device_class is None:
        device_class = default_device_class(model)
    if preset is not None and preset not in models.presets(model):
        preset_known = sorted(models.presets(model))
        raise ValueError(f"unknown preset {preset!r} for model {model!r}; known presets: {preset_known}")
    released = preset == "released_code"
    protocol = protocol or ("released" if released else "valid")
    tie_rule = tie_rule or ("released" if released else "stable")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    check_tie_rule(tie_rule)  # "stable", "released" or "shuffled:<seed>"; a clear error otherwise
    seed = check_seed(seed)  # numpy's error for -1 would name no setting
    check_split(split)
    if device_class not in DEVICE_CLASSES:
        raise ValueError(f"device_class must be one of {list(DEVICE_CLASSES)}, got {device_class!r}")
    if split != LEAVE_LAST_OUT and protocol != "valid":
        raise ValueError(f"split {split!r} holds out a validation item: it needs protocol 'valid', got {protocol!r}")
    mcfg = models.make_config(model, preset, **model_overrides)
    tfields = {**models.training_overrides(model, preset), **(train or {})}
    unknown = set(tfields) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown training field(s) {sorted(unknown)}")
    tcfg = check_types(TrainConfig(**tfields)).validate()
    spec = RunSpec(dataset, model, dataclasses.asdict(mcfg), dataclasses.asdict(tcfg), protocol, tie_rule, int(seed),
                   split, device_class)
    canonical = spec.canonical()
    return dataclasses.replace(spec, model_config=canonical["model_config"], train_config=canonical["train_config"])


@functools.lru_cache(maxsize=8)
def load_split(dataset: str, tie_rule: str, hold_out_valid: bool, split: str = LEAVE_LAST_OUT):
    data = load_dataset(dataset, tie_rule=tie_rule)
    timestamps = sequence_timestamps(dataset, tie_rule) if split.startswith("global_time") else None
    return make_split(data, split, hold_out_valid=hold_out_valid, timestamps=timestamps)
