"""Baselines: each score against a hand-computed case, config errors, a smoke fit of every
registered model, and a short fit on planted sequences (every model beats Pop, the
sequence-aware ones beat BPR-MF)."""
import dataclasses
import math
import sys

import numpy as np
import pytest
import torch

from attrec_lib.runs import compute, runspec
from attrec_lib import models
from attrec_lib.data.sequences import split_leave_last_out
from attrec_lib.data.synthetic import planted_sequences
from attrec_lib.training.evaluate import evaluate
from attrec_lib.models.base import Batch
from attrec_lib.training.train import TrainConfig, fit

BASELINES = ["bprmf", "fmc", "fpmc", "hrm", "prme", "transrec", "caser", "lstm_plus", "pop", "sasrec"]
SEQUENCE_AWARE = ["fmc", "fpmc", "hrm", "prme", "transrec", "caser", "lstm_plus", "sasrec", "attrec"]
PAD = 3  # n_items in the hand-computed cases


def build(name, n_users=2, n_items=3, **overrides):
    torch.manual_seed(0)
    return models.build(name, n_users, n_items, models.make_config(name, "paper", **overrides)).eval()


def setp(param, values):
    with torch.no_grad():
        param.copy_(torch.tensor(values, dtype=torch.float32))


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def sqdist(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b))


USERS = torch.tensor([0, 1])
INPUTS = torch.tensor([[PAD, 2], [1, 0]])  # (B, L=2); the first row is left-padded
U = [[1.0, 2.0], [-1.0, 0.5]]
V = [[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]]
B = [0.1, -0.2, 0.3]
F = [[1.0, -1.0], [0.5, 2.0], [-2.0, 1.0], [0.0, 0.0]]  # + PAD row
Lt = [[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]


def check(model, expected):
    got = model.score(USERS, INPUTS)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got.detach().numpy(), np.array(expected), rtol=1e-5, atol=1e-5)


# -- scores by hand -----------------------------------------------------------------------

def test_bprmf_score_by_hand():
    m = build("bprmf", d=2)
    setp(m.U, U), setp(m.V, V), setp(m.b, B)
    check(m, [[dot(U[u], V[i]) + B[i] for i in range(3)] for u in range(2)])


def test_fmc_score_by_hand():
    m = build("fmc", d=2)
    setp(m.F.weight, F), setp(m.L, Lt), setp(m.b, B)
    prev = [2, 0]
    check(m, [[dot(F[prev[r]], Lt[i]) + B[i] for i in range(3)] for r in range(2)])
    assert not hasattr(m, "U")


def test_fpmc_score_by_hand():
    m = build("fpmc", d=2)
    setp(m.U, U), setp(m.V, V), setp(m.F.weight, F), setp(m.L, Lt), setp(m.b, B)
    prev = [2, 0]
    check(m, [[dot(U[r], V[i]) + dot(F[prev[r]], Lt[i]) + B[i] for i in range(3)] for r in range(2)])


def test_hrm_score_by_hand_average_pooling_skips_pad():
    m = build("hrm", d=2, seq_len=2, n_last=2)
    setp(m.U, U), setp(m.X.weight, F), setp(m.V, V), setp(m.b, B)
    # row 0: last items (PAD, 2) -> layer 1 = X_2; row 1: (1, 0) -> mean(X_1, X_0)
    t = [F[2], [(F[1][k] + F[0][k]) / 2 for k in range(2)]]
    h = [[(U[r][k] + t[r][k]) / 2 for k in range(2)] for r in range(2)]
    check(m, [[dot(h[r], V[i]) + B[i] for i in range(3)] for r in range(2)])


def test_prme_score_by_hand():
    m = build("prme", d=2, alpha=0.2)
    setp(m.U, U), setp(m.P, V), setp(m.S.weight, F)
    prev = [2, 0]
    check(m, [[-(0.2 * sqdist(U[r], V[i]) + 0.8 * sqdist(F[prev[r]], F[i])) for i in range(3)] for r in range(2)])


