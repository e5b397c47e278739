"""SASRec: self-attentive sequential recommendation.

Reference: Wang-Cheng Kang, Julian McAuley. "Self-Attentive Sequential Recommendation".
ICDM 2018.

Model: item embeddings (shared with the output layer; extra zero row for PAD) scaled by
sqrt(d), plus a learned positional embedding, dropout, padded positions zeroed; then
``n_blocks`` blocks of [layer norm -> causal single-head self-attention -> residual,
layer norm -> point-wise feed-forward (ReLU, dropout) -> residual, padded positions zeroed]
and a final layer norm. Score: ``y(i | inputs) = <F_L, M_i>`` where F_L is the output at the
**last** input position and M the item embedding table (dot product).
Loss: binary cross-entropy with one sampled negative per target,
``mean(-log sigmoid(y_pos)) + mean(-log(1 - sigmoid(y_neg)))``; Adam lr 1e-3.

Deviations from Kang & McAuley 2018:

* Our windows (L = 5 inputs, T = 3 targets), and only the last position's output predicts the
  T targets. SASRec trains every position to predict its next item over sequences of
  n = 50-200 items; with L = 5 and one training position per window it is handicapped, so
  its numbers here are a lower bound for SASRec, not a fair re-run.
* Not a baseline of the AttRec paper (an additional reference point).
* d = 100 (AttRec's fairness rule; SASRec uses 50); dropout 0.2 (SASRec's MovieLens-1M
  setting); Adam betas are the optimiser's defaults (0.9, 0.999) instead of (0.9, 0.98); no
  embedding L2 (SASRec's default).
* ``torch.nn.MultiheadAttention`` (with its input/output projection biases) implements the
  attention; weights start from Xavier-normal like the PyTorch port of SASRec.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .distributions import Choice, LogUniform
from ._shared import bce_loss
from .base import Batch, ModelConfig, SequentialRecommender, check_range


@dataclass(frozen=True)
class SASRecConfig(ModelConfig):
    d: int = 100  # hidden size = item embedding size (AttRec paper: 100; SASRec: 50)
    n_blocks: int = 2  # self-attention blocks (SASRec: 2)
    n_heads: int = 1  # attention heads (SASRec: 1)
    dropout: float = 0.2  # dropout rate (SASRec: 0.2 on MovieLens-1M, 0.5 on sparse sets)

    def validate(self):
        super().validate()
        check_range("d", self.d, 1)
        check_range("n_blocks", self.n_blocks, 0)
        check_range("n_heads", self.n_heads, 1)
        if self.d % self.n_heads:
            raise ValueError(f"n_heads must divide d, got n_heads={self.n_heads}, d={self.d}")
        check_range("dropout", self.dropout, 0.0, 1.0)
        if self.dropout == 1.0:
            raise ValueError("dropout must be < 1, got 1.0")
        return self


PRESETS = {"paper": SASRecConfig()}

SEARCH_SPACE = {  # learning rate, regularisation (weight decay), dropout; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "train.weight_decay": LogUniform(1e-7, 1e-4),
    "dropout": Choice((0.0, 0.2, 0.5)),
}


class _Block(nn.Module):
    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        self.ln_attn = nn.LayerNorm(d, eps=1e-8)
        self.attn = nn.MultiheadAttention(d, n_heads, dropout=dropout, batch_first=True)
        self.ln_ffn = nn.LayerNorm(d, eps=1e-8)
        self.ffn = nn.Sequential(nn.Linear(d, d), nn.Dropout(dropout), nn.ReLU(), nn.Linear(d, d),
                                 nn.Dropout(dropout))

    def forward(self, x, causal, keep):  # x (B, L, d), causal (L, L) bool, keep (B, L, 1)
        q = self.ln_attn(x)
        a, _ = self.attn(q, x, x, attn_mask=causal, need_weights=False)
        x = q + a  # SASRec's residual is on the normalised query
        h = self.ln_ffn(x)
        x = h + self.ffn(h)
        return x * keep


class SASRec(SequentialRecommender):
    config_class, presets = SASRecConfig, PRESETS
    search_space = SEARCH_SPACE
    # SASRec: Adam lr 1e-3
    training = {"optimizer": "adam", "lr": 1e-3}

    def __init__(self, n_users: int, n_items: int, config: SASRecConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        d = config.d
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=n_items)
        self.pos_emb = nn.Embedding(config.seq_len, d)
        self.blocks = nn.ModuleList(_Block(d, config.n_heads, config.dropout) for _ in range(config.n_blocks))
        self.ln_out = nn.LayerNorm(d, eps=1e-8)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        with torch.no_grad():
            self.item_emb.weight[n_items] = 0.0
        causal = torch.triu(torch.ones(config.seq_len, config.seq_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal)  # True = may not attend (a later position)

    def last_output(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, d) F at the last input position."""
        keep = (inputs != self.n_items).unsqueeze(-1).float()  # (B, L, 1)
        positions = torch.arange(inputs.shape[1], device=inputs.device)
        x = self.item_emb(inputs) * math.sqrt(self.config.d) + self.pos_emb(positions)  # (B, L, d)
        x = nn.functional.dropout(x, self.config.dropout, self.training) * keep
        for block in self.blocks:
            x = block(x, self.causal, keep)
        return self.ln_out(x[:, -1])

    def score(self, users, inputs):
        return self.last_output(inputs) @ self.item_emb.weight[: self.n_items].T  # (B, N)

    def loss(self, batch: Batch) -> torch.Tensor:
        h = self.last_output(batch.inputs)[:, None, :]  # (B, 1, d)
        pos = (h * self.item_emb(batch.targets)).sum(-1)  # (B, T)
        neg = (h * self.item_emb(batch.negatives)).sum(-1)
        return bce_loss(pos, neg)
