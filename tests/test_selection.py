"""Model selection and early stopping on scripted histories: which stage and metric each reads,
and the exact epoch patience stops at. ``train._eval_stage`` is replaced by a script, so the
metrics of every epoch are known in advance and the selected / stopping epochs are exact."""
import numpy as np
import pytest

from attrec_lib import models
from attrec_lib.training import train
from attrec_lib.data.sequences import split_leave_last_out
from attrec_lib.data.synthetic import planted_sequences
from attrec_lib.training.evaluate import Evaluation
from attrec_lib.training.train import TrainConfig, fit

# Per stage, per epoch (1-based position): HR@50 and MRR. Validation HR@50 peaks at epochs 2 and 4
# (a tie; MRR prefers 4); test HR@50 peaks at epoch 3; test MRR peaks at epoch 1; the loss is not
# scripted. With patience 3 on validation the last improvement is epoch 2 (4 only ties), so
# training stops after epoch 5; on test data it would stop after epoch 6.
SCRIPT = {
    "valid": {"hr@50": [0.10, 0.30, 0.25, 0.30, 0.20, 0.28, 0.29, 0.35, 0.1, 0.1, 0.1, 0.1],
              "mrr": [0.01, 0.05, 0.04, 0.07, 0.03, 0.03, 0.03, 0.09, 0.01, 0.01, 0.01, 0.01]},
    "test": {"hr@50": [0.20, 0.30, 0.50, 0.40, 0.45, 0.10, 0.10, 0.15, 0.1, 0.1, 0.1, 0.1],
             "mrr": [0.90, 0.02, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02]},
}


@pytest.fixture
def scripted(monkeypatch):
    calls = []

    def fake_eval_stage(model, split, stage, cfg, device, hist):
        epoch = sum(1 for s in calls if s == stage)
        calls.append(stage)
        metrics = {name: values[epoch] for name, values in SCRIPT[stage].items()}
        users = split.eval_users("test")
        ranks = np.full(len(users), epoch + 1)  # recognisable per epoch
        return Evaluation(users, ranks), metrics

    monkeypatch.setattr(train, "_eval_stage", fake_eval_stage)
    return calls


def _fit(protocol="valid", patience=3, epochs=12):
    data = planted_sequences(n_users=30, n_items=20, length=8, seed=4)
    split = split_leave_last_out(data, hold_out_valid=protocol == "valid")
    model = models.build("attrec", split.n_users, split.n_items,
                         models.make_config("attrec", "paper", d=4, seq_len=2, n_targets=1))
    return fit(model, split, TrainConfig(epochs=epochs, batch_size=32, patience=patience), 0, protocol,
               progress=False)


def test_valid_selected_epoch_is_chosen_on_validation_metrics(scripted):
    result = _fit(patience=0)
    best = result.best["valid_selected"]
    assert best["epoch"] == 8  # highest validation HR@50 over all 12 epochs
    assert best["test_hr@50"] == 0.15 and best["valid_hr@50"] == 0.35
    assert result.best["test_selected"]["epoch"] == 3
    assert best["test_ranks"][0] == 8  # per-user ranks of that same epoch


def test_validation_ties_are_broken_by_validation_mrr_not_test(scripted):
    result = _fit(patience=3)
    assert result.best["valid_selected"]["epoch"] == 4  # HR@50 ties with epoch 2; valid MRR 0.07 > 0.05


def test_test_selected_epoch_is_chosen_on_test_hr50(scripted):
    result = _fit(patience=3)
    assert result.best["test_selected"]["epoch"] == 3  # not epoch 1, where test MRR peaks


def test_patience_stops_exactly_after_patience_evaluations_without_validation_gain(scripted):
    result = _fit(patience=3)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    assert result.stopped_early
    assert scripted == ["valid", "test"] * 5


@pytest.mark.parametrize("patience, last", [(1, 3), (2, 4), (4, 6), (5, 7)])
def test_patience_exact_epoch(scripted, patience, last):
    result = _fit(patience=patience)
    assert len(result.history) == last


def test_patience_zero_never_stops(scripted):
    result = _fit(patience=0)
    assert len(result.history) == 12 and not result.stopped_early


def test_released_protocol_evaluates_and_selects_on_test_only(scripted):
    result = _fit(protocol="released", patience=3)
    assert set(scripted) == {"test"}
    assert set(result.best) == {"test_selected"}
    assert result.best["test_selected"]["epoch"] == 3  # best test HR@50, not test MRR (epoch 1)
    # stopping reads test HR@50 too: last gain at epoch 3, three evaluations without -> epoch 6
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5, 6]
