"""SKNN: a sequence-aware nearest-neighbour model (STAN without its time factor).

Reference: Diksha Garg, Priyanka Gupta, Pankaj Malhotra, Lovekesh Vig, Gautam Shroff. "Sequence
and Time Aware Neighborhood for Session-based Recommendations: STAN". SIGIR 2019. It extends the
session-based kNN of Malte Ludewig, Dietmar Jannach. "Evaluation of session-based recommendation
algorithms". UMUAI 28, 2018 (V-SKNN: recency-weighted current session).

The current "session" s is the user's input window (the last L items, oldest first). The
neighbours are the other users' training sequences (the user's own is left out: its items are
the user's history, which the evaluator excludes anyway). With l = 1 for the most recent input:

* factor 1, recency in the query: item x_l has weight ``exp(-(l - 1) / lambda_recency)``;
  ``sim(s, n) = sum over distinct items of s that occur in n of their weight / sqrt(|s| |n|)``,
  |s| and |n| the numbers of distinct items (STAN Eq. 1-2); the ``k`` most similar sequences
  with sim > 0 are the neighbours (ties by user id);
* factor 3, position in the neighbour: the anchor is the latest occurrence in n of the most
  recent input item that n contains; an item d positions from the anchor (1 <= |d| <= ``reach``,
  only d > 0 when ``successors_only``) adds ``sim(s, n) * exp(-(|d| - 1) / lambda_position)``
  to its score (each occurrence counts).

Fit (``prepare``, training sequences only): the binary user-item matrix, each user's sequence,
and the latest position of every item in it (a dense users x items int32 table).

Deviations from STAN: no factor 2 (the time of the neighbour session; our sequences carry no
session times); sessions are users' whole training sequences; factor 3 is cut at ``reach``
positions and decays from 1 at |d| = 1 (STAN: exp(-|d| / lambda_3)); ``successors_only`` (ours)
keeps only items after the anchor, as sequential rules do.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .distributions import Choice
from ._neighbourhood import empty_sparse, times_sparse, to_torch_sparse, user_item_matrix
from .base import FittedRecommender, ModelConfig, check_range


@dataclass(frozen=True)
class SKNNConfig(ModelConfig):
    seq_len: int = 5  # L: input items forming the current session (the query)
    n_targets: int = 3  # T: targets per window (unused: nothing is trained)
    k: int = 100  # neighbour sequences per query
    lambda_recency: float = 2.0  # factor 1: decay of an input item's weight with its recency (in items)
    lambda_position: float = 2.0  # factor 3: decay of a neighbour item's weight with its distance to the anchor
    reach: int = 10  # factor 3: largest distance |d| to the anchor that is scored
    successors_only: bool = False  # score only items after the anchor (ours); STAN scores both sides

    def validate(self):
        super().validate()
        check_range("k", self.k, 1)
        check_range("lambda_recency", self.lambda_recency, 0.0, low_open=True)
        check_range("lambda_position", self.lambda_position, 0.0, low_open=True)
        check_range("reach", self.reach, 1)
        return self


PRESETS = {"paper": SKNNConfig()}

SEARCH_SPACE = {
    "seq_len": Choice((2, 3, 5, 10, 20)),
    "k": Choice((20, 50, 100, 200, 500)),
    "lambda_recency": Choice((1.0, 2.0, 5.0, 10.0)),
    "lambda_position": Choice((0.5, 1.0, 2.0, 5.0)),
    "successors_only": Choice((False, True)),
}


class SKNN(FittedRecommender):
    config_class, presets = SKNNConfig, PRESETS  # no training settings: nothing is trained
    search_space = SEARCH_SPACE

    def __init__(self, n_users: int, n_items: int, config: SKNNConfig | None = None):
        super().__init__(n_users, n_items, config)
        self.register_buffer("history", empty_sparse(n_users, n_items))  # (U, N) binary X
        self.register_buffer("sizes", torch.zeros(n_users))  # (U,) distinct items per training sequence
        self.register_buffer("sequences", torch.zeros(n_users, 0, dtype=torch.int64))  # (U, S) PAD-padded
        self.register_buffer("latest", torch.zeros(n_users, 0, dtype=torch.int32))  # (U, N + 1) or -1

    def prepare(self, split) -> None:
        x = user_item_matrix(split.train, self.n_items)
        self.history = to_torch_sparse(x)
        self.sizes = torch.as_tensor(np.asarray(x.sum(1)).ravel(), dtype=torch.float32)
        longest = max((len(s) for s in split.train), default=0)
        seqs = np.full((self.n_users, longest), self.n_items, np.int64)
        latest = np.full((self.n_users, self.n_items + 1), -1, np.int32)  # PAD column stays -1
        for u, s in enumerate(split.train):
            s = np.asarray(s, np.int64)
            seqs[u, :len(s)] = s
            latest[u, s] = np.arange(len(s), dtype=np.int32)  # a repeated item keeps its last position
        self.sequences = torch.as_tensor(seqs)
        self.latest = torch.as_tensor(latest)

    def score(self, users, inputs):
        cfg = self.config
        if self.latest.shape[1] != self.n_items + 1:
            raise RuntimeError("SKNN.score called before prepare(split)")
        n_batch, seq_len = inputs.shape
        device = inputs.device
        recency = torch.arange(seq_len - 1, -1, -1, device=device, dtype=torch.float32)  # (L,) l - 1
        weights = torch.exp(-recency / cfg.lambda_recency).expand(n_batch, seq_len)  # (B, L)
        query = torch.zeros(n_batch, self.n_items + 1, device=device)
        query.scatter_reduce_(1, inputs, weights, reduce="amax")  # a repeated input keeps its latest weight
        query = query[:, :self.n_items]  # (B, N)
        distinct = (query > 0).sum(1, keepdim=True).clamp_min(1).float()  # (B, 1) |s|
        sims = times_sparse(query, self.history)  # (B, U) = query @ X^T
        sims = sims / torch.sqrt(distinct * self.sizes.clamp_min(1.0))
        sims[torch.arange(n_batch, device=device), users] = 0.0  # not one's own sequence
        k = min(cfg.k, self.n_users)
        # top-k with ties broken by user id: sort by (-sim, user) through a stable sort
        order = torch.sort(sims, dim=1, descending=True, stable=True).indices[:, :k]  # (B, k)
        top = sims.gather(1, order)  # (B, k)
        # anchor: latest position in the neighbour of the most recent input item it contains
        positions = self.latest[order[:, :, None], inputs[:, None, :]].long()  # (B, k, L)
        present = positions >= 0
        last_present = seq_len - 1 - present.flip(-1).long().argmax(-1)  # (B, k) index of the latest present input
        anchor = positions.gather(2, last_present[:, :, None]).squeeze(2)  # (B, k)
        lo = 1 if cfg.successors_only else -cfg.reach
        offsets = torch.tensor([d for d in range(lo, cfg.reach + 1) if d != 0], device=device)  # (D,)
        where = anchor[:, :, None] + offsets  # (B, k, D)
        length = self.sequences.shape[1]
        valid = (where >= 0) & (where < length) & (top[:, :, None] > 0) & present.any(-1, keepdim=True)
        items = self.sequences[order[:, :, None], where.clamp(0, max(length - 1, 0))]  # (B, k, D), PAD past the end
        decay = torch.exp(-(offsets.abs().float() - 1.0) / cfg.lambda_position)  # (D,)
        contrib = (top[:, :, None] * decay) * valid  # (B, k, D)
        scores = torch.zeros(n_batch, self.n_items + 1, device=device)
        scores.scatter_add_(1, items.reshape(n_batch, -1), contrib.reshape(n_batch, -1))
        return scores[:, :self.n_items]  # (B, N)
