"""AttRec: self-attentive metric learning for next-item recommendation.

Reference: Shuai Zhang, Yi Tay, Lina Yao, Aixin Sun, Jake An. "Next Item Recommendation with
Self-Attentive Metric Learning". AAAI 2019 workshop / arXiv:1808.06414, 2018.

Score (Eq. 10, lower distance = better; :meth:`AttRec.score` returns minus it)::

    y(u, i) = omega * ||U_u - V_i||^2 + (1 - omega) * ||m_u - X_i||^2

where ``m_u`` is the aggregated self-attention output over the user's last L items (Eq. 1-6)
with the sinusoidal time embedding (Eq. 7-8) added to query and key only. Loss: the hinge of
Eq. 11 with margin gamma, plus L2 (Eq. 11) or norm clipping (Eq. 12); :meth:`AttRec.loss_plain`
writes it as the equations, and its fused form with a hand-derived backward, the fast path
training takes, is :mod:`attrec_lib.models.attrec_fused`.

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

from .attrec_fused import AttRecLoss
from .base import Batch, ModelConfig, SequentialRecommender, check_choice, check_range, squared_distances
from .distributions import Choice


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
        """Whether :class:`~attrec_lib.models.attrec_fused.AttRecLoss` (the hand-derived backward)
        covers this config: every setting of both presets; max/min aggregation, two projections,
        dropout and subclasses fall back to the plain equations."""
        cfg = self.config
        # a subclass (LSTM+) replaces parts of the model the fused loss writes out: plain path
        return (type(self) is AttRec and cfg.aggregation in ("mean", "sum") and cfg.shared_qk
                and cfg.qk_dropout == 0.0)

    def _fast_loss(self, batch: Batch, whole_tensor_l2: bool) -> torch.Tensor:
        return AttRecLoss.apply(self.U, self.V, self.X, self.W_Q, self.te, batch.users, batch.inputs,
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


# Registry hooks (see models/__init__.py).
MODEL, CONFIG = AttRec, AttRecConfig
# Training settings per preset (TrainConfig overrides); None applies when no preset is named.
TRAINING = {
    None: {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.1},
    "paper": {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.1},
    "released_code": {"optimizer": "adagrad", "lr": 0.05, "initial_accumulator": 0.05},
}