@pytest.mark.parametrize("distance", ["l2", "squared"])
def test_transrec_score_by_hand(distance):
    m = build("transrec", d=2, distance=distance)
    G = [[0.5, 0.0], [0.0, -0.5], [0.3, 0.4], [0.0, 0.0]]
    Tg, tu = [0.1, -0.2], [[0.0, 0.3], [-0.4, 0.0]]
    setp(m.gamma.weight, G), setp(m.T, Tg), setp(m.t, tu), setp(m.beta, B)
    prev = [2, 0]
    dist = (lambda x: x) if distance == "squared" else math.sqrt
    expected = [[B[i] - dist(sqdist([G[prev[r]][k] + Tg[k] + tu[r][k] for k in range(2)], G[i]))
                 for i in range(3)] for r in range(2)]
    check(m, expected)


def test_transrec_after_step_clips_items_to_unit_ball():
    m = build("transrec", d=2)
    setp(m.gamma.weight, [[3.0, 4.0], [0.3, 0.4], [0.0, -2.0], [0.0, 0.0]])
    m.after_step()
    np.testing.assert_allclose(m.gamma.weight.detach().numpy(),
                               [[0.6, 0.8], [0.3, 0.4], [0.0, -1.0], [0.0, 0.0]], rtol=1e-6)


def test_caser_score_by_hand():
    m = build("caser", d=2, seq_len=2, n_h=1, n_v=1)
    E = [[1.0, 2.0], [-1.0, 0.5], [0.5, 0.5], [0.0, 0.0]]
    P = [[0.2, -0.1], [0.4, 0.3]]
    wv, bv = [0.5, -1.0], 0.1  # vertical filter over the L = 2 rows
    wh1, bh1 = [1.0, -0.5], 0.0  # horizontal, height 1
    wh2, bh2 = [[0.5, 0.5], [-1.0, 1.0]], -0.2  # horizontal, height 2
    W1 = [[0.1, 0.2, -0.3, 0.4], [0.5, -0.6, 0.7, 0.8]]
    b1 = [0.05, -0.05]
    W2 = [[1.0, 0.0, 0.5, -0.5], [0.0, 1.0, -1.0, 0.2], [0.3, 0.3, 0.3, 0.3]]
    b2 = [0.1, 0.0, -0.1]
    setp(m.E.weight, E), setp(m.P, P)
    setp(m.conv_v.weight, [[[[wv[0]], [wv[1]]]]]), setp(m.conv_v.bias, [bv])
    setp(m.conv_h[0].weight, [[[wh1]]]), setp(m.conv_h[0].bias, [bh1])
    setp(m.conv_h[1].weight, [[wh2]]), setp(m.conv_h[1].bias, [bh2])
    setp(m.fc1.weight, W1), setp(m.fc1.bias, b1), setp(m.W2, W2), setp(m.b2, b2)
    relu = lambda x: max(x, 0.0)  # noqa: E731
    expected = []
    for r, row in enumerate(INPUTS.tolist()):
        e = [E[j] for j in row]  # 2 x d image
        o_v = [wv[0] * e[0][k] + wv[1] * e[1][k] + bv for k in range(2)]
        o_h1 = max(relu(dot(wh1, e[t]) + bh1) for t in range(2))
        o_h2 = relu(dot(wh2[0], e[0]) + dot(wh2[1], e[1]) + bh2)
        o = o_v + [o_h1, o_h2]
        z = [relu(dot(W1[k], o) + b1[k]) for k in range(2)]
        x = z + P[r]
        expected.append([dot(x, W2[i]) + b2[i] for i in range(3)])
    check(m, expected)


def test_lstm_plus_score_by_hand():
    m = build("lstm_plus", d=1, seq_len=2, omega=0.2)
    X = [[0.5], [-1.0], [2.0], [0.0]]
    Uu, Vv = [[0.3], [-0.2]], [[1.0], [0.0], [-0.5]]
    w_ih, w_hh = [0.5, -0.4, 0.8, 0.3], [0.2, 0.1, -0.6, 0.7]  # gates i, f, g, o
    b_ih, b_hh = [0.1, 0.2, 0.0, -0.1], [0.0, 0.1, 0.05, 0.0]
    setp(m.X, X), setp(m.U, Uu), setp(m.V, Vv)
    setp(m.lstm.weight_ih_l0, [[w] for w in w_ih]), setp(m.lstm.weight_hh_l0, [[w] for w in w_hh])
    setp(m.lstm.bias_ih_l0, b_ih), setp(m.lstm.bias_hh_l0, b_hh)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = []
    for r, row in enumerate(INPUTS.tolist()):
        h = c = 0.0
        for j in row:
            pre = [w_ih[g] * X[j][0] + b_ih[g] + w_hh[g] * h + b_hh[g] for g in range(4)]
            c = sig(pre[1]) * c + sig(pre[0]) * math.tanh(pre[2])
            h = sig(pre[3]) * math.tanh(c)
        expected.append([-(0.2 * (Uu[r][0] - Vv[i][0]) ** 2 + 0.8 * (h - X[i][0]) ** 2) for i in range(3)])
    check(m, expected)
    assert not hasattr(m, "W_Q")


