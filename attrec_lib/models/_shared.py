"""Small pieces shared by the baseline models (losses, tables with a PAD row, previous items).

Conventions used by every baseline:

* Loss terms are averaged over the B x T (target, negative) pairs of a batch, so the learning
  rate does not depend on the batch size.
* ``l2`` regularisation is per pair, as in the SGD form of BPR-Opt (Rendle et al. 2009): each
  pair adds ``l2 * (sum of squares of the parameter rows it touched)``, averaged over pairs.
* Tables read with sequence inputs have one extra row for PAD (= n_items), which is zero and
  never updated (``nn.Embedding(padding_idx=PAD)``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Batch, check_choice

TRAIN_PREV_CHOICES = {"shifted", "last_input"}


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Mean over pairs of -log sigmoid(pos - neg) (Rendle et al. 2009, BPR-Opt)."""
    return -F.logsigmoid(pos - neg).mean()


def bce_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives: mean -log s(pos) + mean -log(1 - s(neg))."""
    return -F.logsigmoid(pos).mean() - F.logsigmoid(-neg).mean()


def normal_table(rows: int, d: int, std: float) -> nn.Parameter:
    return nn.Parameter(torch.randn(rows, d) * std)


def padded_table(n_items: int, d: int, std: float) -> nn.Embedding:
    """(n_items + 1, d) embedding whose last row (PAD) is zero and gets no gradient."""
    emb = nn.Embedding(n_items + 1, d, padding_idx=n_items)
    with torch.no_grad():
        emb.weight.normal_(0.0, std)
        emb.weight[n_items] = 0.0
    return emb


def previous_items(batch: Batch, mode: str) -> torch.Tensor:
    """(B, T) the item preceding each target.

    ``shifted``: target t follows targets[t-1] (inputs[:, -1] for t = 0): every training pair
    is a true consecutive transition, as in the original FPMC / PRME / TransRec training.
    ``last_input``: every target is paired with inputs[:, -1], the item scoring uses.
    """
    check_choice("train_prev", mode, TRAIN_PREV_CHOICES)
    last = batch.inputs[:, -1:]  # (B, 1)
    if mode == "last_input":
        return last.expand_as(batch.targets)
    return torch.cat([last, batch.targets[:, :-1]], dim=1)  # (B, T)


def sq(x: torch.Tensor) -> torch.Tensor:
    """Sum of squares over the last dimension."""
    return (x * x).sum(-1)
