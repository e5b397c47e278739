"""AttRec: self-attentive metric learning for next-item recommendation.

Reference: Shuai Zhang, Yi Tay, Lina Yao, Aixin Sun, Jake An. "Next Item Recommendation with
Self-Attentive Metric Learning". AAAI 2019 workshop / arXiv:1808.06414, 2018.

Score (Eq. 10, lower distance = better; :meth:`AttRec.score` returns minus it)::

    y(u, i) = omega * ||U_u - V_i||^2 + (1 - omega) * ||m_u - X_i||^2

where ``m_u`` is the aggregated self-attention output over the user's last L items (Eq. 1-6)
with the sinusoidal time embedding (Eq. 7-8) added to query and key only. Loss: the hinge of
Eq. 11 with margin gamma, plus L2 (Eq. 11) or norm clipping (Eq. 12).

Where the paper's text and the authors' released TensorFlow code differ, :class:`AttRecConfig`
has a field and :data:`PRESETS` names both settings (``paper`` and ``released_code``):

=====================  ==============================  =================================
field                  paper (text)                    released code
=====================  ==============================  =================================
d                      100                             150
mask                   diagonal masked before softmax  softmax, then diagonal * 0
time_embedding         interleaved sin/cos (Eq. 7-8)   sin block then cos block
reg_mode               L2 on the batch's rows (*)      L2 on the whole U, V, X tables
pairs                  all T x T pairs (Eq. 11)        target t paired with negative t
init_std (U, V, X)     0.01 (not stated; our choice)   0.001 (truncated normal)
w_init (W)             Glorot uniform (not stated)     Glorot uniform (tf.layers.dense default)
Adagrad accumulator    0.1 (TensorFlow's default)      0.05
=====================  ==============================  =================================

(*) Our reading, not the paper's words: Eq. 11 writes lambda ||Theta||^2 over all parameters; we
apply it to the U, V, X rows the batch touches (the common minibatch practice). The released
code's reading (whole tables) is the ``released_code`` preset's ``reg_mode``; the two readings
have not been measured against each other on the ``paper`` preset.

Both read W_Q = W_K: the paper says query and key are projected "with shared parameters" and
writes W_Q = W_K (its "respectively" admits two matrices, so ``shared_qk=False`` is offered).

Deviations of ours, in both presets: padded positions (only for users shorter than L + T, never
in the paper's settings) are masked out as keys and left out of the aggregation; with L = 1 the
diagonal mask is skipped (it would mask the only item).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .distributions import Choice
from .base import (Batch, ModelConfig, SequentialRecommender, check_choice, check_range, compile_enabled,
                   squared_distances)


@dataclass(frozen=True)
class AttRecConfig(ModelConfig):
    d: int = 100  # latent dimension of U, V, X and W (paper 100, released code 150)
    omega: float = 0.2  # weight of the long-term term ||U_u - V_i||^2 (Eq. 10); 1 - omega on the short-term
    margin: float = 0.5  # gamma of the hinge loss (Eq. 11), fixed at 0.5 in the paper
    self_attention: bool = True  # False: m = mean of the L input embeddings (Table 3 ablation)
    aggregation: str = "mean"  # how the L attention outputs become m (Eq. 6; Table 4: mean/sum/max/min)
    shared_qk: bool = True  # one projection for query and key (W_Q = W_K) or two
    mask: str = "before_softmax"  # diagonal: -inf before softmax (paper), zeroed after (code), or "none"
    time_embedding: str = "interleaved"  # Eq. 7-8 "interleaved", code "concatenated", or "none"
    qk_dropout: float = 0.0  # dropout on the ReLU(X W) query/key layer (paper tunes {0, .3, .5, .7})
    reg_mode: str = "l2_batch"  # "l2_batch" rows used, "l2_tables" whole tables, "norm_clip" (Eq. 12)
    reg_embeddings: float = 0.001  # lambda on ||U||^2, ||V||^2, ||X||^2 (paper tunes {1e-1..1e-4})
    reg_weights: float = 0.001  # lambda on ||W_Q||^2 (+ ||W_K||^2), used in every reg_mode
    pairs: str = "all"  # hinge over "all" T x T (positive, negative) pairs (Eq. 11) or "aligned"
    hinge_reduction: str = "sum"  # "sum" over batch and pairs (Eq. 11, code) or "mean"
    init_std: float = 0.01  # std of the (truncated at 2 std) normal initialisation of U, V, X
    w_init: str = "glorot"  # W_Q/W_K init: "glorot" uniform (tf.layers.dense's default) or "normal" (init_std)

    def validate(self) -> "AttRecConfig":
        super().validate()
        check_range("d", self.d, 1)
        check_range("omega", self.omega, 0.0, 1.0)
        check_range("margin", self.margin, 0.0)
        check_range("qk_dropout", self.qk_dropout, 0.0, 1.0)
        check_range("reg_embeddings", self.reg_embeddings, 0.0)
        check_range("reg_weights", self.reg_weights, 0.0)
        check_range("init_std", self.init_std, 0.0, low_open=True)
        check_choice("aggregation", self.aggregation, {"mean", "sum", "max", "min"})
        check_choice("mask", self.mask, {"before_softmax", "after_softmax", "none"})
        check_choice("time_embedding", self.time_embedding, {"interleaved", "concatenated", "none"})
        check_choice("reg_mode", self.reg_mode, {"l2_batch", "l2_tables", "norm_clip"})
        check_choice("pairs", self.pairs, {"all", "aligned"})
        check_choice("hinge_reduction", self.hinge_reduction, {"sum", "mean"})
        check_choice("w_init", self.w_init, {"glorot", "normal"})
        return self


# Model settings of the two named presets (their training settings: AttRec.training and
# AttRec.preset_training below).
PRESETS = {
    "paper": AttRecConfig(),
    "released_code": AttRecConfig(
        d=150, mask="after_softmax", time_embedding="concatenated", reg_mode="l2_tables",
        # The code adds 0.001 * l2_loss(table) and 0.01 * l2_loss(W), and l2_loss = sum of squares / 2.
        reg_embeddings=0.0005, reg_weights=0.005, pairs="aligned", init_std=0.001,
    ),
}

SEARCH_SPACE = {  # the paper's grids (Implementation Details); lr 0.05 and d = 100 untuned, as there
    "omega": Choice((0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
    ("reg_embeddings", "reg_weights"): Choice((0.1, 0.01, 0.001, 0.0001)),  # one lambda
    "qk_dropout": Choice((0.0, 0.3, 0.5, 0.7)),
}


def time_embedding(seq_len: int, d: int, kind: str) -> torch.Tensor:
    """(L, d) sinusoidal time signal for positions t = 0..L-1.

    ``interleaved`` is Eq. 7-8: TE(t, 2i) = sin(t / 10000^(2i/d)), TE(t, 2i+1) = cos(same).
    ``concatenated`` is the Transformer "timing signal" the released code uses: d/2 timescales
    spaced geometrically from 1 to 10000, a block of sines followed by a block of cosines.
    """
    t = torch.arange(seq_len, dtype=torch.float64)[:, None]  # (L, 1)
    if kind == "none":
        return torch.zeros(seq_len, d)
    if kind == "interleaved":
        te = torch.zeros(seq_len, d, dtype=torch.float64)
        two_i = torch.arange(0, d, 2, dtype=torch.float64)  # 2i
        angle = t / torch.pow(10000.0, two_i / d)  # (L, ceil(d/2))
        te[:, 0::2] = torch.sin(angle)
        te[:, 1::2] = torch.cos(angle[:, : d // 2])
        return te.float()
    if kind == "concatenated":
        n_scales = d // 2
        step = math.log(10000.0) / max(n_scales - 1, 1)
        inv = torch.exp(-step * torch.arange(n_scales, dtype=torch.float64))  # (d/2,)
        angle = t * inv[None, :]  # (L, d/2)
        te = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
        if d % 2:
            te = F.pad(te, (0, 1))
        return te.float()
    raise ValueError(f"time_embedding must be interleaved, concatenated or none, got {kind!r}")


def _truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    return nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


class AttRec(SequentialRecommender):
    """Self-attention over the last L items (short-term) + user-item metric (long-term)."""

    config_class, presets = AttRecConfig, PRESETS
    search_space = SEARCH_SPACE
    training = {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.1}  # paper: Adagrad, lr 0.05
    preset_training = {"released_code": {"initial_accumulator": 0.05}}  # the released code's Adagrad

    def __init__(self, n_users: int, n_items: int, config: AttRecConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        d = config.d
        self.U = nn.Parameter(_truncated_normal_(torch.empty(n_users, d), config.init_std))
        self.V = nn.Parameter(_truncated_normal_(torch.empty(n_items, d), config.init_std))
        # X has one extra row for the padding item, kept at zero (its gradient is masked).
        X = _truncated_normal_(torch.empty(n_items + 1, d), config.init_std)
        X[n_items] = 0.0
        self.X = nn.Parameter(X)
        self.W_Q = nn.Parameter(self._init_weight(d))
        self.W_K = self.W_Q if config.shared_qk else nn.Parameter(self._init_weight(d))
        self.register_buffer("te", time_embedding(config.seq_len, d, config.time_embedding))
        self.X.register_hook(self._zero_pad_grad)
        self.use_fast_loss = True  # False: train with loss_plain (the autograd reference)

    def _init_weight(self, d: int) -> torch.Tensor:
        if self.config.w_init == "glorot":
            return nn.init.xavier_uniform_(torch.empty(d, d))
        return _truncated_normal_(torch.empty(d, d), self.config.init_std)

    def _zero_pad_grad(self, grad: torch.Tensor) -> torch.Tensor:
        if grad.is_sparse or not grad[self.n_items].any():  # the fast path's gradient is already clean
            return grad
        grad = grad.clone()
        grad[self.n_items] = 0.0
        return grad

    # -- short-term intent (Eq. 1-6) ---------------------------------------------------------
    def _project(self, x: torch.Tensor, inputs: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """(B, L, d) (X_t + TE_t) W, the time signal on query and key only (Eq. 2-3, 7-8).

        The projection is the dominant cost of an epoch (2 B L d^2 FLOPs forward, twice that
        backward). Since (X_t + TE_t) W = (X W)[t] + (TE W)_t, projecting the (N + 1, d) table once
        costs N + 1 rows instead of B * L; we do that whenever the table is the smaller (ML-100K:
        1,683 rows vs 5,000 per batch of 1,000 windows). Same value up to float rounding.
        """
        if self.X.shape[0] < inputs.numel():
            return (self.X @ W)[inputs] + self.te @ W  # (N + 1, d) -> (B, L, d) + (L, d)
        return (x + self.te) @ W
    def attention(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention weights s (B, L, L), embeddings X_t (B, L, d) and the valid mask (B, L)."""
        cfg = self.config
        x = self.X[inputs]  # (B, L, d)  Eq. 1
        valid = inputs != self.n_items  # (B, L)
        q = F.relu(self._project(x, inputs, self.W_Q))  # (B, L, d)  Eq. 2
        k = q if cfg.shared_qk else F.relu(self._project(x, inputs, self.W_K))  # Eq. 3
        if cfg.qk_dropout > 0:
            q = F.dropout(q, cfg.qk_dropout, self.training)
            k = q if cfg.shared_qk else F.dropout(k, cfg.qk_dropout, self.training)
        logits = q @ k.transpose(1, 2) / math.sqrt(cfg.d)  # (B, L, L)  Eq. 4
        L = inputs.shape[1]
        eye = torch.eye(L, dtype=torch.bool, device=inputs.device)
        blocked = ~valid[:, None, :]  # padded keys never attended
        if cfg.mask == "before_softmax" and L > 1:
            blocked = blocked | eye
        logits = logits.masked_fill(blocked, float("-inf"))
        s = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # rows with every key blocked -> 0
        if cfg.mask == "after_softmax" and L > 1:
            s = s.masked_fill(eye, 0.0)  # the released code: no renormalisation
        return s, x, valid

    def short_term_intent(self, inputs: torch.Tensor) -> torch.Tensor:
        """m (B, d): aggregation of the attention outputs a = s X (Eq. 5-6)."""
        cfg = self.config
        if cfg.self_attention:
            s, x, valid = self.attention(inputs)
            a = s @ x  # (B, L, d)  Eq. 5
        else:
            x = self.X[inputs]
            valid = inputs != self.n_items
            a = x  # Table 3: m = mean of X_t
        w = valid.unsqueeze(-1)  # (B, L, 1)
        if cfg.aggregation in ("mean", "sum"):
            total = (a * w).sum(1)  # (B, d)
            if cfg.aggregation == "sum":
                return total
            return total / w.sum(1).clamp_min(1)
        fill = float("-inf") if cfg.aggregation == "max" else float("inf")
        a = a.masked_fill(~w, fill)
        out = a.amax(1) if cfg.aggregation == "max" else a.amin(1)
        return out.masked_fill(~valid.any(1, keepdim=True), 0.0)

    def attention_weights(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, L, L) attention weights for the given input windows (Figure 3 heatmaps)."""
        with torch.no_grad():
            return self.attention(inputs)[0]

    # -- scoring (Eq. 9-10) ------------------------------------------------------------------
    def distance(self, users, m, items) -> torch.Tensor:
        """Eq. 10 for given (B, K) items: omega ||U_u - V_i||^2 + (1 - omega) ||m - X_i||^2."""
        w = self.config.omega
        # diff * diff equals diff ** 2 bit for bit but its backward is two multiplies instead of pow's chain
        du = self.U[users][:, None, :] - self.V[items]  # (B, K, d)
        dx = m[:, None, :] - self.X[items]  # (B, K, d)
        long = (du * du).sum(-1)  # (B, K)  Eq. 9
        short = (dx * dx).sum(-1)  # (B, K)
        return w * long + (1.0 - w) * short

    def score(self, users: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        w = self.config.omega
        m = self.short_term_intent(inputs)  # (B, d)
        dist = (1.0 - w) * squared_distances(m, self.X[: self.n_items])  # (B, N)
        if w > 0:
            dist = dist + w * squared_distances(self.U[users], self.V)
        return -dist

    # -- training objective (Eq. 11-12) ------------------------------------------------------
    def fast_loss_supported(self) -> bool:
        """Whether :class:`_AttRecLoss` (the hand-derived backward) covers this config: every
        setting of both presets; max/min aggregation, two projections, dropout and subclasses
        fall back to the plain equations."""
        cfg = self.config
        # a subclass (LSTM+) replaces parts of the model the fused loss writes out: plain path
        return (type(self) is AttRec and cfg.aggregation in ("mean", "sum") and cfg.shared_qk
                and cfg.qk_dropout == 0.0)

    def _fast_loss(self, batch: Batch, whole_tensor_l2: bool) -> torch.Tensor:
        return _AttRecLoss.apply(self.U, self.V, self.X, self.W_Q, self.te, batch.users, batch.inputs,
                                 torch.cat([batch.targets, batch.negatives], 1), self.config, not whole_tensor_l2)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Eq. 11 (+ regularisation): the fused fast path when supported, else :meth:`loss_plain`.
        Both compute the same value and gradients up to float rounding (tests/test_fast_losses.py)."""
        if self.use_fast_loss and self.fast_loss_supported():
            return self._fast_loss(batch, whole_tensor_l2=True)
        return self.loss_plain(batch)

    def loss_plain(self, batch: Batch) -> torch.Tensor:
        """Eq. 11 + regularisation written as the paper's equations, differentiated by autograd (the reference)."""
        return self._hinge(batch) + self.regularization(batch)

    def _hinge(self, batch: Batch) -> torch.Tensor:
        """Eq. 11's hinge term over the batch."""
        cfg = self.config
        m = self.short_term_intent(batch.inputs)
        # one gather and one distance pass for targets and negatives together (fewer small ops)
        T = batch.targets.shape[1]
        y = self.distance(batch.users, m, torch.cat([batch.targets, batch.negatives], 1))  # (B, 2T)
        y_pos, y_neg = y[:, :T], y[:, T:]  # (B, T) each
        if cfg.pairs == "all":
            gap = y_pos[:, :, None] + cfg.margin - y_neg[:, None, :]  # (B, T, T)
        else:
            gap = y_pos + cfg.margin - y_neg  # (B, T)
        hinge = F.relu(gap)
        return hinge.sum() if cfg.hinge_reduction == "sum" else hinge.mean()

    def loss_without_whole_tensor_l2(self, batch: Batch) -> torch.Tensor:
        if self.use_fast_loss and self.fast_loss_supported():
            return self._fast_loss(batch, whole_tensor_l2=False)
        return self._hinge(batch) + self.regularization(batch, whole_tensors=False)

    def whole_tensor_l2(self) -> dict:
        """The L2 terms on whole tensors: W always; U, V, X under ``l2_tables``."""
        cfg = self.config
        terms = {w: cfg.reg_weights for w in self.weight_matrices()}
        if cfg.reg_mode == "l2_tables":
            terms.update({self.U: cfg.reg_embeddings, self.V: cfg.reg_embeddings, self.X: cfg.reg_embeddings})
        return terms

    def weight_matrices(self) -> list:
        """The non-embedding weights under ``reg_weights``: W_Q (and W_K when not shared)."""
        return [self.W_Q] if self.config.shared_qk else [self.W_Q, self.W_K]

    def regularization(self, batch: Batch, whole_tensors: bool = True) -> torch.Tensor:
        """Eq. 11's L2 (or nothing but W's under norm clipping); ``whole_tensors=False`` leaves
        out the terms of :meth:`whole_tensor_l2` (the trainer gave them to the optimiser)."""
        cfg = self.config
        reg = torch.zeros((), device=self.U.device)
        if whole_tensors:
            reg = reg + cfg.reg_weights * sum((w ** 2).sum() for w in self.weight_matrices())
        if cfg.reg_mode == "l2_tables" and whole_tensors:
            tables = (self.U ** 2).sum() + (self.V ** 2).sum() + (self.X ** 2).sum()
            reg = reg + cfg.reg_embeddings * tables
        elif cfg.reg_mode == "l2_batch":
            items = torch.cat([batch.targets, batch.negatives], 1)
            rows = ((self.U[batch.users] ** 2).sum() + (self.V[items] ** 2).sum()
                    + (self.X[items] ** 2).sum() + (self.X[batch.inputs] ** 2).sum())
            reg = reg + cfg.reg_embeddings * rows
        return reg

    @torch.no_grad()
    def after_step(self) -> None:
        if self.config.reg_mode == "norm_clip":  # Eq. 12: rows inside the unit ball
            for table in (self.U, self.V, self.X):
                norms = table.norm(dim=1, keepdim=True).clamp_min(1.0)
                table.div_(norms)


class _AttRecLoss(torch.autograd.Function):
    """Eq. 11 + regularisation of one batch as one operation, with its backward derived by hand.

    Same value and gradients as :meth:`AttRec.loss_plain` up to float rounding, in a few large
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
    """The loss of :class:`_AttRecLoss` and, when ``need_grad``, its gradients (U, V, X, W)."""
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


# Registry hooks (see models/__init__.py).
MODEL, CONFIG = AttRec, AttRecConfig
# Training settings per preset (TrainConfig overrides); None applies when no preset is named.
TRAINING = {
    None: {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.1},
    "paper": {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.1},
    "released_code": {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.05},
}
