"""The simple baselines (ItemKNN, EASE, SR, SKNN): scores against hand-computed cases, no held-out
item in the fitted statistics, and the planted sequential pattern."""
import math

import numpy as np
import pytest
import torch

from attrec_lib.runs import compute, runspec
from attrec_lib import models
from attrec_lib.data.sequences import SequenceDataset, split_leave_last_out
from attrec_lib.data.synthetic import planted_sequences

SIMPLE = ["itemknn", "ease", "sr", "sknn"]
N_ITEMS = 5
PAD = N_ITEMS
# train / valid / test: u0 [0, 1, 2] / 4 / 3, u1 [1, 2, 3] / 0 / 4, u2 [2, 0, 1] / 3 / 1.
# Item 4 is only ever held out.
SEQS = [[0, 1, 2, 4, 3], [1, 2, 3, 0, 4], [2, 0, 1, 3, 1]]


def tiny_split(seqs=SEQS):
    data = SequenceDataset("tiny", len(seqs), N_ITEMS, tuple(np.asarray(s, np.int64) for s in seqs))
    return split_leave_last_out(data)


def fitted(name, split=None, **overrides):
    split = split or tiny_split()
    model = models.build(name, split.n_users, split.n_items, models.make_config(name, "paper", **overrides))
    model.prepare(split)
    return model.eval()


def scores(model, users, inputs):
    return model.score(torch.tensor(users), torch.tensor(inputs)).numpy()


# Counts in the training sequences: users with item i, and users with both i and j.
C = {0: 2, 1: 3, 2: 3, 3: 1, 4: 0}
CO = {(0, 1): 2, (0, 2): 2, (0, 3): 0, (1, 2): 3, (1, 3): 1, (2, 3): 1}


def co(i, j):
    return 0 if i == j or 4 in (i, j) else CO[(min(i, j), max(i, j))]


@pytest.mark.parametrize("k", [10, 1])
def test_itemknn_score_by_hand(k):
    shrink = 1.0
    s = {(i, j): co(i, j) / (math.sqrt(C[i]) * math.sqrt(C[j]) + shrink) if co(i, j) else 0.0
         for i in range(5) for j in range(5)}
    if k == 1:  # each candidate j keeps its single most similar item (ties: smaller id)
        for j in range(5):
            best = max(range(5), key=lambda i: (s[i, j], -i))
            s = {(i, jj): v if jj != j or i == best else 0.0 for (i, jj), v in s.items()}
    model = fitted("itemknn", k=k, shrink=shrink, seq_len=2)
    # user 0: profile {0, 1, 2} (inputs inside it); user 1: {1, 2, 3} plus input 0 (like a validation item)
    profile = [{0, 1, 2}, {0, 1, 2, 3}]
    expected = [[sum(s[i, j] for i in p) for j in range(5)] for p in profile]
    np.testing.assert_allclose(scores(model, [0, 1], [[1, 2], [3, 0]]), expected, rtol=1e-6)


def test_ease_score_by_hand():
    lam = 2.0
    gram = np.array([[C[i] if i == j else co(i, j) for j in range(5)] for i in range(5)], float) + lam * np.eye(5)
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    model = fitted("ease", l2=lam, seq_len=2)
    profile = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], float)
    np.testing.assert_allclose(scores(model, [0, 1], [[1, 2], [3, 0]]), profile @ b, rtol=1e-5, atol=1e-7)


def test_sr_score_by_hand():
    # steps 2, w = 1/d: adjacent pairs 0->1 (twice), 1->2 (twice), 2->3, 2->0; two apart 0->2, 1->3, 2->1
    r = np.zeros((5, 5))
    for i, j, w in [(0, 1, 2), (1, 2, 2), (2, 3, 1), (2, 0, 1), (0, 2, .5), (1, 3, .5), (2, 1, .5)]:
        r[i, j] = w
    model = fitted("sr", steps=2, rule_weighting="div", input_weighting="div", seq_len=2)
    # row 0: only item 2 (distance 1); row 1: item 1 at distance 1, item 0 at distance 2 (weight 1/2)
    np.testing.assert_allclose(scores(model, [0, 1], [[PAD, 2], [0, 1]]), [r[2], r[1] + 0.5 * r[0]], rtol=1e-6)
    same = fitted("sr", steps=1, rule_weighting="same", input_weighting="same", seq_len=2)
    adjacent = (r == 1) | (r == 2)
    np.testing.assert_allclose(scores(same, [1], [[0, 1]]), [np.where(adjacent, r, 0)[1] + np.where(adjacent, r, 0)[0]])


