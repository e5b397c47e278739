"""Registry, fetch, checksums, filtering, tie rules, cache and Table 1.

Tests that build a data set use a throw-away registry entry ("toy") and point data/raw,
data/processed and ATTREC_DATA_MIRROR at tmp_path, so they never touch the repo's data/.
Tests on the real ML-100K need ATTREC_DATA_MIRROR (CI sets it) and are skipped otherwise.
"""
import dataclasses
import hashlib
import io
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attrec_lib.settings import paths
from attrec_lib.data import (ChecksumError, EmptyDatasetError, RawFileMissingError, dataset_names, get_spec, is_available, load_dataset, make_windows, split_leave_last_out, table1)
from attrec_lib.data import preprocess, registry
from attrec_lib.data.preprocess import filter_interactions, order_interactions, to_sequences
from attrec_lib.data.registry import DatasetSpec, RawFile

TOY = ("1\t10\t5\t100\n"
       "1\t11\t3\t300\n"
       "2\t10\t4\t200\n"
       "1\t12\t4\t300\n"
       "2\t12\t1\t50\n"
       "1\t13\t2\t200\n")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Empty raw/processed folders and mirror under tmp_path; returns a helper to add 'toy'."""
    monkeypatch.setattr(paths, "RAW_DIR", tmp_path / "raw")
    monkeypatch.setattr(paths, "PROCESSED_DIR", tmp_path / "processed")
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    monkeypatch.setenv("ATTREC_DATA_MIRROR", str(mirror))

    def add_toy(text=TOY, sha256="same", **spec_changes):
        (mirror / "toy" / "u.data").write_text(text)
        digest = sha(text) if sha256 == "same" else sha256
        spec = DatasetSpec(name="toy", paper_name="Toy", parser="ml100k",
                           files=(RawFile("u.data", "toy/u.data", "https://example.invalid/toy.zip",
                                          digest, archive_member="toy/u.data"),),
                           canonical_urls=("https://example.invalid/toy.zip",), license="none",
                           preprocessing="none")
        spec = dataclasses.replace(spec, **spec_changes)
        monkeypatch.setitem(registry.REGISTRY, "toy", spec)
        return mirror / "toy" / "u.data"

    return add_toy


# --- filtering and ordering against literal outputs ------------------------------------------

def frame(rows):
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def test_filter_literal():
    df = frame([(1, "a", 1), (1, "a", 1), (1, "b", 2), (2, "a", 1), (1, "c", 3), (3, "c", 9), (3, "d", 9)])
    out = filter_interactions(df, min_user_actions=3, dedup_keys=("user", "item", "timestamp"))
    assert list(out.itertuples(index=False, name=None)) == [(1, "a", 1), (1, "b", 2), (1, "c", 3)]
    # Without dedup user 1 has 4 rows; min-count:2 then drops the items seen once.
    out = filter_interactions(df, min_user_actions=2, cold_start_items="min-count:2")
    assert list(out.itertuples(index=False, name=None)) == [(1, "a", 1), (1, "a", 1), (1, "c", 3), (3, "c", 9)]
    # test-only: "d" is only ever user 3's latest row (stable rule), so it goes.
    out = filter_interactions(df, min_user_actions=2, cold_start_items="test-only")
    assert "d" not in set(out["item"]) and "c" in set(out["item"])


def test_empty_after_filtering_is_a_clear_error():
    with pytest.raises(EmptyDatasetError, match=r"toy: no interactions left.*min_user_actions=10"):
        filter_interactions(frame([(1, "a", 1)]), min_user_actions=10, name="toy")


def test_tie_rules_literal():
    # User 1's latest timestamp 9 is shared by b, c, d (raw order b, c, d).
    df = frame([(1, "a", 5), (1, "b", 9), (2, "x", 1), (1, "c", 9), (1, "d", 9), (1, "e", 1)])
    stable = order_interactions(df, "stable")
    assert list(stable["item"]) == ["e", "a", "b", "c", "d", "x"]  # latest = last row in file order
    released = order_interactions(df, "released")
    assert list(released["item"]) == ["e", "a", "c", "d", "b", "x"]  # latest = first row among ties
    with pytest.raises(ValueError, match="tie_rule"):
        order_interactions(df, "newest")


def test_to_sequences_reindexes_in_sorted_raw_id_order():
    proc = to_sequences(order_interactions(frame([(7, "z", 2), (3, "y", 1), (7, "y", 1)])), "t")
    assert (proc.dataset.n_users, proc.dataset.n_items) == (2, 2)
    assert [s.tolist() for s in proc.dataset.sequences] == [[0], [0, 1]]  # users 3, 7; items y, z
    assert list(proc.user_ids) == ["3", "7"] and list(proc.item_ids) == ["y", "z"]
    assert (proc.t_min, proc.t_max) == (1, 2)


# --- names, availability, fetch errors -------------------------------------------------------

def test_registry_names():
    names = dataset_names()
    assert names[:12] == ["ml-100k", "ml-hetrec", "ml-1m", "amazon-apps-for-android",
                          "amazon-health-personal-care", "amazon-video-games",
                          "amazon-tools-home-improvement", "amazon-digital-music",
                          "amazon-patio-lawn-garden", "amazon-instant-video", "lastfm", "movietweetings"]
    assert names[12:] == ["ml-1m-first2999", "movietweetings-snapshot-100k"]
    assert all(get_spec(n).is_stand_in and get_spec(n).paper_name == "" for n in names[12:])


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown data set 'ml-10m'.*ml-100k.*movietweetings.*synthetic-planted"):
        load_dataset("ml-10m")
    with pytest.raises(ValueError, match="known data sets"):
        is_available("nope")


def test_synthetic_planted_needs_no_data():
    d = load_dataset("synthetic-planted")
    assert d.name == "synthetic-planted" and d.n_users == 200
    assert is_available("synthetic-planted")


def test_missing_file_says_where_to_get_it(sandbox):
    sandbox()
    os.remove(Path(os.environ["ATTREC_DATA_MIRROR"]) / "toy" / "u.data")
    assert not is_available("toy")
    with pytest.raises(RawFileMissingError) as err:
        preprocess.load_processed("toy", download_missing=False)
    assert "https://example.invalid/toy.zip" in str(err.value) and "ATTREC_DATA_MIRROR" in str(err.value)


def test_failed_download_says_where_to_get_it(sandbox, monkeypatch):
    import pooch
    sandbox()
    os.remove(Path(os.environ["ATTREC_DATA_MIRROR"]) / "toy" / "u.data")

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(RawFileMissingError, match=r"download failed.*no network.*ATTREC_DATA_MIRROR"):
        load_dataset("toy")


def test_download_extracts_the_zip_member(sandbox, monkeypatch):
    import pooch
    sandbox()
    os.remove(Path(os.environ["ATTREC_DATA_MIRROR"]) / "toy" / "u.data")

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("toy/u.data", TOY)
        Path(path, fname).write_bytes(buf.getvalue())
        return str(Path(path, fname))

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    data = load_dataset("toy")
    assert (data.n_users, data.n_items, data.n_interactions) == (2, 4, 6)
    assert (paths.RAW_DIR / "toy" / "u.data").read_text() == TOY
    assert is_available("toy")


def test_checksum_mismatch_is_refused(sandbox):
    path = sandbox(sha256="0" * 64)
    with pytest.raises(ChecksumError) as err:
        load_dataset("toy")
    msg = str(err.value)
    assert "expected sha256 " + "0" * 64 in msg and "actual sha256 " + sha(TOY) in msg and str(path) in msg


def test_unknown_checksum_warns_naming_the_file(sandbox):
    sandbox(sha256=None)
    with pytest.warns(UserWarning, match="no known sha256 for raw file 'u.data'"):
        load_dataset("toy")


# --- the processed cache ---------------------------------------------------------------------

def test_toy_sequences_and_cache_reuse(sandbox, monkeypatch):
    sandbox()
    data = load_dataset("toy")
    # user 1: 10@100, 13@200, then 11 and 12 tie at 300 (raw order 11, 12); user 2: 12@50, 10@200
    assert [s.tolist() for s in data.sequences] == [[0, 3, 1, 2], [2, 0]]
    assert [s.tolist() for s in load_dataset("toy", tie_rule="released").sequences] == [[0, 3, 2, 1], [2, 0]]
    cached = sorted(p.name for p in paths.PROCESSED_DIR.iterdir())
    assert len(cached) == 2 and all(p.endswith(".npz") for p in cached)  # one per tie rule, no temp files

    def no_parsing(*a, **k):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(preprocess.parsers, "parse", no_parsing)
    assert [s.tolist() for s in load_dataset("toy").sequences] == [[0, 3, 1, 2], [2, 0]]


def test_cache_rebuilt_when_raw_file_changes(sandbox):
    raw = sandbox(sha256=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = load_dataset("toy")
        raw.write_text(TOY + "3\t10\t1\t400\n")
        second = load_dataset("toy")
    assert (first.n_users, second.n_users) == (2, 3)
    assert len(list(paths.PROCESSED_DIR.glob("toy--stable--*.npz"))) == 1  # the stale file is gone


def test_cache_key_changes_with_spec_and_rule():
    spec = get_spec("ml-100k")
    base = preprocess.cache_key(spec, ["x"], "stable")
    assert base != preprocess.cache_key(spec, ["y"], "stable")
    assert base != preprocess.cache_key(spec, ["x"], "released")
    assert base != preprocess.cache_key(dataclasses.replace(spec, min_user_actions=5), ["x"], "stable")


# --- Table 1 ---------------------------------------------------------------------------------

def test_table1_keeps_unavailable_rows(sandbox):
    t = table1()
    assert list(t["dataset"]) == dataset_names()
    assert t["status"].str.startswith("not available offline").all()
    assert t.loc[t["dataset"] == "ml-hetrec", "status"].item().count("hetrec2011-movielens-2k-v2.zip") == 1
    assert t.loc[t["dataset"] == "ml-100k", "paper_users"].item() == 943
    assert t.loc[t["dataset"] == "ml-1m-first2999", "paper_users"].isna().all()


# --- the real ML-100K (needs the mirror) ------------------------------------------------------

needs_mirror = pytest.mark.skipif(not os.environ.get("ATTREC_DATA_MIRROR"), reason="ATTREC_DATA_MIRROR not set")


@needs_mirror
def test_ml100k_counts_ties_and_windows():
    data = load_dataset("ml-100k")
    assert (data.n_users, data.n_items, data.n_interactions) == (943, 1682, 100000)
    raw = preprocess.read_raw("ml-100k", download_missing=False)
    assert preprocess.latest_tie_users(raw) == 415
    split = split_leave_last_out(data)
    assert len(make_windows(split.train, 5, 3, data.n_items)) == 100000 - 943 * 9 == 91513
    released = load_dataset("ml-100k", tie_rule="released")
    differs = sum(a[-1] != b[-1] for a, b in zip(data.sequences, released.sequences))
    assert differs == 415  # every tied user: first vs last row among its ties
    assert sorted(np.concatenate(data.sequences)) == sorted(np.concatenate(released.sequences))


def test_amazon_like_end_to_end_with_string_ids(sandbox, tmp_path):
    """String ids survive filtering, ordering, reindexing and the npz cache."""
    rows = [f"U{u},{'0' * 3}{i},5.0,{1000 + t}" for u, n in (("a", 10), ("b", 3)) for t, i in enumerate(range(n))]
    text = "\n".join(rows) + "\n"
    sandbox(text=text, parser="amazon_csv", min_user_actions=10)
    proc = preprocess.load_processed("toy")
    assert (proc.dataset.n_users, proc.dataset.n_items, proc.dataset.n_interactions) == (1, 10, 10)
    assert list(proc.user_ids) == ["Ua"] and proc.item_ids[0] == "0000"
    assert proc.dataset.sequences[0].tolist() == list(range(10))
    again = preprocess.load_processed("toy")  # from the cache
    assert list(again.item_ids) == list(proc.item_ids)


# --- damaged cache files and bad settings ------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "emptied", "bit-flipped"])
def test_damaged_processed_file_is_rebuilt_with_a_warning(sandbox, damage):
    sandbox()
    expected = [s.tolist() for s in load_dataset("toy").sequences]
    (path,) = paths.PROCESSED_DIR.glob("toy--stable--*.npz")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "emptied":
        data = bytearray()
    else:  # the last byte of the first array's data (a flip in a header field zip ignores is harmless)
        with zipfile.ZipFile(path) as archive:
            second = sorted(info.header_offset for info in archive.infolist())[1]
        data[second - 1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=f"{path.name}.*damaged.*rebuilding"):
        rebuilt = load_dataset("toy")
    assert [s.tolist() for s in rebuilt.sequences] == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: the next load reads it without complaint
        assert [s.tolist() for s in load_dataset("toy").sequences] == expected


def test_mirror_naming_a_missing_folder_is_an_error(sandbox, tmp_path, monkeypatch):
    sandbox()
    monkeypatch.setenv("ATTREC_DATA_MIRROR", str(tmp_path / "no-such-folder"))
    with pytest.raises(paths.SettingError, match="ATTREC_DATA_MIRROR=.*no-such-folder.*is not a folder"):
        load_dataset("toy")


def test_empty_raw_file_is_reported_as_empty(sandbox):
    sandbox(text="")
    with pytest.raises(ValueError, match="u.data: line 1: the file is empty"):
        load_dataset("toy")


# --- issue 24: a processed file records what it holds; unverified raw files are checked ------

@pytest.mark.parametrize("impostor", ["another data set", "another tie rule"])
def test_a_processed_file_holding_something_else_is_rebuilt_with_a_warning(sandbox, monkeypatch, impostor):
    sandbox()
    expected = [s.tolist() for s in load_dataset("toy").sequences]
    (path,) = paths.PROCESSED_DIR.glob("toy--stable--*.npz")
    if impostor == "another tie rule":
        load_dataset("toy", tie_rule="released")
        (other,) = paths.PROCESSED_DIR.glob("toy--released--*.npz")
    else:  # another data set's file (same parser, other rows) copied under toy's name
        spec = dataclasses.replace(registry.REGISTRY["toy"], name="toy2")
        monkeypatch.setitem(registry.REGISTRY, "toy2", spec)
        real_fetch = preprocess.download.fetch
        monkeypatch.setattr(preprocess.download, "fetch", lambda name, download=True: real_fetch("toy", download))
        preprocess.load_processed("toy2")
        monkeypatch.setattr(preprocess.download, "fetch", real_fetch)
        (other,) = paths.PROCESSED_DIR.glob("toy2--stable--*.npz")
    path.write_bytes(other.read_bytes())
    with pytest.warns(UserWarning, match=f"{path.name} is another data set's or rule's"):
        rebuilt = load_dataset("toy")
    assert [s.tolist() for s in rebuilt.sequences] == expected


def test_an_old_processed_file_without_a_record_is_rebuilt(sandbox):
    sandbox()
    expected = [s.tolist() for s in load_dataset("toy").sequences]
    (path,) = paths.PROCESSED_DIR.glob("toy--stable--*.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "holds"}
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.warns(UserWarning, match="no record of its data set"):
        assert [s.tolist() for s in load_dataset("toy").sequences] == expected


def rows(n, start=1000):
    return "".join(f"{1 + i % 7}\t{10 + i}\t5\t{start + i}\n" for i in range(n))


@pytest.mark.parametrize("text,said", [
    (rows(50) + "3\t99\t5\t-1000\n", "1 of 51 rows have an impossible timestamp"),
    (rows(50) + "3\t99\t5\t99999999999\n", "impossible timestamp"),
    (rows(50) + rows(20), "20 of 70 rows are exact duplicates"),
])
def test_an_unverified_raw_file_with_impossible_rows_is_refused(sandbox, text, said):
    raw = sandbox(text, sha256=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown-checksum warning
        with pytest.raises(preprocess.ImplausibleRawFileError, match=said) as info:
            load_dataset("toy")
    assert str(raw) in str(info.value)


def test_an_unverified_raw_file_with_few_duplicates_warns_counting_them(sandbox):
    sandbox(rows(300) + rows(1), sha256=None)
    with pytest.warns(UserWarning, match="1 of 301 rows are exact duplicates"):
        load_dataset("toy")


def test_a_verified_raw_file_is_not_second_guessed(sandbox):
    sandbox(rows(50) + rows(20))  # checksum known: duplicates are the data set's own (e.g. LastFM's)
    assert load_dataset("toy").n_users == 7
