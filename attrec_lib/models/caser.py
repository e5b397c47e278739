"""Caser: convolutional sequence embedding.

Reference: Jiaxi Tang, Ke Wang. "Personalized Top-N Sequential Recommendation via Convolutional
Sequence Embedding". WSDM 2018.

Model (as the paper and its official PyTorch code): the L input item embeddings form an
L x d "image" E. Horizontal filters of every height h = 1..L (n_h of each, ReLU, max-pooled
over time) and n_v vertical filters of shape L x 1 are concatenated, passed through dropout
and a fully connected layer with ReLU: z (d). Score::

    y(u, i) = <[z ; P_u], W2_i> + b2_i          (W2: n_items x 2d, b2: n_items)

Loss: binary cross-entropy with sampled negatives (Caser's own setting):
``mean(-log sigmoid(y_pos)) + mean(-log(1 - sigmoid(y_neg)))`` over the T targets and the T
negatives; regularisation is the optimiser's weight decay (1e-6, Adam lr 1e-3, official code).

Deviations from Tang & Wang 2018 / their code:

* d = 100 (the AttRec paper's fairness rule; Caser's code defaults to 50).
* One uniform negative per target (T = 3 per window) from the shared trainer; Caser's code
  draws 3 negatives per window (the same count for T = 3), also uniformly, excluding the
  user's training items rather than only the window's targets.
* Batch size 1000 (the shared trainer; Caser's code uses 512).
* Initialisation as the official code: embeddings N(0, 1/d), W2 N(0, 1/(2d)), b2 = 0; conv
  and dense layers keep PyTorch's defaults.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .distributions import Choice, LogUniform
from ._shared import bce_loss, padded_table
from .base import Batch, ModelConfig, SequentialRecommender, check_range


@dataclass(frozen=True)
class CaserConfig(ModelConfig):
    d: int = 100  # latent dimension (AttRec paper: 100; Caser's code: 50)
    n_h: int = 16  # horizontal filters per height (Caser's code: 16)
    n_v: int = 4  # vertical filters (Caser's code: 4)
    dropout: float = 0.5  # dropout before the dense layer (Caser's code: 0.5)

    def validate(self):
        super().validate()
        check_range("d", self.d, 1)
        check_range("n_h", self.n_h, 1)
        check_range("n_v", self.n_v, 1)
        check_range("dropout", self.dropout, 0.0, 1.0)
        if self.dropout == 1.0:
            raise ValueError("dropout must be < 1, got 1.0")
        return self


PRESETS = {"paper": CaserConfig()}

SEARCH_SPACE = {  # learning rate, regularisation (weight decay), dropout; d stays 100
    "train.lr": LogUniform(1e-4, 1e-2),
    "train.weight_decay": LogUniform(1e-7, 1e-4),
    "dropout": Choice((0.0, 0.3, 0.5, 0.7)),
}


class Caser(SequentialRecommender):
    config_class, presets = CaserConfig, PRESETS
    search_space = SEARCH_SPACE
    # Caser's official code: Adam, lr 1e-3, weight decay 1e-6
    training = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-6}

    def __init__(self, n_users: int, n_items: int, config: CaserConfig | None = None):
        super().__init__(n_users, n_items, config)
        config = self.config
        d, L = config.d, config.seq_len
        self.E = padded_table(n_items, d, 1.0 / d)  # input items (+ PAD row)
        self.P = nn.Parameter(torch.randn(n_users, d) / d)  # users
        self.conv_v = nn.Conv2d(1, config.n_v, (L, 1))
        self.conv_h = nn.ModuleList(nn.Conv2d(1, config.n_h, (h, d)) for h in range(1, L + 1))
        self.fc1 = nn.Linear(config.n_v * d + config.n_h * L, d)
        self.W2 = nn.Parameter(torch.randn(n_items, 2 * d) / (2 * d))
        self.b2 = nn.Parameter(torch.zeros(n_items))

    def hidden(self, users, inputs) -> torch.Tensor:
        """(B, 2d) [z ; P_u]."""
        x = self.E(inputs)  # (B, L, d)
        B, L, d = x.shape
        # The convolutions written as matrix products with the same parameters: Conv2d on this
        # (1, L, d) "image" with (h, d) kernels is slow on a CPU (measured 1.6-2x slower per batch).
        w_v = self.conv_v.weight[:, 0, :, 0]  # (n_v, L)
        out_v = (torch.einsum("bld,vl->bvd", x, w_v) + self.conv_v.bias[None, :, None]).flatten(1)  # (B, n_v d)
        out_h = []
        for h, conv in enumerate(self.conv_h, start=1):
            win = x.unfold(1, h, 1).transpose(2, 3).reshape(B, L - h + 1, h * d)  # (B, L-h+1, h d)
            y = win @ conv.weight.reshape(conv.out_channels, h * d).T + conv.bias  # (B, L-h+1, n_h)
            out_h.append(F.relu(y).amax(1))  # max over positions -> (B, n_h)
        o = torch.cat([out_v, *out_h], dim=1)  # (B, n_v d + n_h L)
        z = F.relu(self.fc1(F.dropout(o, self.config.dropout, self.training)))  # (B, d)
        return torch.cat([z, self.P.index_select(0, users)], dim=1)  # index_select: backward adds rows

    def score(self, users, inputs):
        return self.hidden(users, inputs) @ self.W2.T + self.b2  # (B, N)

    def loss(self, batch: Batch) -> torch.Tensor:
        x = self.hidden(batch.users, batch.inputs)  # (B, 2d)
        # targets and negatives in one gather; index_select's backward adds rows (index_add),
        # cheaper on a CPU than advanced indexing's index_put; same values up to float rounding
        items = torch.cat([batch.targets, batch.negatives], 1)  # (B, 2T)
        flat = items.reshape(-1)
        w = self.W2.index_select(0, flat).view(*items.shape, -1)  # (B, 2T, 2d)
        y = torch.bmm(w, x[:, :, None]).squeeze(2) + self.b2.index_select(0, flat).view(items.shape)  # (B, 2T)
        T = batch.targets.shape[1]
        return bce_loss(y[:, :T], y[:, T:])

    def loss_plain(self, batch: Batch) -> torch.Tensor:
        """The same loss written directly (the reference :meth:`loss` is tested against)."""
        x = self.hidden(batch.users, batch.inputs)[:, None, :]  # (B, 1, 2d)
        pos = (x * self.W2[batch.targets]).sum(-1) + self.b2[batch.targets]  # (B, T)
        neg = (x * self.W2[batch.negatives]).sum(-1) + self.b2[batch.negatives]
        return bce_loss(pos, neg)