def test_pop_counts_training_items_only():
    m = build("pop", n_users=2, n_items=3)
    split = split_leave_last_out(_dataset([[0, 0, 1, 2, 2], [0, 2, 1, 1]], 3))
    m.prepare(split)  # train: [0, 0, 1] and [0, 2]; valid/test items are not counted
    check(m, [[3.0, 1.0, 1.0]] * 2)
    assert not any(p.requires_grad for p in m.parameters())


def test_sasrec_without_blocks_is_layer_norm_of_last_embedding():
    m = build("sasrec", d=2, seq_len=2, n_blocks=0)
    E = [[1.0, 2.0], [-1.0, 0.5], [0.5, -0.5], [0.0, 0.0]]
    Pos = [[0.1, 0.2], [0.3, -0.4]]
    setp(m.item_emb.weight, E), setp(m.pos_emb.weight, Pos)
    expected = []
    for row in INPUTS.tolist():
        x = [E[row[-1]][k] * math.sqrt(2) + Pos[1][k] for k in range(2)]
        mu = sum(x) / 2
        var = sum((v - mu) ** 2 for v in x) / 2
        f = [(v - mu) / math.sqrt(var + 1e-8) for v in x]
        expected.append([dot(f, E[i]) for i in range(3)])
    check(m, expected)


def test_sasrec_last_output_is_causal_but_sees_every_input():
    m = build("sasrec", n_items=5, d=8, seq_len=3)
    base = m.last_output(torch.tensor([[0, 1, 2]]))
    assert not torch.allclose(base, m.last_output(torch.tensor([[3, 1, 2]])))


# -- losses -------------------------------------------------------------------------------

def test_bpr_loss_by_hand_and_l2_term_alone():
    m = build("bprmf", d=2, l2=0.0)
    setp(m.U, U), setp(m.V, V), setp(m.b, B)
    batch = Batch(torch.tensor([0]), torch.tensor([[PAD] * 5]), torch.tensor([[1, 2, 0]]), torch.tensor([[0, 0, 1]]))
    y = lambda i: dot(U[0], V[i]) + B[i]  # noqa: E731
    pairs = [(1, 0), (2, 0), (0, 1)]
    expected = sum(-math.log(1 / (1 + math.exp(-(y(p) - y(n))))) for p, n in pairs) / 3
    assert float(m.loss(batch).detach()) == pytest.approx(expected, rel=1e-5)
    reg = sum(sum(x * x for x in U[0]) + sum(x * x for x in V[p]) + sum(x * x for x in V[n]) + B[p] ** 2 + B[n] ** 2
              for p, n in pairs) / 3
    m2 = build("bprmf", d=2, l2=0.5)
    setp(m2.U, U), setp(m2.V, V), setp(m2.b, B)
    assert float(m2.loss(batch).detach()) - expected == pytest.approx(0.5 * reg, rel=1e-5)


def test_shifted_previous_items_are_true_transitions():
    from attrec_lib.models._shared import previous_items
    batch = Batch(torch.tensor([0]), torch.tensor([[4, 5, 6]]), torch.tensor([[7, 8, 9]]), torch.tensor([[0, 1, 2]]))
    assert previous_items(batch, "shifted").tolist() == [[6, 7, 8]]
    assert previous_items(batch, "last_input").tolist() == [[6, 6, 6]]


# -- config errors ------------------------------------------------------------------------

