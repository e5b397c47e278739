"""The trainer: negatives, selection, determinism, and AttRec learning a planted pattern."""
import numpy as np
import pytest
import torch

from attrec_lib import models
from attrec_lib.data.sequences import split_leave_last_out
from attrec_lib.data.synthetic import planted_sequences
from attrec_lib.training.evaluate import summarize
from attrec_lib.training.train import TrainConfig, fit, sample_negatives


def test_negatives_avoid_the_window_targets():
    rng = np.random.default_rng(0)
    targets = np.array([[0, 1, 2]] * 500)
    neg = sample_negatives(rng, targets, 5)
    assert neg.shape == targets.shape
    assert set(np.unique(neg)) == {3, 4}


def test_negatives_can_avoid_the_whole_history():
    rng = np.random.default_rng(0)
    users = np.array([0, 1] * 100)
    keys = np.array(sorted([0 * 6 + 0, 0 * 6 + 1, 0 * 6 + 2, 1 * 6 + 5]))
    neg = sample_negatives(rng, np.zeros((200, 2), np.int64), 6, users, keys)
    assert not np.isin(neg[users == 0], [0, 1, 2]).any()
    assert not (neg[users == 1] == 5).any()


def popularity_hr(split, k=10):
    """HR@k of ranking by training popularity, history excluded, pessimistic ties."""
    counts = np.bincount(np.concatenate(split.train), minlength=split.n_items).astype(float)
    hits = []
    for u in split.eval_users("test"):
        scores = counts.copy()
        seen = set(split.history("test")[u]) - {split.test[u]}
        scores[list(seen)] = -np.inf
        t = scores[split.test[u]]
        rank = 1 + (scores > t).sum() + (scores == t).sum() - 1
        hits.append(rank <= k)
    return float(np.mean(hits))


def small_fit(seed=0, epochs=8, **overrides):
    data = planted_sequences(n_users=150, n_items=80, length=25, seed=1)
    split = split_leave_last_out(data)
    torch.manual_seed(seed)
    cfg = models.make_config("attrec", "paper", d=16, seq_len=3, n_targets=2, **overrides)
    model = models.build("attrec", split.n_users, split.n_items, cfg)
    result = fit(model, split, TrainConfig(epochs=epochs, batch_size=128, patience=0), seed, progress=False)
    return split, model, result


def test_attrec_beats_popularity_on_a_planted_pattern():
    split, _, result = small_fit()
    best = result.best["valid_selected"]
    assert best["test_hr@10"] > popularity_hr(split) + 0.4
    assert summarize(np.array(best["test_ranks"]))["hr@10"] == pytest.approx(best["test_hr@10"])


def test_same_seed_same_metrics():
    a = small_fit(seed=3, epochs=3)[2]
    b = small_fit(seed=3, epochs=3)[2]
    assert a.history == b.history


def test_history_records_both_stages_and_selections_are_labelled():
    _, _, result = small_fit(epochs=3)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert {"valid_hr@50", "test_hr@50", "valid_mrr", "test_mrr", "loss"} <= set(result.history[0])
    assert set(result.best) == {"valid_selected", "test_selected"}
    best_test = max(h["test_hr@50"] for h in result.history)
    assert result.best["test_selected"]["test_hr@50"] == best_test


def test_released_protocol_has_no_validation():
    data = planted_sequences(n_users=60, n_items=40, length=12, seed=2)
    split = split_leave_last_out(data, hold_out_valid=False)
    model = models.build("attrec", split.n_users, split.n_items, models.make_config("attrec", "released_code", d=8))
    result = fit(model, split, TrainConfig(epochs=2, batch_size=64), 0, protocol="released", progress=False)
    assert set(result.best) == {"test_selected"}
    assert "valid_hr@50" not in result.history[0]
    with pytest.raises(ValueError, match="validation items"):
        fit(model, split, TrainConfig(epochs=1), 0, protocol="valid", progress=False)


def test_patience_stops_training():
    data = planted_sequences(n_users=40, n_items=30, length=10, seed=2)
    split = split_leave_last_out(data)
    model = models.build("attrec", split.n_users, split.n_items, models.make_config("attrec", "paper", d=8))
    cfg = TrainConfig(epochs=30, batch_size=64, lr=1e-9, patience=2)  # nothing improves -> stops early
    result = fit(model, split, cfg, 0, progress=False)
    assert result.stopped_early and len(result.history) < 30


@pytest.mark.parametrize("field,value", [("epochs", 0), ("lr", 0.0), ("optimizer", "lbfgs"), ("negatives", "all")])
def test_invalid_training_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value}).validate()


def test_l2_folded_into_the_optimiser_gives_the_same_updates():
    """lambda * ||T||^2 in the loss and weight_decay = 2 * lambda in Adagrad are the same step."""
    from attrec_lib.models.base import Batch
    from attrec_lib.training.train import make_optimizer

    cfg = models.make_config("attrec", "released_code", d=8, seq_len=3, n_targets=2, reg_embeddings=0.05,
                             reg_weights=0.1)
    batch = Batch(torch.tensor([0, 1, 2]), torch.tensor([[1, 2, 3], [2, 3, 4], [5, 6, 7]]),
                  torch.tensor([[4, 5], [5, 6], [8, 9]]), torch.tensor([[9, 0], [0, 1], [1, 2]]))
    tcfg = TrainConfig(initial_accumulator=0.05)
    params = []
    for fold in (False, True):
        torch.manual_seed(0)
        model = models.build("attrec", 3, 10, cfg)
        opt = make_optimizer(model, tcfg, model.whole_tensor_l2() if fold else None)
        loss = model.loss_without_whole_tensor_l2 if fold else model.loss
        for _ in range(5):
            opt.zero_grad()
            loss(batch).backward()
            opt.step()
        params.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*params):
        assert torch.allclose(a, b, atol=1e-6)
