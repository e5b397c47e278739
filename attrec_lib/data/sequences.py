"""Per-user sequences, the leave-last-out split, and training windows.

Data flows one way: a processed interaction table becomes a :class:`SequenceDataset` (one
chronological item sequence per user), which :func:`split_leave_last_out` turns into a
:class:`Split` (train / valid / test), from which :func:`make_windows` builds the training
windows (L inputs followed by T targets).

Conventions
-----------
* Users are ``0 .. n_users-1``, items ``0 .. n_items-1``.
* ``PAD = n_items`` is the padding item: models that read item sequences allocate one extra
  embedding row for it. Inputs are padded on the left.
* Users shorter than ``L + T`` (a choice the paper leaves open): a user whose training sequence
  has ``n`` items with ``T < n < L + T`` contributes exactly one window, the last ``T`` items as
  targets and the items before them, left-padded to ``L``, as inputs (Caser's rule). A user with
  ``n <= T`` training items contributes no window; they are still evaluated. For the paper's
  settings (MovieLens: every user has >= 20 items; other sets filtered to >= 10 actions with
  L + T <= 4) no user is short, so this rule only matters for the L sweeps and tiny test data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SequenceDataset:
    """Chronological item sequences, one per user (item ids already reindexed to 0..N-1)."""

    name: str
    n_users: int
    n_items: int
    sequences: tuple  # tuple[np.ndarray[int64], ...], len == n_users

    def __post_init__(self):
        if len(self.sequences) != self.n_users:
            raise ValueError(f"{self.name}: {len(self.sequences)} sequences for n_users={self.n_users}")

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))


@dataclass(frozen=True)
class Split:
    """Leave-last-out split of a :class:`SequenceDataset`.

    ``valid[u]`` is -1 when no validation item is held out (the released code's protocol, or a
    user too short to spare one). ``test[u]`` is -1 for a user with fewer than 2 items (never
    happens after the paper's filtering).
    """

    name: str
    n_users: int
    n_items: int
    train: tuple  # tuple[np.ndarray, ...]: the items used for training windows
    valid: np.ndarray  # (n_users,) int64
    test: np.ndarray  # (n_users,) int64

    @property
    def pad(self) -> int:
        return self.n_items

    def history(self, stage: str) -> list:
        """Items the user has seen before the evaluated item (train, plus valid for the test stage)."""
        _check_stage(stage)
        if stage == "valid":
            return list(self.train)
        return [np.append(t, v) if v >= 0 else t for t, v in zip(self.train, self.valid)]

    def eval_users(self, stage: str) -> np.ndarray:
        """Users that have a target item at this stage."""
        _check_stage(stage)
        target = self.valid if stage == "valid" else self.test
        return np.flatnonzero(target >= 0)

    def eval_targets(self, stage: str) -> np.ndarray:
        _check_stage(stage)
        return self.valid if stage == "valid" else self.test

    def eval_inputs(self, stage: str, seq_len: int) -> np.ndarray:
        """(n_users, L) the last L items before the evaluated item, left-padded with PAD."""
        return last_items(self.history(stage), seq_len, self.pad)


def _check_stage(stage: str) -> None:
    if stage not in ("valid", "test"):
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")


def last_items(sequences, seq_len: int, pad: int) -> np.ndarray:
    """(len(sequences), L) the last ``seq_len`` items of each sequence, left-padded with ``pad``."""
    out = np.full((len(sequences), seq_len), pad, dtype=np.int64)
    for row, seq in enumerate(sequences):
        tail = seq[-seq_len:] if seq_len > 0 else seq[:0]
        if len(tail):
            out[row, seq_len - len(tail):] = tail
    return out


def split_leave_last_out(data: SequenceDataset, hold_out_valid: bool = True) -> Split:
    """Test = each user's latest item, validation = the one before (if ``hold_out_valid``).

    The sequences must already be in chronological order (ties resolved by the data pipeline).
    A user needs at least 3 items to give train, valid and test; with 2 items only test is held
    out, with 1 item nothing is.
    """
    train, valid, test = [], np.full(data.n_users, -1, np.int64), np.full(data.n_users, -1, np.int64)
    for u, seq in enumerate(data.sequences):
        seq = np.asarray(seq, dtype=np.int64)
        n = len(seq)
        if n >= 2:
            test[u] = seq[-1]
            seq = seq[:-1]
        if hold_out_valid and n >= 3:
            valid[u] = seq[-1]
            seq = seq[:-1]
        train.append(seq)
    return Split(data.name, data.n_users, data.n_items, tuple(train), valid, test)


@dataclass(frozen=True)
class Windows:
    """Training windows: ``inputs[w]`` (L items) is followed by ``targets[w]`` (T items)."""

    users: np.ndarray  # (W,) int64
    inputs: np.ndarray  # (W, L) int64, left-padded with PAD
    targets: np.ndarray  # (W, T) int64

    def __len__(self) -> int:
        return len(self.users)


def make_windows(train, seq_len: int, n_targets: int, pad: int) -> Windows:
    """Sliding windows of ``seq_len`` inputs and ``n_targets`` targets, step 1, for every user.

    A user with n >= L + T training items gives n - L - T + 1 windows; one with T < n < L + T
    gives one left-padded window; one with n <= T gives none (see the module docstring).
    """
    if seq_len < 1:
        raise ValueError(f"seq_len (L) must be >= 1, got {seq_len}")
    if n_targets < 1:
        raise ValueError(f"n_targets (T) must be >= 1, got {n_targets}")
    width = seq_len + n_targets
    users, rows = [], []
    for u, seq in enumerate(train):
        seq = np.asarray(seq, dtype=np.int64)
        n = len(seq)
        if n <= n_targets:
            continue
        if n < width:
            seq = np.concatenate([np.full(width - n, pad, np.int64), seq])
            n = width
        view = np.lib.stride_tricks.sliding_window_view(seq, width)  # (n - width + 1, width)
        rows.append(view)
        users.append(np.full(len(view), u, np.int64))
    if not rows:
        empty = np.zeros((0, seq_len), np.int64)
        return Windows(np.zeros(0, np.int64), empty, np.zeros((0, n_targets), np.int64))
    block = np.concatenate(rows)
    return Windows(np.concatenate(users), np.ascontiguousarray(block[:, :seq_len]),
                   np.ascontiguousarray(block[:, seq_len:]))
