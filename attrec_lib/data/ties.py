"""How often timestamps tie, and how coarse they are: the tie columns of Table 1.

When two of a user's rows share a timestamp, their order in the sequence is not in the data: the
preprocessing keeps the raw file's order (``tie_rule="stable"``), and the file's order is
whatever its authors sorted by. On LastFM (dates, almost all on the 1st of a month; the file
sorted by user, then artist) that makes most of each sequence "the next artist id within the
month". These statistics say, per data set, how much of the sequence order is such a tie:

``tied_pairs_pct``
    of all consecutive pairs in the users' sequences, the share whose two timestamps are equal.
``test_tied_pct``
    of the users with at least two items, the share whose latest item (the test item) shares its
    timestamp with the item before it (the validation item). Equal to the share of users with
    several rows at their latest timestamp, whatever the tie rule.
``tied_ascending_pct``
    of the tied pairs, the share in ascending raw item id order (about 50 when the file order
    inside a tie carries no id order; 100 on LastFM).
``time_granularity``
    the coarsest unit every timestamp is a whole multiple of (second, minute, hour, day, month,
    year; UTC), with ``coarser_unit`` / ``on_coarser_pct``: the next coarser unit and the share
    of rows that fall on it (LastFM: every row is at midnight, 98 % on the 1st of a month).

The statistics of the ordered sequences are computed on the rows the models see (after the
registry's filtering); the granularity on the raw file's rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import download
from .preprocess import filter_interactions, load_dataset, order_interactions, read_raw
from .registry import SYNTHETIC, get_spec
from .sequences import split_leave_last_out
from .table1 import table1

UNITS = ("second", "minute", "hour", "day", "month", "year")
TIE_COLUMNS = ("tied_pairs_pct", "test_tied_pct", "tied_ascending_pct", "time_granularity",
               "coarser_unit", "on_coarser_pct")


def _on_unit(ts: np.ndarray) -> dict:
    """Per unit, a boolean per timestamp: does it fall exactly on the start of that unit (UTC)?"""
    ts = np.asarray(ts, np.int64)
    when = pd.to_datetime(ts, unit="s")
    midnight = ts % 86400 == 0  # numpy's % takes the divisor's sign: right for dates before 1970
    first_day = midnight & (when.day.to_numpy() == 1)
    return {"second": np.ones(len(ts), bool), "minute": ts % 60 == 0, "hour": ts % 3600 == 0,
            "day": midnight, "month": first_day, "year": first_day & (when.month.to_numpy() == 1)}


def time_granularity(ts) -> dict:
    """The coarsest unit all timestamps (unix s) are aligned to, and the share on the next one.

    Returns ``{"time_granularity": unit, "coarser_unit": unit or None, "on_coarser_pct": float or
    None}``. An empty input raises ``ValueError``.
    """
    ts = np.asarray(ts, np.int64)
    if ts.size == 0:
        raise ValueError("time_granularity: no timestamps")
    on = _on_unit(ts)
    finest = max(i for i, unit in enumerate(UNITS) if on[unit].all())
    if finest == len(UNITS) - 1:
        return {"time_granularity": UNITS[finest], "coarser_unit": None, "on_coarser_pct": None}
    coarser = UNITS[finest + 1]
    return {"time_granularity": UNITS[finest], "coarser_unit": coarser,
            "on_coarser_pct": round(100.0 * float(on[coarser].mean()), 2)}


def tie_stats(ordered: pd.DataFrame) -> dict:
    """Tie statistics of an ordered interaction table (see the module docstring).

    ``ordered`` has columns user, item, timestamp, with each user's rows together and in time
    order (what :func:`~attrec_lib.data.preprocess.order_interactions` returns). Raw item ids are
    compared in their sorted order (numeric ids numerically, string ids as strings).
    """
    missing = {"user", "item", "timestamp"} - set(ordered.columns)
    if missing:
        raise ValueError(f"tie_stats: missing column(s) {sorted(missing)}")
    users = pd.factorize(ordered["user"])[0]  # codes in order of first appearance
    items = pd.factorize(ordered["item"], sort=True)[0]
    ts = ordered["timestamp"].to_numpy(np.int64)
    same_user = users[1:] == users[:-1]  # pair (i, i+1) belongs to one user
    if np.any(users[1:] < users[:-1]) or np.any(same_user & (ts[1:] < ts[:-1])):
        raise ValueError("tie_stats: rows must be grouped by user and in time order within a user")
    tied = same_user & (ts[1:] == ts[:-1])
    last_rows = np.flatnonzero(np.append(~same_user, True))
    last_pairs = last_rows[last_rows > 0] - 1
    last_pairs = last_pairs[same_user[last_pairs]]  # (validation, test) pairs: users with >= 2 rows
    n_tied = int(tied.sum())
    return {"tied_pairs_pct": _pct(n_tied, int(same_user.sum())),
            "test_tied_pct": _pct(int(tied[last_pairs].sum()), len(last_pairs)),
            "tied_ascending_pct": _pct(int((tied & (items[1:] > items[:-1])).sum()), n_tied)}


def _pct(part: int, whole: int):
    return round(100.0 * part / whole, 2) if whole else None


def dataset_ties(name: str) -> dict:
    """The tie columns of one registry data set whose raw files are present."""
    spec = get_spec(name)
    raw = read_raw(name, download_missing=False)
    kept = filter_interactions(raw, spec.min_user_actions, spec.cold_start_items, spec.dedup_keys, name=name)
    return {**tie_stats(order_interactions(kept, "stable")), **time_granularity(raw["timestamp"])}


def tie_table(names) -> pd.DataFrame:
    """One row per data set: the tie columns, empty where the raw files are not present (or, for
    the synthetic set, where there are no timestamps)."""
    rows = []
    for name in names:
        present = name != SYNTHETIC and download.is_available(name)
        rows.append({"dataset": name, **(dataset_ties(name) if present else dict.fromkeys(TIE_COLUMNS))})
    return pd.DataFrame(rows, columns=["dataset", *TIE_COLUMNS])


def table1_with_ties(names=None) -> pd.DataFrame:
    """Table 1 (:func:`~attrec_lib.data.table1.table1`) with the tie columns appended."""
    table = table1(names)
    return table.merge(tie_table(list(table["dataset"])), on="dataset", how="left", validate="one_to_one")


def test_item_popularity(name: str, tie_rules, top: int = 50) -> pd.DataFrame:
    """How popular the test items are under each tie rule: one row per rule with the median
    number of training interactions of the users' test items and the share of test items among
    the ``top`` most frequent training items (about what Pop's HR@50 would be without history
    exclusion). A rule that picks the test item inside a tie by file order can pick systematically
    rarer (or commoner) items than a random pick; this shows it without training anything."""
    rows = []
    for rule in tie_rules:
        split = split_leave_last_out(load_dataset(name, tie_rule=rule))
        counts = np.bincount(np.concatenate(split.train), minlength=split.n_items)
        popular = np.argsort(-counts, kind="stable")[:top]
        test = split.test[split.test >= 0]
        rows.append({"dataset": name, "tie_rule": rule, "median train count of test item": float(np.median(counts[test])),
                     f"test item in top {top} (%)": round(100.0 * float(np.isin(test, popular).mean()), 2)})
    return pd.DataFrame(rows)
