"""The one small interface every model of the study implements.

The trainer and the evaluator only ever call these methods, so they never know which model
they hold:

* ``loss(batch) -> scalar tensor``: the training objective of one batch of windows,
  regularisation included.
* ``score(users, inputs) -> (B, n_items)``: a score for every item, higher is better
  (distance models return minus the distance).
* ``after_step()``: called after each optimiser step (norm clipping, Eq. 12 of AttRec).
* ``prepare(split)``: called once before training (statistics such as item popularity).

Every model also carries ``config`` (a frozen dataclass) with at least ``seq_len`` (L, the
number of recent items it reads) and ``n_targets`` (T, the targets per training window).
"""
from __future__ import annotations

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


class SequentialRecommender(nn.Module):
    """Base class: subclasses set ``self.config``, ``self.n_users``, ``self.n_items``."""

    config: object
    n_users: int
    n_items: int

    def loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def score(self, users: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self) -> None:
        """Hook run after each optimiser step; most models do nothing."""

    def fold_l2(self) -> dict:
        """Hand whole-tensor L2 penalties to the optimiser; returns {parameter: lambda}.

        A penalty lambda * ||p||^2 on a whole tensor has the gradient 2 * lambda * p, which is
        exactly the optimiser's (coupled) ``weight_decay = 2 * lambda``. A model that returns a
        non-empty mapping leaves those terms out of ``loss()`` from then on (so the logged loss
        no longer includes them); the trainer puts each parameter in a group with that weight
        decay. Applied inside the fused optimiser step this is cheaper than autograd through a
        sum of squares over a whole table. Default: nothing folded.
        """
        return {}

    def prepare(self, split) -> None:
        """Hook run once before training with the training split (e.g. Pop counts items).

        A model with no trainable parameters after ``prepare`` is not trained: the trainer
        evaluates it once and reports that as epoch 1.
        """

    @property
    def pad(self) -> int:
        return self.n_items


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
