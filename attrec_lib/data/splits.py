"""Evaluation splits beyond the paper's leave-last-out, and which targets repeat history.

The study's headline split (:func:`attrec_lib.data.sequences.split_leave_last_out`) holds out
each user's latest item as the test target and the one before it as the validation target, on
that user's own timeline, and evaluation excludes the user's history except the target. Two
things follow that the paper does not discuss, and this module makes both measurable:

* **Repeat targets.** Where a user consumes an item again (LastFM: the same artist tagged in
  another month), the target can be an item of the user's history. History exclusion then
  leaves the target as the only history item still rankable, so a model that scores a user's
  own items high finds it. :func:`target_repeats` flags those targets. ``"first_occurrence"``
  removes the shortcut: each user's sequence keeps every item at its first occurrence only
  (the exploration setting of Li et al., "Repetition and Exploration in Sequential
  Recommendation", SIGIR 2023, who evaluate repeat and novel targets apart and study
  exploration with repeats removed). Every target is then new to its user, training windows
  no longer teach re-consumption, and masking the history is the same as the authors'
  released code's masking of every training item. Leaving repeat targets out of evaluation
  instead would keep training as it is; that view is already in the cached per-user ranks
  (``attrec_lib.analysis.repeats``), so the rerun adds the other one.
* **One global timeline.** Leave-last-out cuts each user at their own last moment, so models
  train on other users' interactions after that moment (Ji, Sun, Zhang, Li, "A Critical Study
  on Data Leakage in Recommender System Offline Evaluation", TOIS 2023). ``"global_time:<q>"``
  cuts every user at one time: the ``q`` quantile of all interaction timestamps of the data
  set (numpy's ``"higher"`` method, so the cut is a timestamp of the data). Training holds
  every interaction strictly before the cut; of the interactions at or after it, a user's
  first is the validation target and their second the test target (the test input is the
  training items plus the validation item, as in leave-last-out). Evaluated are the users
  with at least one interaction before the cut and at least two from it on; everything else
  after the cut is never seen, neither in training nor as input.

Split names (the ``split`` field of a run spec): :data:`LEAVE_LAST_OUT` (the default),
:data:`FIRST_OCCURRENCE`, ``"global_time:<q>"`` with ``0 < q < 1`` (:func:`global_time_split_name`).
"""
from __future__ import annotations

import numpy as np

from . import preprocess
from .registry import get_spec
from .sequences import SequenceDataset, Split, split_leave_last_out

LEAVE_LAST_OUT = "leave_last_out"
FIRST_OCCURRENCE = "first_occurrence"
GLOBAL_TIME = "global_time"
# The cut of the study's global-timeline runs: the last 20 % of interactions lie after it (the
# issue's range is 10-20 %; at 20 % the most users are evaluated on both ML-100K and LastFM).
GLOBAL_TIME_QUANTILE = 0.8


def global_time_split_name(quantile: float = GLOBAL_TIME_QUANTILE) -> str:
    """The split name of a global-timeline cut at ``quantile``, e.g. ``"global_time:0.8"``."""
    return f"{GLOBAL_TIME}:{float(quantile):g}"


def parse_split(name: str) -> tuple:
    """``(kind, quantile or None)`` of a split name; an unknown or malformed name is one error."""
    if not isinstance(name, str):
        raise ValueError(f"split must be a string, got {name!r}")
    if name in (LEAVE_LAST_OUT, FIRST_OCCURRENCE):
        return name, None
    kind, sep, value = name.partition(":")
    if kind == GLOBAL_TIME and sep:
        try:
            q = float(value)
        except ValueError:
            q = float("nan")
        if 0.0 < q < 1.0:
            return GLOBAL_TIME, q
    raise ValueError(f"split must be {LEAVE_LAST_OUT!r}, {FIRST_OCCURRENCE!r} or "
                     f"'{GLOBAL_TIME}:<q>' with 0 < q < 1 (e.g. {global_time_split_name()!r}), got {name!r}")


def check_split(name: str) -> None:
    parse_split(name)


# --- repeat targets ------------------------------------------------------------------------------

def target_repeats(split: Split, stage: str) -> np.ndarray:
    """(len(split.eval_users(stage)),) bool: whether each evaluated user's target is an item of
    that user's history before it (``split.history(stage)``), in ``eval_users`` order."""
    history = split.history(stage)
    targets = split.eval_targets(stage)
    return np.array([bool(np.any(np.asarray(history[u]) == targets[u])) for u in split.eval_users(stage)],
                    dtype=bool)


def repeated_pairs(data: SequenceDataset) -> int:
    """How many interactions repeat a (user, item) pair seen earlier in that user's sequence."""
    return int(sum(len(s) - len(np.unique(s)) for s in data.sequences))


def first_occurrence(data: SequenceDataset) -> SequenceDataset:
    """Each user's sequence with every item kept at its first occurrence only (order kept)."""
    seqs = []
    for seq in data.sequences:
        seq = np.asarray(seq, dtype=np.int64)
        _, first = np.unique(seq, return_index=True)
        seqs.append(np.ascontiguousarray(seq[np.sort(first)]))
    return SequenceDataset(data.name, data.n_users, data.n_items, tuple(seqs))


# --- the global timeline -------------------------------------------------------------------------

