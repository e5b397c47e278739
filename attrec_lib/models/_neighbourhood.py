"""Pieces shared by the simple (non-neural) baselines: ItemKNN, EASE, sequential rules, SKNN.

None of these models has trainable parameters. Each is fitted once, in ``prepare(split)``, from
``split.train`` alone (never ``split.valid`` or ``split.test``), like Pop; the trainer then
evaluates it once. Their fitted statistics are torch buffers, so ``model.to(device)`` moves them
and the evaluator scores them like any other model.

A user's *profile* (ItemKNN, EASE) is the set of items of their training sequence plus the
items of the input window handed to ``score``: at the validation stage the window lies inside
the training sequence; at the test stage it ends with the validation item, which every
sequential model reads as input too. Fitted statistics never see that item.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .base import check_choice

DISTANCE_WEIGHTS = ("same", "div", "quadratic", "linear")


def user_item_matrix(train, n_items: int) -> sp.csr_matrix:
    """(n_users, n_items) binary matrix: 1 where the item is in the user's training sequence."""
    lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
    rows = np.repeat(np.arange(len(train)), lengths)
    cols = np.concatenate([np.asarray(s, np.int64) for s in train]) if lengths.sum() else np.zeros(0, np.int64)
    x = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(train), n_items))
    x.data[:] = 1.0  # repeated items count once
    return x


def to_torch_sparse(matrix: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as a coalesced float32 torch COO tensor (for ``torch.sparse.mm``)."""
    coo = matrix.tocoo()
    index = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.as_tensor(coo.data, dtype=torch.float32)
    return torch.sparse_coo_tensor(index, values, coo.shape, check_invariants=True).coalesce()


def empty_sparse(rows: int, cols: int) -> torch.Tensor:
    return torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.int64), torch.zeros(0), (rows, cols),
                                   check_invariants=True).coalesce()


def times_sparse(queries: torch.Tensor, matrix_t: torch.Tensor) -> torch.Tensor:
    """(B, N) = queries (B, M) @ matrix (M, N), given ``matrix_t`` = matrix.T as sparse COO (N, M)."""
    return torch.sparse.mm(matrix_t, queries.T).T  # (B, N)


def profiles(history: torch.Tensor, users: torch.Tensor, inputs: torch.Tensor, n_items: int) -> torch.Tensor:
    """(B, N) binary profile of each user: training items (sparse ``history`` rows) plus the inputs."""
    rows = torch.index_select(history, 0, users).to_dense()  # (B, N)
    out = torch.zeros(len(users), n_items + 1, device=rows.device)  # + a PAD column
    out[:, :n_items] = rows
    out.scatter_(1, inputs, 1.0)
    return out[:, :n_items]  # (B, N)


def distance_weights(distances, scheme: str, steps: int) -> np.ndarray:
    """Weight of a pair of items ``distance`` positions apart (1 = adjacent), zero beyond ``steps``.

    ``same``: 1; ``div``: 1/d; ``quadratic``: 1/d^2; ``linear``: (steps + 1 - d) / steps (the
    weighting functions of Ludewig and Jannach's sequential rules).
    """
    check_choice("weighting", scheme, DISTANCE_WEIGHTS)
    d = np.asarray(distances, dtype=np.float64)
    if scheme == "same":
        w = np.ones_like(d)
    elif scheme == "div":
        w = 1.0 / d
    elif scheme == "quadratic":
        w = 1.0 / (d * d)
    else:
        w = (steps + 1 - d) / steps
    return np.where((d >= 1) & (d <= steps), w, 0.0)


def input_weights(seq_len: int, scheme: str) -> torch.Tensor:
    """(L,) weight of each input position, oldest first: the most recent item is at distance 1."""
    distance = np.arange(seq_len, 0, -1)  # (L,) L ... 1
    return torch.as_tensor(distance_weights(distance, scheme, seq_len), dtype=torch.float32)