@pytest.mark.parametrize("name, field, value", [
    ("bprmf", "d", 0), ("bprmf", "l2", -1.0), ("fmc", "train_prev", "previous"), ("fpmc", "init_std", 0.0),
    ("hrm", "n_last", 9), ("prme", "alpha", 1.5), ("transrec", "distance", "cosine"),
    ("caser", "dropout", 1.0), ("caser", "n_h", 0), ("lstm_plus", "lstm_output", "max"),
    ("lstm_plus", "omega", 2.0), ("pop", "seq_len", 0), ("sasrec", "n_heads", 3), ("sasrec", "n_blocks", -1),
])
def test_invalid_config_names_the_field(name, field, value):
    with pytest.raises(ValueError, match=field):
        models.make_config(name, "paper", **{field: value})


@pytest.mark.parametrize("name", BASELINES)
def test_every_baseline_has_paper_preset_training_and_docstring(name):
    cfg = models.make_config(name, "paper")
    fields = {f.name for f in dataclasses.fields(cfg)}
    assert {"seq_len", "n_targets"} <= fields
    if "d" in fields:
        assert cfg.d == 100  # the AttRec paper's fairness rule
    assert models.training_overrides(name, None) == models.training_overrides(name, "paper")
    TrainConfig(**models.training_overrides(name, "paper")).validate()
    doc = sys.modules[models.model_class(name).__module__].__doc__
    assert doc and ("Deviation" in doc or name == "pop")


# -- every registered model end to end ----------------------------------------------------

def _dataset(seqs, n_items):
    from attrec_lib.data.sequences import SequenceDataset
    return SequenceDataset("tiny", len(seqs), n_items, tuple(np.asarray(s, np.int64) for s in seqs))


def _small(name):
    fields = {f.name for f in dataclasses.fields(models.config_class(name))}
    return {"d": 16} if "d" in fields else {}


@pytest.mark.parametrize("name", models.model_names())
def test_smoke_every_registered_model(name):
    rng = np.random.default_rng(1)
    # includes a user too short for a full window (left padding) and one with 2 items
    seqs = [rng.integers(0, 30, size=n) for n in [12, 15, 9, 20, 4, 2, 11]]
    split = split_leave_last_out(_dataset(seqs, 30))
    spec = runspec.make_spec("tiny", name, "paper", seed=0, train={"epochs": 2, "batch_size": 8},
                                 **_small(name))
    torch.manual_seed(0)
    model = models.build(name, split.n_users, split.n_items, models.make_config(name, None, **spec.model_config))
    result = fit(model, split, TrainConfig(**spec.train_config), seed=0, device="cpu", progress=False)
    assert 1 <= len(result.history) <= 2 and all(math.isfinite(h["loss"]) for h in result.history)
    scores = model.eval().score(torch.arange(3), torch.tensor([[30] * model.config.seq_len,
                                                               [1] * model.config.seq_len, [2] * model.config.seq_len]))
    assert scores.shape == (3, 30) and torch.isfinite(scores).all()
    ev = evaluate(model, split, "test", device="cpu")
    assert len(ev.ranks) == split.n_users and (ev.ranks >= 1).all() and (ev.ranks <= 30).all()


# -- planted sequential pattern -----------------------------------------------------------

@pytest.fixture(scope="module")
def planted_hr10():
    torch.set_num_threads(1)
    split = split_leave_last_out(planted_sequences(n_users=200, n_items=100, length=30, seed=0))
    out = {}
    for name in models.model_names():
        spec = runspec.make_spec("planted", name, "paper", seed=0,
                                     train={"epochs": 12, "batch_size": 100, "patience": 0}, **_small(name))
        result = compute.execute(spec, device="cpu", progress=False, split=split)
        out[name] = result["selections"]["valid_selected"]["test_hr@10"]
    return out


@pytest.mark.parametrize("name", [n for n in models.model_names() if n != "pop"])
def test_planted_pattern_every_model_beats_pop(planted_hr10, name):
    assert planted_hr10[name] >= planted_hr10["pop"] + 0.25, planted_hr10


@pytest.mark.parametrize("name", SEQUENCE_AWARE)
def test_planted_pattern_sequence_models_beat_bprmf(planted_hr10, name):
    assert planted_hr10[name] >= planted_hr10["bprmf"] + 0.15, planted_hr10