@pytest.mark.parametrize("successors_only", [False, True])
def test_sknn_score_by_hand(successors_only):
    model = fitted("sknn", k=2, lambda_recency=1.0, lambda_position=1.0, reach=2, seq_len=2,
                   successors_only=successors_only)
    e = math.exp(-1.0)
    # user 0, inputs [1, 2]: weights 2 -> 1, 1 -> e^-1; neighbours u1 [1, 2, 3] and u2 [2, 0, 1] both
    # hold 1 and 2: sim a = (1 + e^-1) / sqrt(2 * 3). Anchor (item 2): u1 position 1, u2 position 0.
    a = (1 + e) / math.sqrt(6)
    row0 = [a, a * e + (0 if successors_only else a), 0, a, 0]  # u1: 1 at d=-1, 3 at d=+1; u2: 0 at +1, 1 at +2
    # user 1, inputs [PAD, 0]: neighbours u0 [0, 1, 2] (anchor 0) and u2 [2, 0, 1] (anchor 1): sim b = 1 / sqrt(3)
    b = 1 / math.sqrt(3)
    row1 = [0, 2 * b, b * e + (0 if successors_only else b), 0, 0]
    np.testing.assert_allclose(scores(model, [0, 1], [[1, 2], [PAD, 0]]), [row0, row1], rtol=1e-6)


def test_sknn_ties_keep_the_smaller_user_id():
    model = fitted("sknn", k=1, lambda_recency=1.0, lambda_position=1.0, reach=2, seq_len=2)
    a = (1 + math.exp(-1.0)) / math.sqrt(6)  # u1 and u2 tie for user 0; u1 is kept
    np.testing.assert_allclose(scores(model, [0], [[1, 2]]), [[0, a, 0, a, 0]], rtol=1e-6)


@pytest.mark.parametrize("name, field, value", [
    ("itemknn", "k", 0), ("itemknn", "shrink", -1.0), ("ease", "l2", 0.0), ("sr", "steps", 0),
    ("sr", "rule_weighting", "log"), ("sknn", "lambda_position", 0.0), ("sknn", "reach", 0),
])
def test_invalid_config_names_the_field(name, field, value):
    with pytest.raises(ValueError, match=field):
        models.make_config(name, "paper", **{field: value})


@pytest.mark.parametrize("name", SIMPLE)
def test_no_held_out_item_reaches_the_fitted_statistics(name):
    """Fails if a validation or test item is counted: changing the held-out items must change
    nothing, and item 4 (only ever held out) must score exactly 0 for everyone."""
    users, inputs = [0, 1, 2], [[1, 2], [2, 3], [PAD, 0]]
    base = scores(fitted(name, seq_len=2), users, inputs)
    moved = [s[:3] + [s[4], s[3]] for s in SEQS]  # swap each user's validation and test items
    other = [s[:3] + [3, 3] for s in SEQS]
    for seqs in (moved, other):
        np.testing.assert_array_equal(scores(fitted(name, tiny_split(seqs), seq_len=2), users, inputs), base)
    assert (base[:, 4] == 0).all(), base


@pytest.mark.parametrize("name", SIMPLE)
def test_fitted_once_without_trainable_parameters(name):
    model = fitted(name)
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(RuntimeError, match="nothing to train"):
        model.loss(None)


@pytest.fixture(scope="module")
def planted_metrics():
    torch.set_num_threads(1)
    split = split_leave_last_out(planted_sequences(n_users=200, n_items=100, length=30, seed=0))
    out = {}
    for name in ["pop"] + SIMPLE:
        spec = runspec.make_spec("planted", name, "paper", seed=0, train={"epochs": 1, "patience": 0})
        out[name] = compute.execute(spec, device="cpu", progress=False, split=split)["selections"]["valid_selected"]
    return out


@pytest.mark.parametrize("name", ["sr", "sknn"])
def test_planted_sequence_aware_beat_pop_and_itemknn(planted_metrics, name):
    hr = {m: v["test_hr@10"] for m, v in planted_metrics.items()}
    assert hr[name] >= hr["pop"] + 0.5, hr
    assert hr[name] >= hr["itemknn"] + 0.15, hr


def test_planted_simple_models_are_evaluated_once(planted_metrics):
    assert all(v["epoch"] == 1 for v in planted_metrics.values())
