"""Pop: rank items by their number of training interactions (no personalisation).

Not a baseline of the AttRec paper's Table 2; a floor every trained model must clear.
Score: ``y(u, i) = count of i in the training sequences`` (users and inputs are ignored);
the counts are a buffer filled by ``prepare(split)``, so the model has no trainable parameters
and the trainer evaluates it once. Ties are broken pessimistically by the evaluator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .base import FittedRecommender, ModelConfig


@dataclass(frozen=True)
class PopConfig(ModelConfig):
    """The window only: L sets the evaluation inputs (ignored by the score), T is unused."""


PRESETS = {"paper": PopConfig()}


class Pop(FittedRecommender):
    config_class, presets = PopConfig, PRESETS  # no training settings: nothing is trained

    def __init__(self, n_users: int, n_items: int, config: PopConfig | None = None):
        super().__init__(n_users, n_items, config)
        self.register_buffer("counts", torch.zeros(n_items))

    def prepare(self, split) -> None:
        items = [np.asarray(s, np.int64) for s in split.train if len(s)]
        counts = np.bincount(np.concatenate(items), minlength=self.n_items) if items else np.zeros(self.n_items)
        self.counts.copy_(torch.as_tensor(counts[: self.n_items], dtype=torch.float32))

    def score(self, users, inputs):
        return self.counts.expand(len(users), self.n_items).clone()  # (B, N)
