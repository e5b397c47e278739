"""Model registry: name -> (model class, label), one line per model.

Everything else the study needs about a model is on its class (``models/base.py``): the config
dataclass (``config_class``, validated with ``validate()``), its named presets (``presets``, every
model has ``"paper"``) and its training settings (``training``, ``preset_training``).

Adding a model: its file (a :class:`~attrec_lib.models.base.SequentialRecommender` subclass and
its config) and one line in :data:`REGISTRY`.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

from ..settings.validation import check_types
from .attrec import AttRec
from .base import SequentialRecommender
from .bprmf import BPRMF
from .caser import Caser
from .ease import EASE
from .fmc import FMC
from .fpmc import FPMC
from .hrm import HRM
from .itemknn import ItemKNN
from .lstm_plus import LSTMPlus
from .pop import Pop
from .prme import PRME
from .sasrec import SASRec
from .sknn import SKNN
from .sr import SR
from .transrec import TransRec


class Entry(NamedTuple):
    model: type  # a SequentialRecommender subclass
    label: str  # the name tables and figures show ("MC" in the paper is our FMC)


REGISTRY = {
    "attrec": Entry(AttRec, "AttRec"),
    "bprmf": Entry(BPRMF, "BPRMF"),
    "fmc": Entry(FMC, "FMC (MC)"),
    "fpmc": Entry(FPMC, "FPMC"),
    "hrm": Entry(HRM, "HRM"),
    "prme": Entry(PRME, "PRME"),
    "transrec": Entry(TransRec, "TransRec"),
    "caser": Entry(Caser, "Caser"),
    "lstm_plus": Entry(LSTMPlus, "LSTM+"),
    "pop": Entry(Pop, "Pop"),
    "sasrec": Entry(SASRec, "SASRec"),
    "itemknn": Entry(ItemKNN, "ItemKNN"),
    "ease": Entry(EASE, "EASE"),
    "sr": Entry(SR, "SR (rules)"),
    "sknn": Entry(SKNN, "SKNN"),
}

LABELS = {name: entry.label for name, entry in REGISTRY.items()}


def model_names() -> list[str]:
    return list(REGISTRY)


def model_class(name: str) -> type[SequentialRecommender]:
    try:
        return REGISTRY[name].model
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {model_names()}") from None


def config_class(name: str):
    return model_class(name).config_class


def config_fields(name: str) -> set:
    """The names of the model's config fields."""
    return {f.name for f in dataclasses.fields(config_class(name))}


def presets(name: str) -> dict:
    return model_class(name).presets


def make_config(name: str, preset: str | None = None, **overrides):
    """The model's config: a named preset (or the defaults) with fields overridden, validated."""
    cls = model_class(name)
    if preset is None:
        base = cls.config_class()
    elif preset in cls.presets:
        base = cls.presets[preset]
    else:
        raise ValueError(f"unknown preset {preset!r} for model {name!r}; known presets: {sorted(cls.presets)}")
    fields = config_fields(name)
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown config field(s) {sorted(unknown)} for model {name!r}; fields: {sorted(fields)}")
    # Types first (one place for every config), then each config's own range and choice checks.
    return check_types(dataclasses.replace(base, **overrides)).validate()


def build(name: str, n_users: int, n_items: int, config) -> SequentialRecommender:
    return model_class(name)(n_users, n_items, config)


def search_space(name: str) -> dict:
    """The model's tuning search space (see study/tuning.py); empty when it has nothing to tune."""
    return dict(model_class(name).search_space)


def training_overrides(name: str, preset: str | None) -> dict:
    """TrainConfig fields a model (and one of its presets) sets, e.g. Adam for Caser."""
    cls = model_class(name)
    return {**cls.training, **cls.preset_training.get(preset, {})}
