"""Tied timestamps: the tie statistics of Table 1 and the "shuffled:<seed>" tie rule.

Hand-made frames with the expected numbers worked out in the comments; the real ML-100K and
LastFM files (through ATTREC_DATA_MIRROR) only for cross-checks between two computations.
"""
import hashlib
import os

import numpy as np
import pandas as pd
import pytest

from attrec_lib.runs import runspec
from attrec_lib.settings import paths
from attrec_lib.data import load_dataset, preprocess, registry
from attrec_lib.data.preprocess import order_interactions, parse_tie_rule, shuffled_tie_rule
from attrec_lib.data.registry import DatasetSpec, RawFile
from attrec_lib.data.ties import tie_stats, tie_table, time_granularity

DAY = 86400


def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


# --- tie statistics --------------------------------------------------------------------------

ORDERED = frame([
    (1, "a", 100), (1, "b", 100), (1, "c", 200), (1, "d", 300), (1, "e", 300),  # pairs ab, de tied
    (2, "c", 50), (2, "a", 60),  # no tie
    (3, "z", 5),  # one row: no pair, no test pair
    (4, "b", 7), (4, "a", 7),  # tied, in descending id order
])


def test_tie_stats_by_hand():
    stats = tie_stats(ORDERED)
    # 6 consecutive pairs (4 + 1 + 0 + 1), 3 tied (ab, de, ba).
    assert stats["tied_pairs_pct"] == 50.0
    # Users with >= 2 rows: 1, 2, 4; the last pair is tied for 1 (de) and 4 (ba).
    assert stats["test_tied_pct"] == round(100 * 2 / 3, 2)
    # Of the tied pairs, ab and de ascend, ba descends.
    assert stats["tied_ascending_pct"] == round(100 * 2 / 3, 2)


def test_tie_stats_numeric_ids_compare_as_numbers():
    # 9 -> 10 ascends numerically (as strings "10" < "9" it would not).
    assert tie_stats(frame([(1, 9, 5), (1, 10, 5)]))["tied_ascending_pct"] == 100.0


def test_tie_stats_without_ties_or_pairs():
    assert tie_stats(frame([(1, "a", 1), (1, "b", 2)])) == {
        "tied_pairs_pct": 0.0, "test_tied_pct": 0.0, "tied_ascending_pct": None}
    assert tie_stats(frame([(1, "a", 1)]))["tied_pairs_pct"] is None


def test_tie_stats_refuses_unordered_input():
    with pytest.raises(ValueError, match="grouped by user and in time order"):
        tie_stats(frame([(1, "a", 1), (2, "b", 1), (1, "c", 2)]))
    with pytest.raises(ValueError, match="grouped by user and in time order"):
        tie_stats(frame([(1, "a", 2), (1, "b", 1)]))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['timestamp'\]"):
        tie_stats(pd.DataFrame({"user": [1], "item": [2]}))


def test_time_granularity_by_hand():
    # 1970-01-01, 02-01, 03-01: all month starts, one of three a year start.
    assert time_granularity([0, 31 * DAY, 59 * DAY]) == {
        "time_granularity": "month", "coarser_unit": "year", "on_coarser_pct": round(100 / 3, 2)}
    # Two midnights and one 01:00: hourly, two of three on a day.
    assert time_granularity([0, DAY, 2 * DAY + 3600]) == {
        "time_granularity": "hour", "coarser_unit": "day", "on_coarser_pct": round(200 / 3, 2)}
    # 1969-01-01 is a year start before the epoch (negative timestamp).
    assert time_granularity([-365 * DAY, 0])["time_granularity"] == "year"
    assert time_granularity([0, 1]) == {"time_granularity": "second", "coarser_unit": "minute",
                                        "on_coarser_pct": 50.0}
    with pytest.raises(ValueError, match="no timestamps"):
        time_granularity([])


def test_tie_table_leaves_absent_and_synthetic_rows_empty(monkeypatch):
    monkeypatch.setattr("attrec_lib.data.ties.download.is_available", lambda name: False)
    table = tie_table(["ml-100k", "synthetic-planted"])
    assert list(table["dataset"]) == ["ml-100k", "synthetic-planted"]
    assert table.drop(columns="dataset").isna().all().all()


# --- the shuffled tie rule -------------------------------------------------------------------

