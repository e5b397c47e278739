"""Model registry: name -> (model class, config class, named presets of model settings).

Each model module defines its config dataclass (with ``validate()``), its model class (a
``SequentialRecommender``) and a ``PRESETS`` dict; it is listed here once.
"""
from __future__ import annotations

import dataclasses
import importlib

from ..validation import check_types

# name -> module under attrec_lib.models; each module exposes MODEL, CONFIG, PRESETS,
# and optionally TRAINING (preset name -> dict of TrainConfig overrides).
_MODULES = {
    "attrec": "attrec",
    "bprmf": "bprmf",
    "fmc": "fmc",
    "fpmc": "fpmc",
    "hrm": "hrm",
    "prme": "prme",
    "transrec": "transrec",
    "caser": "caser",
    "lstm_plus": "lstm_plus",
    "pop": "pop",
    "sasrec": "sasrec",
}


def model_names() -> list[str]:
    return list(_MODULES)


def _module(name: str):
    if name not in _MODULES:
        raise ValueError(f"unknown model {name!r}; known models: {model_names()}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")


def config_class(name: str):
    return _module(name).CONFIG


def presets(name: str) -> dict:
    return _module(name).PRESETS


def make_config(name: str, preset: str | None = None, **overrides):
    """The model's config: a named preset (or the defaults) with fields overridden, validated."""
    mod = _module(name)
    if preset is None:
        base = mod.CONFIG()
    elif preset in mod.PRESETS:
        base = mod.PRESETS[preset]
    else:
        raise ValueError(f"unknown preset {preset!r} for model {name!r}; known presets: {sorted(mod.PRESETS)}")
    fields = {f.name for f in dataclasses.fields(mod.CONFIG)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown config field(s) {sorted(unknown)} for model {name!r}; fields: {sorted(fields)}")
    # Types first (one place for every config), then each config's own range and choice checks.
    return check_types(dataclasses.replace(base, **overrides)).validate()


def build(name: str, n_users: int, n_items: int, config):
    return _module(name).MODEL(n_users, n_items, config)


def training_overrides(name: str, preset: str | None) -> dict:
    """TrainConfig fields a model (or one of its presets) sets, e.g. Adam for Caser."""
    table = getattr(_module(name), "TRAINING", {})
    return dict(table.get(preset, table.get(None, {})))
