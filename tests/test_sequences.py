"""Split and window builder against literal expected outputs; synthetic data determinism."""
import numpy as np
import pytest

from attrec_lib.data import SequenceDataset, last_items, make_windows, split_leave_last_out
from attrec_lib.data.synthetic import planted_sequences

PAD = 10


def seqs(*lists):
    return tuple(np.array(s, np.int64) for s in lists)


def test_make_windows_literal_with_short_user_padding():
    train = seqs([0, 1, 2, 3, 4, 5], [6, 7, 8], [9, 1], [2])
    w = make_windows(train, seq_len=3, n_targets=2, pad=PAD)
    # user 0: n=6 >= L+T gives n-L-T+1 = 2 windows; user 1: T < 3 < L+T gives one window,
    # left-padded (Caser's rule); users 2 and 3: n <= T give none.
    np.testing.assert_array_equal(w.users, [0, 0, 1])
    np.testing.assert_array_equal(w.inputs, [[0, 1, 2], [1, 2, 3], [PAD, PAD, 6]])
    np.testing.assert_array_equal(w.targets, [[3, 4], [4, 5], [7, 8]])
    assert len(w) == 3


def test_make_windows_empty_and_bad_sizes():
    w = make_windows(seqs([1], [2]), seq_len=2, n_targets=1, pad=PAD)
    assert w.inputs.shape == (0, 2) and w.targets.shape == (0, 1) and len(w) == 0
    with pytest.raises(ValueError, match="seq_len"):
        make_windows(seqs([1, 2]), 0, 1, PAD)
    with pytest.raises(ValueError, match="n_targets"):
        make_windows(seqs([1, 2]), 1, 0, PAD)


def test_split_leave_last_out_literal():
    data = SequenceDataset("toy", 4, 10, seqs([0, 1, 2, 3], [4, 5, 6], [7, 8], [9]))
    s = split_leave_last_out(data)
    assert [t.tolist() for t in s.train] == [[0, 1], [4], [7], [9]]
    np.testing.assert_array_equal(s.valid, [2, 5, -1, -1])
    np.testing.assert_array_equal(s.test, [3, 6, 8, -1])
    np.testing.assert_array_equal(s.eval_users("valid"), [0, 1])
    np.testing.assert_array_equal(s.eval_users("test"), [0, 1, 2])
    # The test-stage history includes the validation item.
    np.testing.assert_array_equal(s.eval_inputs("test", 3), [[0, 1, 2], [10, 4, 5], [10, 10, 7], [10, 10, 9]])
    released = split_leave_last_out(data, hold_out_valid=False)
    assert [t.tolist() for t in released.train] == [[0, 1, 2], [4, 5], [7], [9]]
    assert (released.valid == -1).all()


def test_last_items_left_pads():
    np.testing.assert_array_equal(last_items(seqs([1, 2, 3], [4]), 2, PAD), [[2, 3], [PAD, 4]])


def test_planted_generator_is_deterministic_for_a_seed():
    a, b, c = planted_sequences(seed=3), planted_sequences(seed=3), planted_sequences(seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    assert not all(np.array_equal(x, y) for x, y in zip(a.sequences, c.sequences))
    assert (a.n_users, a.n_items, a.n_interactions) == (200, 100, 200 * 30)
