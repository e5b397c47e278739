"""Metrics against hand-computed ranks, ties included; history exclusion."""
import numpy as np
import pytest
import torch

from attrec_lib.data.sequences import Split
from attrec_lib.training.evaluate import evaluate, per_user_metrics, pessimistic_ranks, summarize
from attrec_lib.models.base import ModelConfig, SequentialRecommender


def test_pessimistic_ranks_count_ties_against_the_target():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1],   # target 1 ties with item 2 -> rank 3
                           [0.2, 0.2, 0.2, 0.2],   # all equal -> last
                           [0.1, 0.3, 0.2, 0.9]])  # target 3 strictly best -> 1
    ranks = pessimistic_ranks(scores, torch.tensor([1, 0, 3]))
    assert ranks.tolist() == [3, 4, 1]


def test_metrics_by_hand():
    ranks = np.array([1, 3, 12, 60])
    m = per_user_metrics(ranks, ks=(10, 50), ndcg_k=10)
    assert m["hr@10"].tolist() == [1, 1, 0, 0]
    assert m["hr@50"].tolist() == [1, 1, 1, 0]
    assert m["mrr"].tolist() == pytest.approx([1, 1 / 3, 1 / 12, 1 / 60])  # not cut at K
    assert m["ndcg@10"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])  # 1/log2(3+1) = 0.5
    s = summarize(ranks)
    assert s["hr@50"] == pytest.approx(0.75)
    assert s["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 12 + 1 / 60) / 4)


class FixedScores(SequentialRecommender):
    """Returns a fixed score table, one row per user."""

    def __init__(self, table, seq_len=2):
        table = torch.as_tensor(table, dtype=torch.float32)
        super().__init__(*table.shape, ModelConfig(seq_len=seq_len, n_targets=1))
        self.table = torch.nn.Parameter(table)

    def score(self, users, inputs):
        return self.table[users]


def make_split():
    # user 0: train [0, 1], valid 2, test 3; user 1: train [4, 0], valid 1, test 0 (a repeat)
    return Split("toy", 2, 5, (np.array([0, 1]), np.array([4, 0])), np.array([2, 1]), np.array([3, 0]))


def test_history_is_excluded_but_never_the_target():
    split = make_split()
    model = FixedScores([[9, 8, 7, 1, 0], [5, 4, 3, 2, 9]])
    ev = evaluate(model, split, "test")
    # user 0: history {0, 1, 2} removed -> candidates 3 (1.0), 4 (0.0) -> rank 1
    # user 1: history {4, 0, 1} minus the target 0 -> candidates 0 (5), 2 (3), 3 (2) -> rank 1
    assert ev.ranks.tolist() == [1, 1]
    full = evaluate(model, split, "test", exclude_history=False)
    assert full.ranks.tolist() == [4, 2]


def test_validation_stage_uses_training_history_only():
    split = make_split()
    model = FixedScores([[9, 8, 7, 1, 0], [5, 4, 3, 2, 9]])
    ev = evaluate(model, split, "valid")
    # user 0 target 2: remove {0, 1} -> 2 (7) ranks first; user 1 target 1: remove {4, 0} -> 1 (4) first
    assert ev.ranks.tolist() == [1, 1]
    assert split.eval_inputs("test", 2).tolist() == [[1, 2], [0, 1]]
    assert split.eval_inputs("valid", 3).tolist() == [[5, 0, 1], [5, 4, 0]]


def test_constant_scores_get_no_credit_and_nan_scores_rank_last():
    split = make_split()
    ev = evaluate(FixedScores(np.zeros((2, 5))), split, "test", exclude_history=False)
    assert ev.ranks.tolist() == [5, 5]
    ev = evaluate(FixedScores(np.full((2, 5), np.nan)), split, "test", exclude_history=False)
    assert ev.ranks.tolist() == [5, 5]


def test_batched_evaluation_equals_unbatched():
    rng = np.random.default_rng(0)
    n_users, n_items = 37, 23
    train = tuple(rng.choice(n_items, size=5, replace=False) for _ in range(n_users))
    split = Split("r", n_users, n_items, train, rng.integers(0, n_items, n_users), rng.integers(0, n_items, n_users))
    model = FixedScores(rng.normal(size=(n_users, n_items)))
    a = evaluate(model, split, "test", batch_size=4).ranks
    b = evaluate(model, split, "test", batch_size=1000).ranks
    assert a.tolist() == b.tolist()
