"""Synthetic data sets for tests and benchmarks.

:func:`planted_sequences` plants a strong sequential pattern: items are arranged on a hidden
cycle and each user mostly walks it (item i is followed by i + 1 modulo the cycle), with a
user-specific starting point and some noise. A model that reads the last items can predict the
next one; popularity cannot, because every item is about equally popular.

:func:`shaped_like` draws a data set with given numbers of users, items and interactions
(popularity and length skewed like real logs) for speed benchmarks; it has no pattern to learn.
"""
from __future__ import annotations

import numpy as np

from .sequences import SequenceDataset


def planted_sequences(n_users: int = 200, n_items: int = 100, length: int = 30,
                      noise: float = 0.1, seed: int = 0) -> SequenceDataset:
    """Users walk a hidden item cycle: the next item is the successor of the current one."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_items)  # the hidden cycle
    successor = np.empty(n_items, np.int64)
    successor[order] = np.roll(order, -1)
    seqs = []
    for _ in range(n_users):
        seq = np.empty(length, np.int64)
        seq[0] = rng.integers(n_items)
        for t in range(1, length):
            seq[t] = rng.integers(n_items) if rng.random() < noise else successor[seq[t - 1]]
        seqs.append(seq)
    return SequenceDataset("synthetic-planted", n_users, n_items, tuple(seqs))


def shaped_like(n_users: int, n_items: int, n_interactions: int, seed: int = 0,
                min_length: int = 20, name: str = "synthetic-shaped") -> SequenceDataset:
    """Random sequences with the given totals; lengths and item popularity follow power laws."""
    if n_interactions < n_users * min_length:
        raise ValueError("n_interactions must be at least n_users * min_length")
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.2, n_users) + 1.0
    extra = n_interactions - n_users * min_length
    lengths = min_length + np.floor(weights / weights.sum() * extra).astype(np.int64)
    lengths[: n_interactions - lengths.sum()] += 1  # hand out the rounding remainder
    lengths = np.minimum(lengths, n_items)
    deficit = n_interactions - lengths.sum()
    while deficit > 0:  # users capped at n_items hand their surplus to the others
        room = np.flatnonzero(lengths < n_items)
        take = min(deficit, len(room))
        lengths[room[:take]] += 1
        deficit -= take
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    item_order = rng.permutation(n_items)
    seqs = []
    for n in lengths:
        picks = rng.choice(n_items, size=int(n), replace=False, p=popularity)
        seqs.append(item_order[picks].astype(np.int64))
    return SequenceDataset(name, n_users, n_items, tuple(seqs))
