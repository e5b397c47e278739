"""AttRec's fused training loss: Eq. 11 + regularisation of one batch as one autograd operation,
with its backward derived by hand (:class:`AttRecLoss`).

It is the fast path of :meth:`attrec_lib.models.attrec.AttRec.loss` (``use_fast_loss``, for the
configs :meth:`~attrec_lib.models.attrec.AttRec.fast_loss_supported` names); the reference is
:meth:`~attrec_lib.models.attrec.AttRec.loss_plain`, the paper's equations differentiated by autograd.
Both give the same value and gradients up to float rounding (tests/test_fast_losses.py); AttRec's
golden runs train through this path.
"""
from __future__ import annotations

import math

import torch

from .base import compile_enabled


class AttRecLoss(torch.autograd.Function):
    """Eq. 11 + regularisation of one batch as one operation, with its backward derived by hand.

    Same value and gradients as ``AttRec.loss_plain`` up to float rounding, in a few large
    operations instead of ~700 small ones (the profile in the study notes: gathers, their
    index_put backward and element-wise ops on (B, 2T, d) tensors dominated). The gradients are
    computed in the forward (the loss is a scalar, so backward only scales them) and written
    into the tables with ``index_add_`` (rows), never through dense index_put.

    Forward, with x = X[inputs] (B, L, d), u = U[users], v = V[items], xi = X[items] (B, K, d):
        h = x W + TE W, q = ReLU(h)                          Eq. 2-3, 7-8 (W_Q = W_K)
        p = softmax(mask(q q^T / sqrt d)), s = p (or p with a zero diagonal, released code)
        m = r x with r = c^T s, c_l = valid_l / #valid (mean) or valid_l (sum)   Eq. 5-6
        y = omega ||u - v||^2 + (1 - omega) ||m - xi||^2    Eq. 10
        loss = sum (or mean) of ReLU(y_pos + gamma - y_neg) over the pairs        Eq. 11
    Backward, g_z = d loss / d z:
        g_y from the active hinge terms; g_u = 2 omega sum_k g_y (u - v), g_v = -2 omega g_y (u - v),
        g_m = 2 (1 - omega) sum_k g_y (m - xi), g_xi = -2 (1 - omega) g_y (m - xi); under l2_batch
        each use of a row adds 2 lambda row, summed per table row as 2 lambda (uses) row;
        g_x = r g_m (outer) + ..., g_r = x . g_m, g_s = c g_r (outer), softmax backward to g_logits,
        g_q = (g_logits + g_logits^T) q / sqrt d, g_h = g_q [h > 0], g_W = (x + TE)^T g_h, g_x += g_h W^T.
    """

    @staticmethod
    def forward(ctx, U, V, X, W, te, users, inputs, items, cfg, folded):
        need = any(ctx.needs_input_grad[:4])
        # inside a compiled caller (train.fit under ATTREC_COMPILE=1) dynamo traces the plain function
        compiled = compile_fast_loss() and not torch.compiler.is_compiling()
        fn = _compiled_loss_and_grads() if compiled else _loss_and_grads
        out = fn(U, V, X, W, te, users, inputs, items, cfg, folded, need)
        if not need:
            return out
        loss, *ctx.grads = out
        return loss

    @staticmethod
    def backward(ctx, g_loss):
        grads = ctx.grads
        del ctx.grads  # a second backward through the same graph is not supported
        # d(c * loss) = c * d loss; the trainer's backward() passes c = 1, which costs nothing
        if not (g_loss.device.type == "cpu" and float(g_loss) == 1.0):
            grads = [g * g_loss for g in grads]
        grads = [g if need else None for g, need in zip(grads, ctx.needs_input_grad)]
        return (*grads, None, None, None, None, None, None)


def compile_fast_loss() -> bool:
    """torch.compile the fused loss (``ATTREC_COMPILE``, see :func:`base.compile_enabled`)."""
    return compile_enabled()


_COMPILED = {}


def _compiled_loss_and_grads():
    """:func:`_loss_and_grads` through torch.compile, built once per process."""
    if "fn" not in _COMPILED:
        _COMPILED["fn"] = torch.compile(_loss_and_grads, dynamic=False)
    return _COMPILED["fn"]


