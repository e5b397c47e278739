"""Full-ranking evaluation: every item is a candidate, HR@K, MRR and NDCG@K per user.

Protocol (the paper's Eq. 13-14 and the released code):

* Each user with a target item at the stage (``valid`` or ``test``) is ranked once. The input is
  the last L items before the target: the last L training items for ``valid``; for ``test`` the
  last L items of training + validation.
* Candidates are all items except the user's history before the target (training items, plus
  the validation item at the test stage); ``exclude_history=False`` keeps them. The target itself
  is never excluded, even if the user consumed it before (repeat consumption).
* Ties never help: the rank of the target is 1 + the number of candidates scoring strictly
  higher + the number of other candidates scoring exactly the same (the pessimistic rank). A
  model that gives every item the same score ranks every target last.
* MRR is 1 / rank over the whole candidate list (not cut at K); NDCG@K = 1 / log2(rank + 1) when
  rank <= K, else 0 (one relevant item, so the ideal DCG is 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.sequences import Split

DEFAULT_KS = (10, 50)


@dataclass
class Evaluation:
    users: np.ndarray  # (n,) evaluated users
    ranks: np.ndarray  # (n,) 1-based pessimistic rank of each user's target

    def metrics(self, ks=DEFAULT_KS, ndcg_k: int = 10) -> dict:
        return summarize(self.ranks, ks, ndcg_k)


def per_user_metrics(ranks: np.ndarray, ks=DEFAULT_KS, ndcg_k: int = 10) -> dict:
    """Per-user metric arrays from ranks: ``hr@K`` (0/1), ``mrr``, ``ndcg@K``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    out = {f"hr@{k}": (ranks <= k).astype(np.float64) for k in ks}
    out["mrr"] = 1.0 / ranks
    out[f"ndcg@{ndcg_k}"] = np.where(ranks <= ndcg_k, 1.0 / np.log2(ranks + 1.0), 0.0)
    return out


def summarize(ranks: np.ndarray, ks=DEFAULT_KS, ndcg_k: int = 10) -> dict:
    """Mean of each per-user metric (an empty rank list gives NaN)."""
    if len(ranks) == 0:
        return {name: float("nan") for name in per_user_metrics(np.ones(1), ks, ndcg_k)}
    return {name: float(v.mean()) for name, v in per_user_metrics(ranks, ks, ndcg_k).items()}


def pessimistic_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B,) 1-based ranks of ``targets`` in ``scores`` (B, N), ties counted against the target."""
    target_scores = scores.gather(1, targets[:, None])  # (B, 1)
    higher = (scores > target_scores).sum(1)
    tied = (scores == target_scores).sum(1) - 1  # minus the target itself
    return 1 + higher + tied


class HistoryIndex:
    """Per-user item histories in CSR form, to mask them out of a batch of scores.

    Built once per split and stage (the trainer keeps one per stage for every epoch's
    evaluation) and passed to :func:`evaluate` as ``histories``.
    """

    def __init__(self, histories):
        lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
        self.indptr = np.concatenate([[0], np.cumsum(lengths)])
        self.indices = (np.concatenate([np.asarray(h, np.int64) for h in histories])
                        if len(histories) and lengths.sum() else np.zeros(0, np.int64))

    def rows_cols(self, users: np.ndarray):
        starts, ends = self.indptr[users], self.indptr[users + 1]
        counts = ends - starts
        rows = np.repeat(np.arange(len(users)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        cols = self.indices[np.repeat(starts, counts) + offsets]
        return rows, cols


@torch.no_grad()
def evaluate(model, split: Split, stage: str, *, exclude_history: bool = True,
             batch_size: int = 1024, device=None, histories: HistoryIndex | None = None) -> Evaluation:
    """Rank every evaluated user's target among all items; returns per-user ranks.

    Memory is bounded by ``batch_size * n_items`` scores at a time. ``histories``: a prebuilt
    :class:`HistoryIndex` of ``split.history(stage)`` (built here when not given).
    """
    device = device or next(iter([*model.parameters(), *model.buffers()])).device
    was_training = model.training
    model.eval()
    users = split.eval_users(stage)
    targets_all = split.eval_targets(stage)
    history = split.history(stage)
    inputs_all = split.eval_inputs(stage, model.config.seq_len)
    hist = (histories or HistoryIndex(history)) if exclude_history else None
    ranks = np.empty(len(users), np.int64)
    for start in range(0, len(users), batch_size):
        u = users[start:start + batch_size]
        t = torch.as_tensor(targets_all[u], device=device)
        scores = model.score(torch.as_tensor(u, device=device),
                             torch.as_tensor(inputs_all[u], device=device))  # (b, N)
        scores = scores.float().nan_to_num(nan=float("-inf"))  # a NaN score must not rank first
        if hist is not None:
            rows, cols = hist.rows_cols(u)
            keep_target = cols != targets_all[u][rows]  # never exclude the target itself
            rows, cols = rows[keep_target], cols[keep_target]
            scores[torch.as_tensor(rows, device=device), torch.as_tensor(cols, device=device)] = float("-inf")
        ranks[start:start + len(u)] = pessimistic_ranks(scores, t).cpu().numpy()
    model.train(was_training)
    return Evaluation(users, ranks)