# User 1 has six rows at timestamp 9 (file order b c d f g h) and two at 5 (a, e); user 2 one row.
TIES = frame([(1, "a", 5), (1, "b", 9), (2, "x", 1), (1, "c", 9), (1, "d", 9), (1, "e", 5),
              (1, "f", 9), (1, "g", 9), (1, "h", 9)])


def blocks(ordered):
    """(user, timestamp) in sequence order, and the set of items of each (user, timestamp)."""
    keys = list(zip(ordered["user"], ordered["timestamp"]))
    return keys, ordered.groupby(["user", "timestamp"])["item"].apply(frozenset).to_dict()


@pytest.mark.parametrize("seed", range(20))
def test_shuffled_permutes_only_inside_tied_blocks(seed):
    stable = order_interactions(TIES, "stable")
    shuffled = order_interactions(TIES, shuffled_tie_rule(seed))
    assert blocks(shuffled) == blocks(stable)
    assert sorted(shuffled.index) == list(range(len(TIES)))  # every row once


def test_shuffled_is_deterministic_for_a_seed_and_differs_between_seeds():
    orders = [tuple(order_interactions(TIES, shuffled_tie_rule(s))["item"]) for s in range(10)]
    assert orders == [tuple(order_interactions(TIES, f"shuffled:{s}")["item"]) for s in range(10)]
    assert len(set(orders)) == 10  # 6! * 2 orders: ten seeds give ten different ones here


def test_shuffled_takes_the_file_order_away():
    # Stable always puts h (last in the file) last; shuffled makes each of the six the test item.
    assert order_interactions(TIES, "stable")["item"].iloc[-2] == "h"
    latest = {order_interactions(TIES, shuffled_tie_rule(s))["item"].iloc[-2] for s in range(200)}
    assert latest == {"b", "c", "d", "f", "g", "h"}


@pytest.mark.parametrize("bad", ["shuffled", "shuffled:", "shuffled:-1", "shuffled:01", "shuffled:x",
                                 "shuffle:1", "random", "shuffled:²"])
def test_bad_tie_rule_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"tie_rule must be one of .*shuffled:<seed>.*got " + repr(bad)):
        order_interactions(TIES, bad)
    with pytest.raises(ValueError, match="tie_rule"):
        runspec.make_spec("synthetic-planted", "pop", None, tie_rule=bad)


def test_parse_tie_rule():
    assert parse_tie_rule("stable") == ("stable", None)
    assert parse_tie_rule("released") == ("released", None)
    assert parse_tie_rule(shuffled_tie_rule(12)) == ("shuffled", 12)


def test_shuffled_runs_have_their_own_keys_and_stable_keys_are_unchanged():
    stable = runspec.make_spec("ml-100k", "attrec", "paper", seed=1)
    assert stable.tie_rule == "stable"
    assert set(stable.to_dict()) == {"dataset", "model", "model_config", "train_config", "protocol",
                                     "tie_rule", "seed"}  # no new field: old keys stay valid
    keys = {runspec.make_spec("ml-100k", "attrec", "paper", seed=1, tie_rule=rule).key
            for rule in ("stable", "released", "shuffled:0", "shuffled:1")}
    assert len(keys) == 4 and stable.key in keys


def test_shuffled_through_load_dataset_and_its_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RAW_DIR", tmp_path / "raw")
    monkeypatch.setattr(paths, "PROCESSED_DIR", tmp_path / "processed")
    (tmp_path / "mirror" / "toy").mkdir(parents=True)
    monkeypatch.setenv("ATTREC_DATA_MIRROR", str(tmp_path / "mirror"))
    # user 1: item 10 at 100, then 11, 12, 13, 14 all at 300 (file order).
    text = "".join(f"1\t{item}\t3\t{ts}\n" for item, ts in ((10, 100), (11, 300), (12, 300), (13, 300), (14, 300)))
    (tmp_path / "mirror" / "toy" / "u.data").write_text(text)
    spec = DatasetSpec(name="toy", paper_name="Toy", parser="ml100k",
                       files=(RawFile("u.data", "toy/u.data", "https://example.invalid/toy.zip",
                                      hashlib.sha256(text.encode()).hexdigest()),),
                       canonical_urls=(), license="none", preprocessing="none")
    monkeypatch.setitem(registry.REGISTRY, "toy", spec)
    assert load_dataset("toy").sequences[0].tolist() == [0, 1, 2, 3, 4]
    seqs = [load_dataset("toy", tie_rule=shuffled_tie_rule(s)).sequences[0].tolist() for s in range(6)]
    assert all(s[0] == 0 and sorted(s[1:]) == [1, 2, 3, 4] for s in seqs)
    assert len({tuple(s) for s in seqs}) > 1
    names = sorted(p.name.split("--")[1] for p in paths.PROCESSED_DIR.glob("toy--*.npz"))
    assert names == ["shuffled-0", "shuffled-1", "shuffled-2", "shuffled-3", "shuffled-4", "shuffled-5", "stable"]
    assert load_dataset("toy", tie_rule="shuffled:3").sequences[0].tolist() == seqs[3]  # from the cache


