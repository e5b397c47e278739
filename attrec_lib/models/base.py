"""The one small interface every model of the study implements.

The trainer and the evaluator only ever call these methods, so they never know which model
they hold:

* ``loss(batch) -> scalar tensor``: the training objective of one batch of windows,
  regularisation included.
* ``score(users, inputs) -> (B, n_items)``: a score for every item, higher is better
  (distance models return minus the distance).
* ``after_step()``: called after each optimiser step (norm clipping, Eq. 12 of AttRec).
* ``prepare(split)``: called once before training (statistics such as item popularity).
* ``whole_tensor_l2()`` and ``loss_without_whole_tensor_l2(batch)``: for a trainer that moves
  whole-tensor L2 penalties into the optimiser's weight decay (same gradients, cheaper).

Every model also carries ``config`` (a frozen dataclass, a :class:`ModelConfig`) with at least
``seq_len`` (L, the number of recent items it reads) and ``n_targets`` (T, the targets per
training window); the base class's constructor validates it.
"""
from __future__ import annotations

import os

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Batch:
    """One batch of training windows (all int64 tensors on the model's device)."""

    users: torch.Tensor  # (B,)
    inputs: torch.Tensor  # (B, L) the L items before the targets, left-padded with PAD = n_items
    targets: torch.Tensor  # (B, T)
    negatives: torch.Tensor  # (B, T) one sampled negative per target


@dataclass(frozen=True)
class ModelConfig:
    """The fields every model's config has: the window it trains and ranks on.

    A model's config subclasses this (frozen dataclass, one commented field each) and its
    ``validate()`` calls ``super().validate()`` before checking its own fields.
    """

    seq_len: int = 5  # L: recent items a model reads (paper: 5 MovieLens, 3 MovieTweetings, 2 others)
    n_targets: int = 3  # T: next items per training window (paper: 3 MovieLens, 1 others)

    def validate(self):
        check_range("seq_len (L)", self.seq_len, 1)
        check_range("n_targets (T)", self.n_targets, 1)
        return self


class SequentialRecommender(nn.Module):
    """Base class. A subclass names its config class and presets, and the training settings it
    needs; everything the registry (models/__init__.py) knows about a model is on its class."""

    config_class: type = ModelConfig  # the model's config dataclass
    presets: dict = {}  # preset name -> config (every model has "paper")
    training: dict = {}  # TrainConfig fields the model sets, with or without a preset (optimiser, lr)
    preset_training: dict = {}  # preset name -> TrainConfig fields that preset changes on top of ``training``
    search_space: dict = {}  # config field (or "train.<field>") -> distribution of the equal-budget tuning (study/tuning.py)

    def __init__(self, n_users: int, n_items: int, config=None):
        super().__init__()
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config.validate()
        self.n_users, self.n_items = n_users, n_items

    def loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def score(self, users: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self) -> None:
        """Hook run after each optimiser step; most models do nothing."""

    def whole_tensor_l2(self) -> dict:
        """{parameter: lambda} for each penalty ``lambda * ||p||^2`` over a whole tensor in ``loss()``.

        Such a penalty has the gradient ``2 * lambda * p``, exactly the optimiser's (coupled)
        ``weight_decay = 2 * lambda``; applied inside the fused optimiser step it is cheaper than
        autograd through a sum of squares over a whole table. The trainer chooses to do that: it
        gives these to the optimiser and calls :meth:`loss_without_whole_tensor_l2`. A query only;
        the model does not change. Default: none.
        """
        return {}

    def loss_without_whole_tensor_l2(self, batch: Batch) -> torch.Tensor:
        """``loss(batch)`` minus the penalties of :meth:`whole_tensor_l2` (the optimiser applies them)."""
        if self.whole_tensor_l2():
            raise NotImplementedError(f"{type(self).__name__} lists whole-tensor L2 terms but cannot leave them out")
        return self.loss(batch)

    def prepare(self, split) -> None:
        """Hook run once before training with the training split (e.g. Pop counts items).

        A model with no trainable parameters after ``prepare`` is not trained: the trainer
        evaluates it once and reports that as epoch 1.
        """

    @property
    def pad(self) -> int:
        return self.n_items


class FittedRecommender(SequentialRecommender):
    """A model with nothing to train: ``prepare(split)`` fits its statistics from the training
    sequences, and the trainer evaluates it once (Pop and the simple baselines)."""

    def loss(self, batch: Batch) -> torch.Tensor:
        raise RuntimeError(f"{type(self).__name__} has nothing to train")


def check_range(name: str, value, low=None, high=None, *, low_open=False) -> None:
    """Raise a ValueError naming the config field when ``value`` is out of range."""
    if low is not None and (value < low or (low_open and value == low)):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def squared_distances(queries: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(B, N) squared Euclidean distances between every query row and every table row.

    Uses ||a||^2 + ||b||^2 - 2ab so no (B, N, d) tensor is built; clamped at 0 against
    rounding.
    """
    q2 = (queries * queries).sum(-1, keepdim=True)  # (B, 1)
    t2 = (table * table).sum(-1)  # (N,)
    return (q2 + t2 - 2.0 * queries @ table.T).clamp_min_(0.0)  # (B, N)


def compile_enabled() -> bool:
    """``ATTREC_COMPILE=1`` compiles the training loss with ``torch.compile``.

    Not part of a run's spec: compiled and eager code compute the same thing and differ at float
    rounding. It pays off for long runs (measured on ML-100K, 2 loaded CPU cores: ~2x faster per
    batch for AttRec's ``paper`` preset, ~1.6x for ``released_code``) but costs 15-40 s of
    compilation per process, so it is off by default.
    """
    value = os.environ.get("ATTREC_COMPILE", "0").strip().lower()
    if value not in ("0", "1", "", "false", "true"):
        raise ValueError(f"ATTREC_COMPILE must be 0 or 1, got {value!r}")
    return value in ("1", "true")
