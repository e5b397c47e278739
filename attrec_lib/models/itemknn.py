"""ItemKNN: item-based nearest neighbours with shrunk cosine similarity.

References: Badrul Sarwar, George Karypis, Joseph Konstan, John Riedl. "Item-based collaborative
filtering recommendation algorithms". WWW 2001. Mukund Deshpande, George Karypis. "Item-based
top-N recommendation algorithms". ACM TOIS 22(1), 2004. As tuned by Maurizio Ferrari Dacrema,
Paolo Cremonesi, Dietmar Jannach. "Are we really making much progress? A worrying analysis of
recent neural recommendation approaches". RecSys 2019 (cosine with shrinkage, top-k neighbours).

Fit (``prepare``, training sequences only): X is the binary user-item matrix of the training
sequences, c_ij = (X^T X)_ij the number of users with both i and j, c_i the users with i. The
similarity is the shrunk cosine ``s_ij = c_ij / (sqrt(c_i) sqrt(c_j) + shrink)`` with s_jj = 0;
each candidate item j keeps its ``k`` most similar items (column-wise top-k, ties by item id).
Score: ``y(u, j) = sum over i in profile(u) of s_ij``, where the profile is the user's training
items plus the input window (see ``_neighbourhood``); order is ignored.

Deviations: none in the method; the profile includes the input window (at the test stage the
validation item) so the model sees the same recent item every sequential model reads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .distributions import Choice
from ._neighbourhood import empty_sparse, profiles, times_sparse, to_torch_sparse, user_item_matrix
from .base import FittedRecommender, ModelConfig, check_range


@dataclass(frozen=True)
class ItemKNNConfig(ModelConfig):
    seq_len: int = 5  # L: input items added to the profile (the data set's L; windows as AttRec's)
    n_targets: int = 3  # T: targets per window (unused: nothing is trained)
    k: int = 100  # neighbours kept per candidate item (top-k of its column of similarities)
    shrink: float = 10.0  # shrinkage added to the cosine's denominator (damps rare co-occurrences)

    def validate(self):
        super().validate()
        check_range("k", self.k, 1)
        check_range("shrink", self.shrink, 0.0)
        return self


PRESETS = {"paper": ItemKNNConfig()}

# Ferrari Dacrema et al. 2019 search k in [5, 1000] and shrink in [0, 1000].
SEARCH_SPACE = {
    "k": Choice((5, 10, 20, 50, 100, 200, 500, 1000)),
    "shrink": Choice((0.0, 1.0, 10.0, 50.0, 100.0, 200.0, 500.0, 1000.0)),
}


def cosine_top_k(x, k: int, shrink: float):
    """(N, N) scipy CSR of shrunk cosine similarities, each column cut to its k largest entries."""
    x = x.tocsc().astype(np.float64)
    co = (x.T @ x).tocoo()  # (N, N) co-occurrence counts
    norms = np.sqrt(np.asarray(x.sum(0)).ravel())  # (N,) sqrt(c_i)
    off_diag = co.row != co.col
    rows, cols, counts = co.row[off_diag], co.col[off_diag], co.data[off_diag]
    sims = counts / (norms[rows] * norms[cols] + shrink)
    order = np.lexsort((rows, -sims, cols))  # by column, then similarity descending, then item id
    rows, cols, sims = rows[order], cols[order], sims[order]
    starts = np.searchsorted(cols, cols, side="left")  # first entry of each one's column
    keep = (np.arange(len(cols)) - starts) < k
    n = x.shape[1]
    return sp.csr_matrix((sims[keep], (rows[keep], cols[keep])), shape=(n, n))


class ItemKNN(FittedRecommender):
    config_class, presets = ItemKNNConfig, PRESETS  # no training settings: nothing is trained
    search_space = SEARCH_SPACE

    def __init__(self, n_users: int, n_items: int, config: ItemKNNConfig | None = None):
        super().__init__(n_users, n_items, config)
        self.register_buffer("history", empty_sparse(n_users, n_items))  # (U, N) binary
        self.register_buffer("similarity_t", empty_sparse(n_items, n_items))  # (N, N) s_ij transposed

    def prepare(self, split) -> None:
        x = user_item_matrix(split.train, self.n_items)
        self.history = to_torch_sparse(x)
        self.similarity_t = to_torch_sparse(cosine_top_k(x, self.config.k, self.config.shrink).T)

    def score(self, users, inputs):
        return times_sparse(profiles(self.history, users, inputs, self.n_items), self.similarity_t)  # (B, N)