# --- the real files (need the mirror) ---------------------------------------------------------

needs_mirror = pytest.mark.skipif(not os.environ.get("ATTREC_DATA_MIRROR"), reason="ATTREC_DATA_MIRROR not set")


@needs_mirror
def test_ml100k_test_ties_agree_with_the_latest_tie_count():
    raw = preprocess.read_raw("ml-100k", download_missing=False)
    row = tie_table(["ml-100k"]).iloc[0]
    assert row["test_tied_pct"] == round(100 * preprocess.latest_tie_users(raw) / raw["user"].nunique(), 2)
    assert row["time_granularity"] == "second"


@needs_mirror
def test_shuffled_lastfm_keeps_every_users_items_and_months():
    stable = load_dataset("lastfm")
    shuffled = load_dataset("lastfm", tie_rule=shuffled_tie_rule(0))
    assert (shuffled.n_users, shuffled.n_items) == (stable.n_users, stable.n_items)
    assert all(sorted(a) == sorted(b) for a, b in zip(stable.sequences, shuffled.sequences))
    moved = np.mean([a[-1] != b[-1] for a, b in zip(stable.sequences, shuffled.sequences)])
    share_tied = tie_table(["lastfm"]).iloc[0]["test_tied_pct"] / 100
    assert 0 < moved <= share_tied  # only users whose test item is tied can get another one


def test_test_item_popularity_by_hand(monkeypatch):
    from attrec_lib.data import SequenceDataset, ties
    # Training items (all but the last two of each user): item 0 three times, item 1 twice, item 2
    # once. Test items: 0, 1, 2 and 0 again.
    data = SequenceDataset("hand", 4, 4, tuple(np.array(s) for s in ([0, 1, 3, 0], [0, 1, 3, 1], [0, 2, 3, 2], [3, 3, 0])))
    monkeypatch.setattr("attrec_lib.data.ties.load_dataset", lambda name, tie_rule="stable": data)
    row = ties.test_item_popularity("hand", ["stable"], top=1).iloc[0]
    # Train counts: item 0 -> 3, item 1 -> 2, item 2 -> 1, item 3 -> 1 (user 3's only training row).
    assert row["median train count of test item"] == np.median([3, 2, 1, 3])
    assert row["test item in top 1 (%)"] == 50.0  # items 0 and 0 of four test items


# --- the user_shuffled rule (Figure 3's null model, issue 27) --------------------------------

def test_user_shuffled_permutes_whole_user_sequences_across_timestamps():
    users = [tuple(order_interactions(TIES, f"user_shuffled:{s}")["user"]) for s in range(30)]
    assert set(users) == {tuple(order_interactions(TIES, "stable")["user"])}  # users stay grouped
    ones = {tuple(order_interactions(TIES, f"user_shuffled:{s}").query("user == 1")["item"]) for s in range(30)}
    assert all(sorted(o) == list("abcdefgh") for o in ones)
    # The timestamp no longer orders: a (time 5) is not always among the first two, unlike stable/shuffled.
    assert any(o.index("a") > 1 for o in ones) and len(ones) == 30
    assert order_interactions(TIES, "user_shuffled:3").equals(order_interactions(TIES, "user_shuffled:3"))
    assert parse_tie_rule("user_shuffled:3") == ("user_shuffled", 3)
    with pytest.raises(ValueError, match="user_shuffled:<seed>"):
        parse_tie_rule("user_shuffled:x")
