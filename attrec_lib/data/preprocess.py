"""From raw interactions to chronological per-user sequences, with a processed-file cache.

The steps (each a function, tested alone):

1. :func:`filter_interactions`: drop duplicate rows (only where the registry says what a
   duplicate is), keep users with at least ``min_user_actions`` rows, drop cold-start items.
   Explicit ratings are already implicit here: the parsers return every rated pair as one row.
2. :func:`order_interactions`: sort each user's rows by timestamp with a *stable* sort, so rows
   with equal timestamps keep their raw file order, then apply the tie rule for the last item.
3. :func:`to_sequences`: reindex users and items to 0..M-1 / 0..N-1 (in sorted raw-id order,
   so the numbering does not depend on file order) and cut the table into sequences.

Tie rules (which order rows sharing a user and a timestamp get; the first two differ only in
the latest item, the test item of the leave-last-out split):

``"stable"``
    the latest item is the last row in raw file order among the rows sharing the user's latest
    timestamp (what a stable sort gives).
``"released"``
    the authors' released split: the test item is the *first* row in raw file order among those
    rows; it is moved to the end, the others keep their stable order. On ML-100K 415 of 943
    users tie on their latest timestamp, so the two rules give different test items for them.
``"shuffled:<seed>"`` (e.g. ``"shuffled:0"``)
    takes the file order away inside *every* tie, not only the latest one: the rows of each
    block sharing (user, timestamp) are put in a random order drawn from ``seed``. A stable
    order inherits whatever the file was sorted by (LastFM: artist id within a month), which a
    sequential model can learn and is then scored on; this rule measures how much of a result
    is that artefact. The seed is part of the rule's name, so it is part of every run spec.
``"user_shuffled:<seed>"`` (e.g. ``"user_shuffled:0"``)
    a null model, not a reading of the data: every user's whole sequence in a random order drawn
    from ``seed`` (timestamps ignored), so nothing sequential is left to learn; the test item is
    a random item of the user. Figure 3's null model trains AttRec on it (issue 27).

:func:`load_dataset` caches the result under ``data/processed/`` in a file keyed by the raw
files' sha256 and the sha256 of this module's, the parsers' and the registry entry's source, so
a change of either rebuilds it. Files are written to a temporary name then renamed
(``os.replace`` is atomic on POSIX), so a half-written cache file is never read. Each file
records the data set, the tie rule and the cache key it holds; a file whose record differs (another
data set's or rule's file under this name) or that does not read is rebuilt, with a warning naming it.

A raw file the registry has no sha256 for (accepted unverified) is checked for what a damaged or
doctored file shows (:func:`check_unverified`): a timestamp before 1970 or in the future is an
error, and so are exact duplicate rows beyond :data:`MAX_DUPLICATE_SHARE` of the file; fewer
duplicates are a counted warning.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..settings import paths
from ..settings.atomic import replace_atomically
from . import download, parsers
from .registry import DatasetSpec, get_spec
from .sequences import SequenceDataset

SHUFFLED = "shuffled"  # the seeded rule, spelled "shuffled:<seed>"; the fixed rules are TIE_RULES (below)
USER_SHUFFLED = "user_shuffled"  # the null model's rule, "user_shuffled:<seed>": each user's sequence shuffled
SEEDED_RULES = (SHUFFLED, USER_SHUFFLED)


class EmptyDatasetError(ValueError):
    """Nothing is left after filtering."""


class ProcessedFileMismatch(ValueError):
    """A processed file holds another data set, tie rule or cache key than its name says."""


class ImplausibleRawFileError(ValueError):
    """An unverified raw file holds impossible timestamps or mostly duplicated rows."""


MAX_DUPLICATE_SHARE = 0.01  # exact duplicate rows allowed (with a warning) in an unverified raw file
FUTURE_SLACK_SECONDS = 86400  # a day of clock difference


def check_unverified(df: pd.DataFrame, path) -> None:
    """Refuse a parsed raw file (no registry checksum) with a timestamp before 1970 or in the
    future, or with more than :data:`MAX_DUPLICATE_SHARE` exact duplicate rows; warn, counting
    them, about fewer duplicates."""
    ts = df["timestamp"].to_numpy(np.int64)
    bad = (ts < 0) | (ts > time.time() + FUTURE_SLACK_SECONDS)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ImplausibleRawFileError(
            f"raw file {path}: {int(bad.sum())} of {len(ts)} rows have an impossible timestamp (before 1970 or in "
            f"the future; the first is row {first + 1} with {int(ts[first])}); the file is damaged or not the "
            f"data set's (it has no registry checksum to compare with)")
    dup = int(df.duplicated().sum())
    if dup > MAX_DUPLICATE_SHARE * len(df):
        raise ImplausibleRawFileError(
            f"raw file {path}: {dup} of {len(df)} rows are exact duplicates of an earlier row (more than "
            f"{MAX_DUPLICATE_SHARE:.0%}); the file is damaged or concatenated (it has no registry checksum to "
            f"compare with)")
    if dup:
        warnings.warn(f"raw file {Path(path).name}: {dup} of {len(df)} rows are exact duplicates of an earlier row",
                      stacklevel=2)


def shuffled_tie_rule(seed: int) -> str:
    """The name of the tie rule that orders each tied block at random, drawn from ``seed``."""
    return f"{SHUFFLED}:{int(seed)}"


def parse_tie_rule(tie_rule: str) -> tuple:
    """``(name, seed)``: ``("stable", None)``, ``("released", None)``, ``("shuffled", 3)`` or
    ``("user_shuffled", 3)``."""
    if tie_rule in TIE_RULES:
        return tie_rule, None
    name, sep, seed = str(tie_rule).partition(":")
    # One spelling per seed ("shuffled:1", never "shuffled:01"), so one run has one spec key.
    if name in SEEDED_RULES and sep and seed.isascii() and seed.isdigit() and seed == str(int(seed)):
        return name, int(seed)
    raise ValueError(f"tie_rule must be one of {tuple(TIE_RULES)}, '{SHUFFLED}:<seed>' or '{USER_SHUFFLED}:<seed>' with a "
                     f"non-negative integer seed, got {tie_rule!r}")


def check_tie_rule(tie_rule: str) -> None:
    parse_tie_rule(tie_rule)


# --- 1. filtering --------------------------------------------------------------------------

def filter_interactions(df: pd.DataFrame, min_user_actions: int = 0, cold_start_items: str = "none",
                        dedup_keys=(), name: str = "data") -> pd.DataFrame:
    """Deduplicate, drop light users, drop cold-start items (in this order, one pass).

    ``cold_start_items``: ``"none"`` (an item survives if any kept user has it),
    ``"min-count:N"`` (drop items with fewer than N interactions after the user filter), or
    ``"test-only"`` (drop items that occur only as some user's latest row under the stable rule,
    i.e. items a model could never have seen in training).
    Returned rows keep raw file order; the index is reset. Raises :class:`EmptyDatasetError`.
    """
    out = df.reset_index(drop=True)
    if dedup_keys:
        out = out.drop_duplicates(list(dedup_keys), keep="first")  # keep the earliest raw row
    if min_user_actions > 0:
        counts = out.groupby("user", sort=False)["item"].transform("size")
        out = out[counts.to_numpy() >= min_user_actions]
    if cold_start_items == "none":
        pass
    elif cold_start_items.startswith("min-count:"):
        n = int(cold_start_items.split(":", 1)[1])
        counts = out.groupby("item", sort=False)["user"].transform("size")
        out = out[counts.to_numpy() >= n]
    elif cold_start_items == "test-only":
        last = np.zeros(len(out), bool)
        if len(out):
            ordered = order_interactions(out.reset_index(drop=True), "stable")
            is_last = ordered["user"].ne(ordered["user"].shift(-1)).to_numpy()
            last[ordered.index.to_numpy()[is_last]] = True
        seen_in_training = set(out["item"].to_numpy()[~last])
        out = out[out["item"].isin(seen_in_training).to_numpy()]
    else:
        raise ValueError(f"unknown cold_start_items rule {cold_start_items!r}")
    if out.empty:
        raise EmptyDatasetError(
            f"{name}: no interactions left after filtering (min_user_actions={min_user_actions}, "
            f"cold_start_items={cold_start_items!r}, dedup_keys={tuple(dedup_keys)})")
    return out.reset_index(drop=True)


# --- 2. chronological order ----------------------------------------------------------------

def order_interactions(df: pd.DataFrame, tie_rule: str = "stable") -> pd.DataFrame:
    """Rows grouped by user, each user's rows in time order; see the module docstring for ties.

    ``df`` must be in raw file order (its positional order is the tie-breaker).
    """
    rule, seed = parse_tie_rule(tie_rule)
    raw_pos = np.arange(len(df))
    users = _codes(df["user"])
    ts = df["timestamp"].to_numpy(np.int64)
    # lexsort: last key is primary. Raw position as the final key makes the sort stable; for
    # "shuffled" a random key per row decides first inside each (user, timestamp) block.
    keys = (raw_pos, ts, users)
    if rule == SHUFFLED:
        keys = (raw_pos, np.random.default_rng(seed).random(len(df)), ts, users)
    elif rule == USER_SHUFFLED:  # the timestamp leaves the sort: a random order inside each user
        keys = (raw_pos, np.random.default_rng(seed).random(len(df)), users)
    order = np.lexsort(keys)
    if rule in SEEDED_RULES:
        return df.iloc[order]
    return df.iloc[TIE_RULES[rule](order, users[order], ts[order])]


def _stable_last(order: np.ndarray, users: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """The stable sort already puts the last raw row of the latest-timestamp block last."""
    return order


def _released_last(order: np.ndarray, users: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Move, per user, the first (raw-order) row of the latest-timestamp block to the end."""
    order = order.copy()
    ends = np.flatnonzero(np.append(users[1:] != users[:-1], True)) + 1  # exclusive user ends
    starts = np.concatenate(([0], ends[:-1]))
    for start, end in zip(starts, ends):
        block = start + int(np.searchsorted(ts[start:end], ts[end - 1], side="left"))
        if end - block > 1:  # a tie on the latest timestamp
            order[block:end] = np.roll(order[block:end], -1)
    return order


