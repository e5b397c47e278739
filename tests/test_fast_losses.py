"""Fast losses against their plain equations: AttRec (one autograd Function, hand-derived backward) and Caser."""
import pytest
import torch

from attrec_lib import models
from attrec_lib.models.base import Batch

CASES = [
    ("paper", {}), ("released_code", {}),
    ("paper", {"aggregation": "sum", "pairs": "aligned", "hinge_reduction": "mean"}),
    ("paper", {"mask": "none", "reg_mode": "norm_clip"}),
    ("paper", {"self_attention": False}),
    ("released_code", {"mask": "before_softmax", "seq_len": 1}),
]


def random_batch(n_users, n_items, B, L, T, gen, pad_some=True):
    inputs = torch.randint(0, n_items, (B, L), generator=gen)
    if pad_some:  # left padding as short users get it, including a window with one real item
        inputs[0, :-1] = n_items
        inputs[1, :2] = n_items
    return Batch(torch.randint(0, n_users, (B,), generator=gen), inputs,
                 torch.randint(0, n_items, (B, T), generator=gen), torch.randint(0, n_items, (B, T), generator=gen))


def grads_of(model, batch, fast: bool, folded: bool):
    model.zero_grad(set_to_none=True)
    model.use_fast_loss = fast
    loss = model.loss_without_whole_tensor_l2(batch) if folded else model.loss(batch)
    loss.backward()
    return loss.detach(), {n: torch.zeros_like(p) if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("preset,overrides", CASES)
@pytest.mark.parametrize("folded", [False, True])
@pytest.mark.parametrize("n_items,B", [(40, 64), (200, 16)])  # table projected once / per window
def test_fast_loss_matches_plain(preset, overrides, folded, n_items, B):
    gen = torch.Generator().manual_seed(n_items + B)
    torch.manual_seed(0)
    cfg = models.make_config("attrec", preset, d=12, **overrides)
    model = models.build("attrec", 30, n_items, cfg)
    with torch.no_grad():  # larger weights than the init so that hinges and ReLUs are mixed
        for p in model.parameters():
            p.mul_(30.0 if p.dim() == 2 and p.shape[0] > 12 else 1.0)
        model.X[n_items] = 0.0
    assert model.fast_loss_supported()
    batch = random_batch(30, n_items, B, cfg.seq_len, cfg.n_targets, gen)
    loss_f, g_f = grads_of(model, batch, True, folded)
    loss_p, g_p = grads_of(model, batch, False, folded)
    assert torch.allclose(loss_f, loss_p, rtol=1e-5, atol=1e-5)
    assert 0 < loss_p
    for name in g_p:
        assert torch.allclose(g_f[name], g_p[name], rtol=1e-4, atol=1e-5), name
    assert g_f["X"][n_items].abs().sum() == 0


def test_unsupported_config_falls_back_to_plain():
    model = models.build("attrec", 10, 20, models.make_config("attrec", "paper", d=8, aggregation="max"))
    assert not model.fast_loss_supported()
    gen = torch.Generator().manual_seed(1)
    batch = random_batch(10, 20, 8, 5, 3, gen)
    assert torch.equal(model.loss(batch), model.loss_plain(batch))


def test_caser_loss_matches_its_plain_form():
    torch.manual_seed(0)
    model = models.build("caser", 20, 50, models.make_config("caser", "paper", d=16))
    model.eval()  # no dropout, so both forms see the same network
    batch = random_batch(20, 50, 32, 5, 3, torch.Generator().manual_seed(2))
    grads = []
    for fn in (model.loss, model.loss_plain):
        model.zero_grad(set_to_none=True)
        loss = fn(batch)
        loss.backward()
        grads.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (loss_f, g_f), (loss_p, g_p) = grads
    assert torch.allclose(loss_f, loss_p, rtol=1e-6, atol=1e-6)
    for name in g_p:
        assert torch.allclose(g_f[name], g_p[name], rtol=1e-5, atol=1e-7), name


def test_lstm_plus_keeps_the_plain_loss():
    model = models.build("lstm_plus", 10, 20, models.make_config("lstm_plus", "paper", d=8))
    assert not model.fast_loss_supported()
    batch = random_batch(10, 20, 8, model.config.seq_len, model.config.n_targets, torch.Generator().manual_seed(3))
    assert torch.isfinite(model.loss(batch))


def test_lockstep_tool_reports_both_paths():
    from attrec_lib.bench.fast_vs_plain import lockstep
    from attrec_lib.data.sequences import split_leave_last_out
    from attrec_lib.data.synthetic import planted_sequences
    split = split_leave_last_out(planted_sequences(n_users=30, n_items=40, length=15), hold_out_valid=False)
    r = lockstep(split, "paper", epochs=1, batch_size=50)
    assert r["plain_cpu_ms_per_step"] > 0 and r["fast_cpu_ms_per_step"] > 0
    assert r["max_relative_parameter_difference_per_epoch"][0] < 1e-3  # one short epoch: still rounding-level
