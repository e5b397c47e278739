"""The tuning's search spaces, pure: each model's ``SEARCH_SPACE`` checked, and the seeded draws
of settings from it (nothing is built or run here; ``tuning.py`` turns settings into trials)."""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math

import numpy as np

from .. import models
from ..models.base import FittedRecommender
from ..models.distributions import Choice, LogUniform
from ..training.train import TrainConfig


def search_space(model: str) -> dict:
    """The model's ``SEARCH_SPACE`` (empty for a model with nothing to tune), checked."""
    space = models.search_space(model)
    model_fields = {f.name for f in dataclasses.fields(models.config_class(model))}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, dist in space.items():
        if not isinstance(dist, (Choice, LogUniform)):
            raise ValueError(f"{model}.SEARCH_SPACE[{key!r}] must be a Choice or a LogUniform, got {dist!r}")
        for name in (key if isinstance(key, tuple) else (key,)):
            if name.startswith("train."):
                if name[len("train."):] not in train_fields:
                    raise ValueError(f"{model}.SEARCH_SPACE: unknown training field {name!r}")
            elif name not in model_fields:
                raise ValueError(f"{model}.SEARCH_SPACE: unknown config field {name!r} "
                                 f"(fields: {sorted(model_fields)})")
            if name == "d":
                raise ValueError(f"{model}.SEARCH_SPACE searches d; d stays fixed at 100 for every model")
    return space


def widened(model: str) -> dict:
    """{parameter: (low, high)} of the ranges a model's search space had before they were widened
    because its choice sat on their edge (the model class's ``search_space_widened_from``)."""
    return dict(getattr(models.model_class(model), "search_space_widened_from", {}))


def describe_space(model: str) -> str:
    """The model's search space in one readable line (for the notebooks)."""
    def one(dist):
        if isinstance(dist, Choice):
            return "{" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in dist.values) + "}"
        return f"log-uniform [{dist.low:g}, {dist.high:g}]"
    return "; ".join(f"{'/'.join(k) if isinstance(k, tuple) else k} in {one(d)}"
                     for k, d in search_space(model).items()) or "nothing to tune"


def _draw_seed(model: str, seed: int, fixed: dict | None = None) -> int:
    name = model if not fixed else f"{model}[{fixed_label(fixed)}]"
    return int.from_bytes(hashlib.sha256(f"{name}/{seed}".encode()).digest()[:8], "little")


def fixed_label(fixed: dict) -> str:
    """``{"omega": 0.2}`` -> ``"omega=0.2"`` (names a tuning with fields held fixed)."""
    return ",".join(f"{k}={v}" for k, v in sorted(fixed.items()))


def _free_space(model: str, fixed: dict | None) -> dict:
    """The model's space without the ``fixed`` keys (each must be one of its searched keys)."""
    space = search_space(model)
    unknown = sorted(set(fixed or ()) - set(space))
    if unknown:
        raise ValueError(f"{model}: fixed field(s) {unknown} are not in its search space {list(space)}")
    return {k: d for k, d in space.items() if k not in (fixed or {})}


def _grid_size(space: dict):
    if all(isinstance(d, Choice) for d in space.values()):
        return math.prod(len(d.values) for d in space.values())
    return None


def draw_settings(model: str, n_trials: int, seed: int = 0, fixed: dict | None = None) -> list[dict]:
    """``n_trials`` distinct settings ({key: value}) of the model's space, in draw order.

    A finite grid with no more than ``n_trials`` points is enumerated whole (a model with an
    empty space has exactly one setting: its defaults). ``fixed``: those keys leave the space
    (the caller sets them) and the draws get their own seed.
    """
    space = _free_space(model, fixed)
    keys = list(space)
    size = _grid_size(space)
    if size is not None and size <= n_trials:
        return [dict(zip(keys, combo)) for combo in itertools.product(*(space[k].values for k in keys))]
    rng = np.random.default_rng(_draw_seed(model, seed, fixed))
    out, seen = [], set()
    for _ in range(1000 * n_trials):
        setting = {k: space[k].draw(rng) for k in keys}
        marker = tuple(setting[k] for k in keys)
        if marker not in seen:
            seen.add(marker)
            out.append(setting)
            if len(out) == n_trials:
                return out
    raise RuntimeError(f"{model}: could not draw {n_trials} distinct settings from its search space")


def split_setting(setting: dict) -> tuple[dict, dict]:
    """(model config overrides, TrainConfig overrides) of one setting."""
    model_part, train_part = {}, {}
    for key, value in setting.items():
        for name in (key if isinstance(key, tuple) else (key,)):
            if name.startswith("train."):
                train_part[name[len("train."):]] = value
            else:
                model_part[name] = value
    return model_part, train_part


def has_default_trial(model: str) -> bool:
    """Whether the model's trial 0 is its default setting: the trained models (the simple
    baselines have no paper setting and no untuned row to lose to)."""
    return not issubclass(models.model_class(model), FittedRecommender)


def setting_of(spec, keys) -> dict:
    """The values a spec has for the search space ``keys`` (a tuple key: its first field's value)."""
    def value(name):
        return spec.train_config[name[len("train."):]] if name.startswith("train.") else spec.model_config[name]
    return {key: value(key[0] if isinstance(key, tuple) else key) for key in keys}
