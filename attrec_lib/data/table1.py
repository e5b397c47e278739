"""Table 1 of the paper (statistics of the data sets): the paper's numbers and ours side by side.

Every registry data set gets a row, available or not: an unavailable one says so and how to get
it instead of being dropped. Stand-ins are compared with nothing: their row names the data set
they stand in for, and the paper columns stay empty so no number of ours is ever shown under the
paper's name.
"""
from __future__ import annotations

import pandas as pd

from . import download
from .preprocess import filter_interactions, load_processed, read_raw
from .registry import Table1Row, dataset_names, get_spec

STAT_COLUMNS = Table1Row._fields  # the paper's Table 1 rows live in the registry (DatasetSpec.paper_table1)


def _month(ts: int) -> str:
    return pd.Timestamp(ts, unit="s").strftime("%b/%Y")


def stats(n_users: int, n_items: int, n_interactions: int, t_min: int, t_max: int) -> dict:
    """Table 1's columns for one data set (density = interactions / (users * items))."""
    return {"users": n_users, "items": n_items, "interactions": n_interactions,
            "density_pct": round(100.0 * n_interactions / (n_users * n_items), 3),
            "actions_per_user": round(n_interactions / n_users, 2),
            "time_interval": f"{_month(t_min)} - {_month(t_max)}"}


def frame_stats(df: pd.DataFrame) -> dict:
    """Table 1's columns for an interaction table (user, item, timestamp)."""
    return stats(df["user"].nunique(), df["item"].nunique(), len(df),
                 int(df["timestamp"].min()), int(df["timestamp"].max()))


def table1(names=None, tie_rule: str = "stable") -> pd.DataFrame:
    """One row per data set: ours, the paper's, the differences and a status."""
    rows = []
    for name in names or dataset_names():
        spec = get_spec(name)
        row = {"dataset": name, "paper_name": spec.paper_name or f"(stand-in for {spec.stand_in_for})"}
        ours = {c: None for c in STAT_COLUMNS}
        if download.is_available(name):
            proc = load_processed(name, tie_rule, download_missing=False)
            d = proc.dataset
            ours = stats(d.n_users, d.n_items, d.n_interactions, proc.t_min, proc.t_max)
        row.update(ours)
        paper = spec.paper_table1
        for col, value in zip(STAT_COLUMNS, paper or (None,) * len(STAT_COLUMNS)):
            row[f"paper_{col}"] = value
        for col in ("users", "items", "interactions"):
            both = ours[col] is not None and paper is not None
            row[f"diff_{col}"] = ours[col] - row[f"paper_{col}"] if both else None
        row["status"] = _status(spec, ours, row)
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in ("users", "items", "interactions", "paper_users", "paper_items", "paper_interactions",
                "diff_users", "diff_items", "diff_interactions"):
        out[col] = out[col].astype("Int64")
    return out


def _status(spec, ours: dict, row: dict) -> str:
    if ours["users"] is None:
        return f"not available offline: {download.how_to_get(spec)}"
    if spec.is_stand_in:
        return f"stand-in for {spec.stand_in_for}, NOT the paper's data"
    if all(row[f"diff_{c}"] == 0 for c in ("users", "items", "interactions")):
        return "matches the paper"
    return "differs from the paper (see docs/DATASETS.md)"


def lastfm_variants() -> pd.DataFrame:
    """LastFM counts under each reading of duplicates and cold-start items (ours is marked).

    The raw file has one row per tag assignment; the paper's counts (951/12,113/83,382) match
    none of these readings exactly.
    """
    raw = read_raw("lastfm", download_missing=False)
    date = ("user", "item", "timestamp")
    variants = [
        ("raw rows (no filter)", lambda: raw),
        ("dedup (user, artist, date), then users >= 10  [ours]",
         lambda: filter_interactions(raw, 10, "none", date)),
        ("users >= 10 raw rows, then dedup (user, artist, date)",
         lambda: filter_interactions(filter_interactions(raw, 10), 0, "none", date)),
        ("dedup (user, artist), then users >= 10", lambda: filter_interactions(raw, 10, "none", ("user", "item"))),
        ("no dedup, users >= 10", lambda: filter_interactions(raw, 10)),
    ]
    for rule in ("min-count:2", "min-count:5", "test-only"):
        variants.append((f"ours + cold-start items '{rule}' removed",
                         lambda rule=rule: filter_interactions(raw, 10, rule, date)))
    rows = [{"variant": label, **frame_stats(make())} for label, make in variants]
    paper = get_spec("lastfm").paper_table1._asdict()
    rows.append({"variant": "paper (Table 1)", **paper})
    out = pd.DataFrame(rows)
    for col in ("users", "items", "interactions"):
        out[f"diff_{col}"] = out[col] - paper[col]
    return out
