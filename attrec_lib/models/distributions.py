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


@dataclass(frozen=True)
class LogGrid(Choice):
    """A continuous parameter tried at fixed, increasing, log-spaced values (a Choice that the
    tuning enumerates whole when its budget has room). Unlike a plain Choice, its chosen value is
    checked against the ends of the grid, as a LogUniform's is against the values it drew."""

    def __post_init__(self):
        super().__post_init__()
        if not all(isinstance(v, (int, float)) and v > 0 for v in self.values) or \
                any(a >= b for a, b in zip(self.values, self.values[1:])):
            raise ValueError(f"LogGrid needs positive, strictly increasing values, got {self.values}")

    @property
    def low(self):
        return self.values[0]

    @property
    def high(self):
        return self.values[-1]