# Tie rule name -> f(stable order, users in that order, timestamps in that order) -> final order.
# A new rule is one function with that signature and one line here; RunSpec.tie_rule names it.
TIE_RULES = {"stable": _stable_last, "released": _released_last}


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes in sorted order of the raw ids (numeric or string)."""
    return pd.factorize(values, sort=True)[0].astype(np.int64)


def latest_tie_users(df: pd.DataFrame) -> int:
    """How many users have more than one row at their latest timestamp."""
    latest = df.groupby("user")["timestamp"].transform("max")
    at_latest = df[df["timestamp"].to_numpy() == latest.to_numpy()]
    return int((at_latest.groupby("user").size() > 1).sum())


# --- 3. sequences --------------------------------------------------------------------------

@dataclass(frozen=True)
class Processed:
    """A processed data set: the sequences plus what Table 1 needs."""

    dataset: SequenceDataset
    user_ids: np.ndarray  # raw id of each reindexed user (as str)
    item_ids: np.ndarray  # raw id of each reindexed item (as str)
    t_min: int  # earliest timestamp kept (unix s)
    t_max: int


def to_sequences(ordered: pd.DataFrame, name: str) -> Processed:
    """Reindex an ordered table (from :func:`order_interactions`) and cut it per user."""
    user_codes, user_ids = pd.factorize(ordered["user"], sort=True)
    item_codes, item_ids = pd.factorize(ordered["item"], sort=True)
    # Rows are grouped by user in sorted raw-id order, so user codes are non-decreasing.
    bounds = np.flatnonzero(np.diff(user_codes)) + 1
    sequences = tuple(np.ascontiguousarray(s, dtype=np.int64)
                      for s in np.split(item_codes.astype(np.int64), bounds))
    ts = ordered["timestamp"].to_numpy(np.int64)
    data = SequenceDataset(name, len(user_ids), len(item_ids), sequences)
    return Processed(data, np.asarray(user_ids).astype(str), np.asarray(item_ids).astype(str),
                     int(ts.min()), int(ts.max()))


def process_frame(df: pd.DataFrame, spec: DatasetSpec, tie_rule: str = "stable") -> Processed:
    """Steps 1-3 on a parsed raw table."""
    kept = filter_interactions(df, spec.min_user_actions, spec.cold_start_items, spec.dedup_keys,
                               name=spec.name)
    return to_sequences(order_interactions(kept, tie_rule), spec.name)


def read_raw(name: str, download_missing: bool = True) -> pd.DataFrame:
    """The parsed raw interactions (raw file order) of a registry data set."""
    spec = get_spec(name)
    (_, path, _), *_ = download.fetch(name, download=download_missing)
    return parsers.parse(spec.parser, path)


# --- cache ---------------------------------------------------------------------------------

def cache_key(spec: DatasetSpec, raw_sha256s, tie_rule: str) -> str:
    """Hash of the raw files' digests, the code that turns them into sequences, and the spec."""
    code = "".join(inspect.getsource(m) for m in (parsers, _this_module()))
    blob = json.dumps({"raw": list(raw_sha256s), "spec": repr(spec), "tie_rule": tie_rule,
                       "code": hashlib.sha256(code.encode()).hexdigest()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _this_module():
    import sys
    return sys.modules[__name__]


def _cache_path(name: str, tie_rule: str, key: str) -> Path:
    rule = tie_rule.replace(":", "-")  # "shuffled:3" -> "shuffled-3": no colon in file names
    return paths.PROCESSED_DIR / f"{name}--{rule}--{key}.npz"


def _save(path: Path, proc: Processed, tie_rule: str = "stable", key: str = "") -> None:
    lengths = np.array([len(s) for s in proc.dataset.sequences], np.int64)
    replace_atomically(path, lambda fh: np.savez(
        fh, items=np.concatenate(proc.dataset.sequences), lengths=lengths, n_items=proc.dataset.n_items,
        user_ids=proc.user_ids, item_ids=proc.item_ids, t_range=np.array([proc.t_min, proc.t_max], np.int64),
        holds=np.array([proc.dataset.name, tie_rule, key])))
    # Older cache files of the same data set and rule are stale by construction.
    for old in path.parent.glob(f"{path.name.rsplit('--', 1)[0]}--*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def _load(path: Path, name: str, tie_rule: str | None = None, key: str | None = None) -> Processed:
    with np.load(path, allow_pickle=False) as z:
        if tie_rule is not None:
            holds = tuple(str(v) for v in z["holds"]) if "holds" in z.files else None
            if holds != (name, tie_rule, key):
                raise ProcessedFileMismatch(f"it holds {holds or 'no record of its data set'}, not "
                                            f"{(name, tie_rule, key)}")
        bounds = np.cumsum(z["lengths"])[:-1]
        seqs = tuple(np.ascontiguousarray(s) for s in np.split(z["items"], bounds))
        data = SequenceDataset(name, len(z["lengths"]), int(z["n_items"]), seqs)
        t_min, t_max = (int(v) for v in z["t_range"])
        return Processed(data, z["user_ids"], z["item_ids"], t_min, t_max)


def load_processed(name: str, tie_rule: str = "stable", download_missing: bool = True) -> Processed:
    """The processed data set with its raw ids and time range, from the cache when valid."""
    check_tie_rule(tie_rule)
    spec = get_spec(name)
    if spec.is_generated:  # no raw ids or times: users and items are their indices
        data = spec.generate()
        return Processed(data, np.arange(data.n_users).astype(str), np.arange(data.n_items).astype(str), 0, 0)
    found = download.fetch(name, download=download_missing)
    key = cache_key(spec, [digest for _, _, digest in found], tie_rule)
    path = _cache_path(name, tie_rule, key)
    if path.is_file():
        try:
            return _load(path, name, tie_rule, key)
        except Exception as exc:  # truncated, emptied or bit-flipped: BadZipFile, EOFError, zlib.error, ...
            what = "is another data set's or rule's" if isinstance(exc, ProcessedFileMismatch) else "is damaged"
            warnings.warn(f"processed data file {path} {what} ({type(exc).__name__}: {exc}); "
                          f"rebuilding it from the raw file", stacklevel=2)
    raw, raw_path, _ = found[0]
    df = parsers.parse(spec.parser, raw_path)
    if raw.sha256 is None:
        check_unverified(df, raw_path)
    proc = process_frame(df, spec, tie_rule)
    _save(path, proc, tie_rule, key)
    return proc


def load_dataset(name: str, tie_rule: str = "stable") -> SequenceDataset:
    """Processed, reindexed, chronological per-user sequences of a data set.

    ``name`` is a registry name (see :func:`dataset_names`), or a generated set such as
    ``"synthetic-planted"``. Raw files come from ``data/raw``, ``ATTREC_DATA_MIRROR`` or the
    network, checksum-verified.
    """
    return load_processed(name, tie_rule).dataset
