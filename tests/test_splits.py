"""Repeat flags, the first-occurrence split and the global-timeline split on hand-made data;
the ``split`` field of a run spec (default keys unchanged, new keys apart)."""
import dataclasses

import numpy as np
import pytest

from attrec_lib.runs import compute, runspec
from attrec_lib.data import SequenceDataset, split_leave_last_out
from attrec_lib.data import splits


def seqs(*lists):
    return tuple(np.array(s, np.int64) for s in lists)


# user 0 repeats item 1 as its test target, user 1 repeats item 4 as its validation target,
# user 2 repeats nothing, user 3 repeats item 8 at its *last training* position only.
TOY = SequenceDataset("toy", 4, 10, seqs([0, 1, 2, 1], [4, 5, 4, 6], [7, 8, 9], [8, 3, 8, 2, 5]))


def test_target_repeats_on_a_hand_made_split():
    s = split_leave_last_out(TOY)
    np.testing.assert_array_equal(s.eval_users("test"), [0, 1, 2, 3])
    np.testing.assert_array_equal(splits.target_repeats(s, "test"), [True, False, False, False])
    np.testing.assert_array_equal(splits.target_repeats(s, "valid"), [False, True, False, False])
    assert splits.repeated_pairs(TOY) == 3  # 1 by user 0, 4 by user 1, 8 by user 3


def test_first_occurrence_keeps_each_item_once_in_order_so_no_target_repeats():
    dedup = splits.first_occurrence(TOY)
    assert [t.tolist() for t in dedup.sequences] == [[0, 1, 2], [4, 5, 6], [7, 8, 9], [8, 3, 2, 5]]
    s = splits.make_split(TOY, splits.FIRST_OCCURRENCE)
    np.testing.assert_array_equal(s.test, [2, 6, 9, 5])
    np.testing.assert_array_equal(s.valid, [1, 5, 8, 2])
    assert not splits.target_repeats(s, "test").any() and not splits.target_repeats(s, "valid").any()
    assert splits.repeated_pairs(dedup) == 0
    with pytest.raises(ValueError, match="validation item"):
        splits.make_split(TOY, splits.FIRST_OCCURRENCE, hold_out_valid=False)


# times of TOY's items; the cut at 50 below
TIMES = seqs([10, 20, 60, 70], [10, 50, 50, 55], [60, 61, 62], [5, 6, 40, 49, 80])


def test_global_time_split_trains_only_before_the_cut_and_evaluates_after_it():
    s = splits.split_global_time(TOY, TIMES, cut=50)
    # who is trained on what: every interaction strictly before the cut, nothing at or after it
    assert [t.tolist() for t in s.train] == [[0, 1], [4], [], [8, 3, 8, 2]]
    for u, train in enumerate(s.train):
        assert (TIMES[u][:len(train)] < 50).all() and (TIMES[u][len(train):] >= 50).all()
    # user 0: first and second item from the cut on; user 1: 5 then 4 (both at t=50, file order);
    # user 2: nothing before the cut (not evaluated); user 3: one item after the cut (not evaluated)
    np.testing.assert_array_equal(s.valid, [2, 5, -1, -1])
    np.testing.assert_array_equal(s.test, [1, 4, -1, -1])
    np.testing.assert_array_equal(s.eval_users("test"), [0, 1])
    # the test input is the training items plus the validation item, as in leave-last-out
    np.testing.assert_array_equal(s.eval_inputs("test", 3), [[0, 1, 2], [10, 4, 5], [10, 10, 10], [3, 8, 2]])
    # user 3's item at t=80 (item 5) is neither trained on nor a target
    assert 5 not in s.train[3].tolist() and s.valid[3] == s.test[3] == -1


def test_global_cut_is_a_timestamp_leaving_the_quantile_after_it():
    ts = seqs(list(range(0, 50)), list(range(50, 100)))
    cut = splits.global_cut(ts, 0.8)
    assert cut == 80  # 80 of the 100 interactions lie strictly before it
    assert splits.global_time_split_name(0.8) == "global_time:0.8"
    assert splits.parse_split("global_time:0.8") == ("global_time", 0.8)


def test_global_split_refuses_misaligned_or_unsorted_times():
    with pytest.raises(ValueError, match="user 0 has 4 items but 3 timestamps"):
        splits.split_global_time(TOY, seqs([1, 2, 3], *[list(t) for t in TIMES[1:]]), 50)
    with pytest.raises(ValueError, match="chronological"):
        splits.split_global_time(TOY, seqs([3, 2, 1, 0], *[list(t) for t in TIMES[1:]]), 50)
    with pytest.raises(ValueError, match="needs the interactions' timestamps"):
        splits.make_split(TOY, "global_time:0.8")


@pytest.mark.parametrize("bad", ["global_time", "global_time:1", "global_time:x", "leave_one_out", 3])
def test_unknown_split_names_are_one_clear_error(bad):
    with pytest.raises(ValueError, match="split must be"):
        splits.parse_split(bad)


def test_split_field_leaves_default_keys_unchanged_and_separates_new_ones():
    base = runspec.make_spec("synthetic-planted", "attrec", "paper", train={"epochs": 1}, d=8)
    assert "split" not in base.to_dict() and "split" not in base.key_payload()["spec"]
    explicit = runspec.make_spec("synthetic-planted", "attrec", "paper", train={"epochs": 1}, d=8,
                                     split=splits.LEAVE_LAST_OUT)
    assert explicit.key == base.key
    dedup = dataclasses.replace(base, split=splits.FIRST_OCCURRENCE)
    timeline = dataclasses.replace(base, split="global_time:0.8")
    assert len({base.key, dedup.key, timeline.key}) == 3
    assert runspec.RunSpec.from_dict(dedup.to_dict()) == dedup
    with pytest.raises(ValueError, match="split must be"):
        runspec.make_spec("synthetic-planted", "attrec", "paper", split="nope")
    with pytest.raises(ValueError, match="needs protocol 'valid'"):
        runspec.make_spec("synthetic-planted", "attrec", "paper", protocol="released",
                              split=splits.FIRST_OCCURRENCE)


def test_a_run_on_the_global_split_trains_and_evaluates_only_whom_it_should():
    data = SequenceDataset("toy", 30, 12, tuple(np.arange(i, i + 12) % 12 for i in range(30)))
    times = tuple(np.arange(12) + (u % 3) * 4 for u in range(30))
    split = splits.make_split(data, "global_time:0.8", timestamps=times)
    spec = runspec.make_spec("synthetic-planted", "pop", "paper", train={"epochs": 1}, split="global_time:0.8")
    result = compute.execute(spec, progress=False, split=split)
    evaluated = result["per_user"]["valid_selected"]["test_users"]
    assert evaluated == split.eval_users("test").tolist() and 0 < len(evaluated) < 30


def test_future_training_share_counts_training_interactions_after_each_test_time():
    # leave-last-out training times (all but each user's last two): 5 6 10 10 20 40 50 60;
    # test times 70, 55, 62, 80: only user 1's (55) has one of them (60) after it
    np.testing.assert_allclose(splits.future_training_share(TOY, TIMES), [0, 1 / 8, 0, 0])
    summary = splits.global_time_summary(TOY, TIMES, 0.5)
    assert summary["cut"] == 50 and summary["evaluated_users"] == 2 and summary["trained_users"] == 3
    assert summary["train_interactions"] == 7 and summary["test_repeat_pct"] == 100.0  # items 1 and 4 again
