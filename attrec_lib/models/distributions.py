"""The distributions a model's tuning search space draws from (``SEARCH_SPACE`` in each model file;
the tuning itself is ``study/tuning.py``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Choice:
    """A value drawn uniformly from a finite list (the paper's grids are Choices)."""

    values: tuple

    def __post_init__(self):
        if not len(self.values):
            raise ValueError("Choice needs at least one value")

    def draw(self, rng: np.random.Generator):
        return self.values[int(rng.integers(len(self.values)))]


@dataclass(frozen=True)
class LogUniform:
    """A value drawn log-uniformly from [low, high], rounded to ``digits`` significant digits."""

    low: float
    high: float
    digits: int = 3  # significant digits kept (readable spec files, stable keys)

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got {self.low}, {self.high}")

    def draw(self, rng: np.random.Generator):
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return float(f"{value:.{self.digits}g}")
