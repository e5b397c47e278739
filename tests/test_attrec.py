"""AttRec's equation pieces against small hand-computed cases (Eq. 1-12)."""
import math

import numpy as np
import pytest
import torch

from attrec_lib import models
from attrec_lib.models.attrec import AttRec, AttRecConfig, time_embedding
from attrec_lib.models.base import Batch


def tiny(**overrides):
    """An AttRec with d=2, L=3 whose parameters the tests set by hand."""
    fields = dict(d=2, seq_len=3, n_targets=1, time_embedding="none", reg_embeddings=0.0, reg_weights=0.0)
    cfg = AttRecConfig(**{**fields, **overrides})
    model = AttRec(n_users=2, n_items=4, config=cfg)
    with torch.no_grad():
        model.X[:4] = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, -1.0]])
        model.V.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
        model.U.copy_(torch.tensor([[1.0, 1.0], [0.0, -1.0]]))
        model.W_Q.copy_(torch.eye(2))
    return model


def softmax(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def test_attention_masks_the_diagonal_before_softmax():
    model = tiny()
    s = model.attention_weights(torch.tensor([[0, 1, 2]]))[0]
    x = [[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]  # ReLU(X I) = X (all entries >= 0)
    dot = [[sum(a * b for a, b in zip(x[i], x[j])) / math.sqrt(2) for j in range(3)] for i in range(3)]
    for i in range(3):
        others = [j for j in range(3) if j != i]
        expected = softmax([dot[i][j] for j in others])
        assert s[i, i].item() == 0.0
        assert s[i, others].tolist() == pytest.approx(expected, rel=1e-6)
        assert s[i].sum().item() == pytest.approx(1.0)


def test_attention_zeroes_the_diagonal_after_softmax_without_renormalising():
    model = tiny(mask="after_softmax")
    s = model.attention_weights(torch.tensor([[0, 1, 2]]))[0]
    x = [[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]
    row0 = softmax([sum(a * b for a, b in zip(x[0], x[j])) / math.sqrt(2) for j in range(3)])
    assert s[0].tolist() == pytest.approx([0.0, row0[1], row0[2]], rel=1e-6)
    assert s[0].sum().item() < 1.0


def test_relu_applies_to_query_and_key():
    model = tiny()
    with torch.no_grad():
        model.W_Q.copy_(-torch.eye(2))  # every projection negative -> ReLU gives 0 -> uniform weights
    s = model.attention_weights(torch.tensor([[0, 1, 2]]))[0]
    assert s[0].tolist() == pytest.approx([0.0, 0.5, 0.5])


def test_short_term_intent_is_mean_of_attention_outputs():
    model = tiny()
    inputs = torch.tensor([[0, 1, 2]])
    s = model.attention_weights(inputs)[0]
    x = model.X[:3].detach()
    expected = (s @ x).mean(0)  # Eq. 5-6
    assert model.short_term_intent(inputs)[0].tolist() == pytest.approx(expected.tolist(), rel=1e-6)


@pytest.mark.parametrize("aggregation,reduce", [("sum", lambda a: a.sum(0)), ("max", lambda a: a.max(0).values),
                                                ("min", lambda a: a.min(0).values)])
def test_other_aggregations(aggregation, reduce):
    model = tiny(aggregation=aggregation)
    inputs = torch.tensor([[0, 1, 2]])
    a = model.attention_weights(inputs)[0] @ model.X[:3].detach()
    assert model.short_term_intent(inputs)[0].tolist() == pytest.approx(reduce(a).tolist(), rel=1e-6)


def test_without_self_attention_m_is_the_mean_embedding():
    model = tiny(self_attention=False)
    m = model.short_term_intent(torch.tensor([[0, 1, 3]]))[0]
    assert m.tolist() == pytest.approx([(1 + 0 + 3) / 3, (0 + 2 - 1) / 3])


def test_time_embedding_interleaved_matches_eq_7_8():
    te = time_embedding(3, 4, "interleaved")
    for t in range(3):
        assert te[t].tolist() == pytest.approx([math.sin(t), math.cos(t), math.sin(t / 100.0), math.cos(t / 100.0)],
                                               abs=1e-6)


def test_time_embedding_concatenated_is_sin_block_then_cos_block():
    te = time_embedding(2, 4, "concatenated")  # timescales 1 and 10000
    t = 1
    assert te[t].tolist() == pytest.approx([math.sin(1), math.sin(1e-4), math.cos(1), math.cos(1e-4)], abs=1e-6)


def test_time_embedding_is_added_to_query_and_key_only():
    model = tiny()
    model_te = tiny(time_embedding="interleaved")
    inputs = torch.tensor([[0, 1, 2]])
    assert not torch.allclose(model.attention_weights(inputs), model_te.attention_weights(inputs))
    # the value is the raw embedding: with self-attention off, the time signal changes nothing
    a = tiny(self_attention=False).short_term_intent(inputs)
    b = tiny(self_attention=False, time_embedding="interleaved").short_term_intent(inputs)
    assert torch.equal(a, b)


def test_score_is_minus_eq_10():
    model = tiny(omega=0.3)
    users, inputs = torch.tensor([1]), torch.tensor([[0, 1, 2]])
    m = model.short_term_intent(inputs)[0].detach()
    scores = model.score(users, inputs)[0]
    for i in range(4):
        long = ((model.U[1] - model.V[i]) ** 2).sum().item()
        short = ((m - model.X[i]) ** 2).sum().item()
        assert scores[i].item() == pytest.approx(-(0.3 * long + 0.7 * short), rel=1e-5)
    assert scores.shape == (4,)


def _batch(targets, negatives):
    return Batch(torch.tensor([0]), torch.tensor([[0, 1, 2]]), torch.tensor([targets]), torch.tensor([negatives]))


def test_hinge_loss_aligned_and_all_pairs():
    model = tiny(omega=0.5, margin=0.5, pairs="aligned")
    batch = _batch([1, 3], [0, 2])
    m = model.short_term_intent(batch.inputs)
    y = model.distance(batch.users, m, torch.tensor([[0, 1, 2, 3]]))[0].tolist()
    aligned = max(0, y[1] + 0.5 - y[0]) + max(0, y[3] + 0.5 - y[2])
    assert model.loss(batch).item() == pytest.approx(aligned, rel=1e-5)
    model_all = tiny(omega=0.5, margin=0.5, pairs="all")
    every = sum(max(0, y[p] + 0.5 - y[n]) for p in (1, 3) for n in (0, 2))
    assert model_all.loss(batch).item() == pytest.approx(every, rel=1e-5)
    model_mean = tiny(omega=0.5, margin=0.5, pairs="all", hinge_reduction="mean")
    assert model_mean.loss(batch).item() == pytest.approx(every / 4, rel=1e-5)


def _reg_only(model, batch):
    return model.regularization(batch).item()


def test_each_regulariser_alone():
    batch = _batch([3], [1])
    w = tiny(reg_weights=0.1, reg_mode="norm_clip")
    assert _reg_only(w, batch) == pytest.approx(0.1 * 2.0)  # ||I||^2 = 2
    tables = tiny(reg_embeddings=0.01, reg_mode="l2_tables")
    total = sum((t ** 2).sum().item() for t in (tables.U, tables.V, tables.X))
    assert _reg_only(tables, batch) == pytest.approx(0.01 * total, rel=1e-6)
    rows = tiny(reg_embeddings=0.01, reg_mode="l2_batch")
    used = ((rows.U[0] ** 2).sum() + (rows.V[[3, 1]] ** 2).sum() + (rows.X[[3, 1]] ** 2).sum()
            + (rows.X[[0, 1, 2]] ** 2).sum()).item()
    assert _reg_only(rows, batch) == pytest.approx(0.01 * used, rel=1e-6)
    separate = tiny(reg_weights=0.1, reg_mode="norm_clip", shared_qk=False)
    with torch.no_grad():
        separate.W_K.copy_(2 * torch.eye(2))
    assert _reg_only(separate, batch) == pytest.approx(0.1 * (2.0 + 8.0))


def test_norm_clipping_puts_rows_in_the_unit_ball():
    model = tiny(reg_mode="norm_clip")
    model.after_step()
    for table in (model.U, model.V, model.X):
        assert (table.norm(dim=1) <= 1 + 1e-6).all()
    assert model.X[1].tolist() == pytest.approx([0.0, 1.0])  # (0, 2) scaled down
    assert model.V[1].tolist() == pytest.approx([1.0, 0.0])  # already on the sphere: unchanged


def test_padding_row_gets_no_gradient_and_is_not_attended():
    model = AttRec(3, 5, models.make_config("attrec", "paper", d=4, seq_len=3, n_targets=1))
    batch = Batch(torch.tensor([0, 1]), torch.tensor([[5, 1, 2], [0, 1, 2]]), torch.tensor([[3], [4]]),
                  torch.tensor([[0], [1]]))
    model.loss(batch).backward()
    assert model.X.grad[5].abs().sum().item() == 0.0
    s = model.attention_weights(batch.inputs)
    assert s[0, :, 0].abs().sum().item() == 0.0


def test_seq_len_one_does_not_mask_its_only_item():
    model = AttRec(2, 4, models.make_config("attrec", "paper", d=4, seq_len=1, n_targets=1))
    m = model.short_term_intent(torch.tensor([[2]]))
    assert torch.allclose(m[0], model.X[2])


def test_presets_differ_where_paper_and_code_differ():
    paper, code = models.make_config("attrec", "paper"), models.make_config("attrec", "released_code")
    assert (paper.d, code.d) == (100, 150)
    assert (paper.mask, code.mask) == ("before_softmax", "after_softmax")
    assert (paper.time_embedding, code.time_embedding) == ("interleaved", "concatenated")
    assert (paper.reg_mode, code.reg_mode) == ("l2_batch", "l2_tables")
    assert paper.omega == code.omega == 0.2
    assert models.training_overrides("attrec", "released_code")["initial_accumulator"] == 0.05


@pytest.mark.parametrize("field,value,message", [
    ("omega", 1.5, "omega"), ("omega", -0.1, "omega"), ("seq_len", 0, "seq_len"), ("n_targets", 0, "n_targets"),
    ("aggregation", "median", "aggregation"), ("mask", "diagonal", "mask"), ("d", 0, "d"),
])
def test_invalid_config_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        models.make_config("attrec", "paper", **{field: value})


def test_unknown_preset_and_field():
    with pytest.raises(ValueError, match="unknown preset 'nope'.*paper"):
        models.make_config("attrec", "nope")
    with pytest.raises(ValueError, match="unknown config field"):
        models.make_config("attrec", "paper", omeg=0.2)
    with pytest.raises(ValueError, match="unknown model"):
        models.make_config("attrecc")


def test_training_step_reduces_the_loss():
    torch.manual_seed(0)
    model = AttRec(4, 10, models.make_config("attrec", "paper", d=8, seq_len=3, n_targets=2))
    batch = Batch(torch.tensor([0, 1, 2, 3]), torch.tensor([[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]]),
                  torch.tensor([[4, 5], [5, 6], [6, 7], [7, 8]]), torch.tensor([[9, 0], [0, 1], [1, 2], [2, 3]]))
    opt = torch.optim.Adagrad(model.parameters(), lr=0.05)
    first = model.loss(batch).item()
    for _ in range(20):
        opt.zero_grad()
        model.loss(batch).backward()
        opt.step()
    assert model.loss(batch).item() < first
    assert np.isfinite(first)