def global_cut(timestamps, quantile: float = GLOBAL_TIME_QUANTILE) -> int:
    """The cut time: the ``quantile`` of every interaction's timestamp (a timestamp of the data)."""
    ts = np.concatenate([np.asarray(t, np.int64) for t in timestamps]) if len(timestamps) else np.zeros(0)
    if ts.size == 0:
        raise ValueError("global_cut: no timestamps")
    return int(np.quantile(ts, quantile, method="higher"))


def split_global_time(data: SequenceDataset, timestamps, cut: int) -> Split:
    """Train on every interaction before ``cut``; validation and test targets are each user's
    first and second interaction at or after it (see the module docstring for who is evaluated).
    ``timestamps[u]`` are user ``u``'s times, aligned with ``data.sequences[u]`` and non-decreasing."""
    if len(timestamps) != data.n_users:
        raise ValueError(f"{data.name}: {len(timestamps)} timestamp sequences for {data.n_users} users")
    train, valid, test = [], np.full(data.n_users, -1, np.int64), np.full(data.n_users, -1, np.int64)
    for u, (seq, ts) in enumerate(zip(data.sequences, timestamps)):
        seq, ts = np.asarray(seq, np.int64), np.asarray(ts, np.int64)
        if len(seq) != len(ts):
            raise ValueError(f"{data.name}: user {u} has {len(seq)} items but {len(ts)} timestamps")
        if np.any(np.diff(ts) < 0):
            raise ValueError(f"{data.name}: user {u}'s timestamps are not in chronological order")
        before = int(np.searchsorted(ts, cut, side="left"))  # items strictly before the cut
        train.append(np.ascontiguousarray(seq[:before]))
        if before >= 1 and len(seq) - before >= 2:
            valid[u], test[u] = seq[before], seq[before + 1]
    return Split(data.name, data.n_users, data.n_items, tuple(train), valid, test)


def sequence_timestamps(name: str, tie_rule: str = "stable") -> tuple:
    """Per user, the timestamp of each item of ``load_dataset(name, tie_rule)``'s sequences (the
    processed cache keeps no times, so they are rebuilt from the raw file the same way)."""
    spec = get_spec(name)
    if spec.is_generated:
        raise ValueError(f"{name}: a generated data set has no timestamps; the global-timeline split needs them")
    raw = preprocess.read_raw(name)
    kept = preprocess.filter_interactions(raw, spec.min_user_actions, spec.cold_start_items, spec.dedup_keys,
                                          name=name)
    ordered = preprocess.order_interactions(kept, tie_rule)
    proc = preprocess.to_sequences(ordered, name)
    ts = ordered["timestamp"].to_numpy(np.int64)
    bounds = np.cumsum([len(s) for s in proc.dataset.sequences])[:-1]
    return tuple(np.ascontiguousarray(t) for t in np.split(ts, bounds))


def make_split(data: SequenceDataset, split: str, hold_out_valid: bool = True, timestamps=None) -> Split:
    """The split named ``split`` of ``data`` (``timestamps``: needed by the global timeline)."""
    kind, quantile = parse_split(split)
    if kind == LEAVE_LAST_OUT:
        return split_leave_last_out(data, hold_out_valid=hold_out_valid)
    if not hold_out_valid:
        raise ValueError(f"split {split!r} holds out a validation item; it has no released-protocol form")
    if kind == FIRST_OCCURRENCE:
        return split_leave_last_out(first_occurrence(data), hold_out_valid=True)
    if timestamps is None:
        raise ValueError(f"split {split!r} needs the interactions' timestamps")
    return split_global_time(data, timestamps, global_cut(timestamps, quantile))


def future_training_share(data: SequenceDataset, timestamps) -> np.ndarray:
    """Per user with a leave-last-out test target: the share of the split's training
    interactions (every user's, validation item held out) that happen strictly after that
    user's test time: what a model trained on them has seen of the test moment's future."""
    train_times = np.sort(np.concatenate([np.asarray(t, np.int64)[:max(len(t) - 2, 0)] for t in timestamps]))
    test_times = np.array([t[-1] for t in timestamps if len(t) >= 2], np.int64)
    after = len(train_times) - np.searchsorted(train_times, test_times, side="right")
    return after / max(len(train_times), 1)


def global_time_summary(data: SequenceDataset, timestamps, quantile: float = GLOBAL_TIME_QUANTILE) -> dict:
    """Who the global-timeline split trains and evaluates, and the leave-last-out future share."""
    cut = global_cut(timestamps, quantile)
    split = split_global_time(data, timestamps, cut)
    all_ts = np.concatenate([np.asarray(t, np.int64) for t in timestamps])
    trained = sum(len(t) > 0 for t in split.train)
    return {"cut": cut, "after_cut_pct": 100.0 * float(np.mean(all_ts >= cut)), "users": data.n_users,
            "trained_users": int(trained), "train_interactions": int(sum(len(t) for t in split.train)),
            "evaluated_users": int(len(split.eval_users("test"))),
            "test_repeat_pct": 100.0 * float(np.mean(target_repeats(split, "test"))) if trained else np.nan,
            "llo_future_share_median_pct": 100.0 * float(np.median(future_training_share(data, timestamps)))}