def _loss_and_grads(U, V, X, W, te, users, inputs, items, cfg, folded, need_grad):
    """The loss of :class:`AttRecLoss` and, when ``need_grad``, its gradients (U, V, X, W)."""
    B, L = inputs.shape
    K, T = items.shape[1], items.shape[1] // 2
    d = X.shape[1]
    pad = X.shape[0] - 1
    omega, scale = cfg.omega, 1.0 / math.sqrt(d)
    flat_in, flat_items = inputs.reshape(-1), items.reshape(-1)
    x = X.index_select(0, flat_in).view(B, L, d)  # (B, L, d)  Eq. 1
    valid = inputs != pad  # (B, L)
    if cfg.self_attention:
        if X.shape[0] < inputs.numel():  # project the table once (see AttRec._project)
            XW = X @ W  # (N + 1, d)
            h = XW.index_select(0, flat_in).view(B, L, d) + te @ W  # (B, L, d)
        else:
            h = (x + te) @ W
        q = torch.relu(h)  # (B, L, d)
        logits = torch.bmm(q, q.transpose(1, 2)) * scale  # (B, L, L)  Eq. 4
        pos = torch.arange(L, device=X.device)
        eye = pos[:, None] == pos  # (L, L) diagonal
        blocked = ~valid[:, None, :]
        if cfg.mask == "before_softmax" and L > 1:
            blocked = blocked | eye
        p = torch.softmax(logits.masked_fill(blocked, float("-inf")), dim=-1).nan_to_num_(0.0)
        s = p.masked_fill(eye, 0.0) if cfg.mask == "after_softmax" and L > 1 else p
    c = valid.to(X.dtype)  # (B, L)
    if cfg.aggregation == "mean":
        c = c / c.sum(1, keepdim=True).clamp_min(1.0)
    r = torch.bmm(c[:, None, :], s).squeeze(1) if cfg.self_attention else c  # (B, L)
    m = torch.bmm(r[:, None, :], x).squeeze(1)  # (B, d)  Eq. 5-6
    u = U.index_select(0, users)  # (B, d)
    v = V.index_select(0, flat_items).view(B, K, d)  # (B, K, d)
    xi = X.index_select(0, flat_items).view(B, K, d)
    du = u[:, None, :] - v  # (B, K, d)
    dx = m[:, None, :] - xi
    y = omega * (du * du).sum(-1) + (1.0 - omega) * (dx * dx).sum(-1)  # (B, K)  Eq. 10
    y_pos, y_neg = y[:, :T], y[:, T:]
    if cfg.pairs == "all":
        gap = y_pos[:, :, None] + cfg.margin - y_neg[:, None, :]  # (B, T, T)
    else:
        gap = y_pos + cfg.margin - y_neg  # (B, T)
    hinge = torch.relu(gap)
    loss = hinge.sum() if cfg.hinge_reduction == "sum" else hinge.mean()
    lam = cfg.reg_embeddings
    if not folded:
        loss = loss + cfg.reg_weights * (W * W).sum()
    if cfg.reg_mode == "l2_tables" and not folded:
        loss = loss + lam * ((U * U).sum() + (V * V).sum() + (X * X).sum())
    elif cfg.reg_mode == "l2_batch":
        loss = loss + lam * ((u * u).sum() + (v * v).sum() + (xi * xi).sum() + (x * x).sum())
    if not need_grad:
        return loss

    # -- backward, by hand --------------------------------------------------------------
    # du and dx are not needed after this point: their buffers become the gradients.
    active = (gap > 0).to(X.dtype)
    if cfg.hinge_reduction == "mean":
        active /= gap.numel()
    if cfg.pairs == "all":
        g_y = torch.cat([active.sum(2), -active.sum(1)], 1)  # (B, K)
    else:
        g_y = torch.cat([active, -active], 1)
    g_du = du.mul_(((2.0 * omega) * g_y)[:, :, None])  # (B, K, d): g_u per item, -g_v
    g_dx = dx.mul_(((2.0 * (1.0 - omega)) * g_y)[:, :, None])  # g_m per item, -g_xi
    g_u = g_du.sum(1)  # (B, d)
    g_m = g_dx.sum(1)  # (B, d)
    g_x = r[:, :, None] * g_m[:, None, :]  # (B, L, d)
    g_W = g_X_dense = None
    if cfg.self_attention:
        g_r = torch.bmm(x, g_m[:, :, None]).squeeze(2)  # (B, L)
        g_p = c[:, :, None] * g_r[:, None, :]  # (B, L, L): g_s
        if cfg.mask == "after_softmax" and L > 1:
            g_p.masked_fill_(eye, 0.0)
        g_logits = p * (g_p - (g_p * p).sum(-1, keepdim=True))  # softmax backward
        g_h = torch.bmm(g_logits + g_logits.transpose(1, 2), q).mul_(scale)  # (B, L, d)
        g_h.masked_fill_(h <= 0, 0.0)  # ReLU
        if X.shape[0] < inputs.numel():
            g_XW = torch.zeros_like(X).index_add_(0, flat_in, g_h.reshape(-1, d))  # (N + 1, d)
            g_W = X.T @ g_XW + te.T @ g_h.sum(0)  # (d, d)
            g_X_dense = g_XW @ W.T
        else:
            g_W = (x + te).reshape(-1, d).T @ g_h.reshape(-1, d)
            g_x += g_h @ W.T
    g_X = torch.zeros_like(X) if g_X_dense is None else g_X_dense
    g_X.index_add_(0, flat_in, g_x.reshape(-1, d)).index_add_(0, flat_items, g_dx.reshape(-1, d), alpha=-1.0)
    g_U = torch.zeros_like(U).index_add_(0, users, g_u)
    g_V = torch.zeros_like(V).index_add_(0, flat_items, g_du.reshape(-1, d), alpha=-1.0)
    if cfg.reg_mode == "l2_batch":  # 2 lambda per use of a row: 2 lambda * (times used) * row
        def uses(idx, n):
            return torch.bincount(idx, minlength=n).to(X.dtype)[:, None]
        g_U += (2.0 * lam) * uses(users, U.shape[0]) * U
        g_V += (2.0 * lam) * uses(flat_items, V.shape[0]) * V
        g_X += (2.0 * lam) * (uses(flat_items, X.shape[0]) + uses(flat_in, X.shape[0])) * X
    if g_W is None:
        g_W = torch.zeros_like(W)
    if not folded:
        g_W = g_W + (2.0 * cfg.reg_weights) * W
        if cfg.reg_mode == "l2_tables":
            g_U, g_V, g_X = g_U + (2.0 * lam) * U, g_V + (2.0 * lam) * V, g_X + (2.0 * lam) * X
    g_X[pad] = 0.0  # the padding row never learns
    return loss, g_U, g_V, g_X, g_W
