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

from .base import Batch, SequentialRecommender, check_range


@dataclass(frozen=True)
class PopConfig:
    seq_len: int = 5  # L: windows/evaluation inputs as AttRec's (ignored by the score)
    n_targets: int = 3  # T: targets per window (unused: nothing is trained)

    def validate(self):
        check_range("seq_len (L)", self.seq_len, 1)
        check_range("n_targets (T)", self.n_targets, 1)
        return self


PRESETS = {"paper": PopConfig()}


class Pop(SequentialRecommender):
    def __init__(self, n_users: int, n_items: int, config: PopConfig = PopConfig()):
        super().__init__()
        self.config = config.validate()
        self.n_users, self.n_items = n_users, n_items
        self.register_buffer("counts", torch.zeros(n_items))

    def prepare(self, split) -> None:
        items = [np.asarray(s, np.int64) for s in split.train if len(s)]
        counts = np.bincount(np.concatenate(items), minlength=self.n_items) if items else np.zeros(self.n_items)
        self.counts.copy_(torch.as_tensor(counts[: self.n_items], dtype=torch.float32))

    def score(self, users, inputs):
        return self.counts.expand(len(users), self.n_items).clone()  # (B, N)

    def loss(self, batch: Batch) -> torch.Tensor:
        raise RuntimeError("Pop has nothing to train")


MODEL, CONFIG = Pop, PopConfig
TRAINING = {None: {}, "paper": {}}
