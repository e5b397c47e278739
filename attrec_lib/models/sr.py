"""SR: sequential rules, item j following item i within a few steps, weighted by the distance.

References: Iman Kamehkhosh, Dietmar Jannach, Malte Ludewig. "A Comparison of Frequent Pattern
Techniques and a Deep Learning Method for Session-Based Recommendation". RecTemp workshop at
RecSys 2017. Malte Ludewig, Dietmar Jannach. "Evaluation of session-based recommendation
algorithms". User Modeling and User-Adapted Interaction 28, 2018 (the "SR" method).

Fit (``prepare``, training sequences only): for every training sequence and every pair of
positions q < p with p - q <= ``steps``, the rule (s_q -> s_p) gains ``w(p - q)``, where w is
the ``rule_weighting`` (``same`` 1, ``div`` 1/d, ``quadratic`` 1/d^2, ``linear``
(steps + 1 - d) / steps). R_ij is the summed weight of rule (i -> j).
Score: ``y(u, j) = sum over the L input items x_l of v(l) R_{x_l j}``, where l = 1 is the most
recent input and v is the ``input_weighting`` (same family, with steps = L); PAD inputs count 0.

Deviations from Ludewig and Jannach: their SR reads only the last item of a session; here the
last L inputs are read with position weights (``seq_len = 1`` is their rule). Sessions are
users' whole training sequences.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from .distributions import Choice
from ._neighbourhood import (DISTANCE_WEIGHTS, distance_weights, empty_sparse, input_weights, times_sparse, to_torch_sparse)
from .base import FittedRecommender, ModelConfig, check_choice, check_range


@dataclass(frozen=True)
class SRConfig(ModelConfig):
    seq_len: int = 2  # L: most recent input items read (1 = Ludewig and Jannach's SR)
    n_targets: int = 3  # T: targets per window (unused: nothing is trained)
    steps: int = 10  # largest distance p - q of a counted rule (session-rec's default: 10)
    rule_weighting: str = "div"  # w(d) of a rule between items d steps apart: same, div, quadratic, linear
    input_weighting: str = "div"  # v(l) of the l-th most recent input item, same family

    def validate(self):
        super().validate()
        check_range("steps", self.steps, 1)
        check_choice("rule_weighting", self.rule_weighting, DISTANCE_WEIGHTS)
        check_choice("input_weighting", self.input_weighting, DISTANCE_WEIGHTS)
        return self


PRESETS = {"paper": SRConfig()}

SEARCH_SPACE = {
    "seq_len": Choice((1, 2, 3, 5)),
    "steps": Choice((1, 2, 3, 5, 10, 20)),
    "rule_weighting": Choice(DISTANCE_WEIGHTS),
    "input_weighting": Choice(("same", "div", "quadratic")),
}


def rule_matrix(train, n_items: int, steps: int, weighting: str) -> sp.csr_matrix:
    """(N, N) summed weights of the rules (i -> j) in the training sequences."""
    seqs = [np.asarray(s, np.int64) for s in train if len(s)]
    if not seqs:
        return sp.csr_matrix((n_items, n_items))
    items = np.concatenate(seqs)
    owner = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    rows, cols, vals = [], [], []
    for d in range(1, steps + 1):
        same_seq = owner[:-d] == owner[d:]  # pairs d apart inside one sequence
        rows.append(items[:-d][same_seq])
        cols.append(items[d:][same_seq])
        vals.append(np.full(int(same_seq.sum()), distance_weights(d, weighting, steps)))
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_items, n_items))  # duplicates are summed


class SR(FittedRecommender):
    config_class, presets = SRConfig, PRESETS  # no training settings: nothing is trained
    search_space = SEARCH_SPACE

    def __init__(self, n_users: int, n_items: int, config: SRConfig | None = None):
        super().__init__(n_users, n_items, config)
        self.register_buffer("rules_t", empty_sparse(n_items, n_items))  # (N, N) R transposed
        self.register_buffer("position_weights", input_weights(self.config.seq_len, self.config.input_weighting))  # (L,)

    def prepare(self, split) -> None:
        cfg = self.config
        self.rules_t = to_torch_sparse(rule_matrix(split.train, self.n_items, cfg.steps, cfg.rule_weighting).T)

    def score(self, users, inputs):
        weights = self.position_weights.expand(inputs.shape)  # (B, L)
        queries = torch.zeros(len(inputs), self.n_items + 1, device=inputs.device)  # + a PAD column
        queries.scatter_add_(1, inputs, weights)
        return times_sparse(queries[:, :self.n_items], self.rules_t)  # (B, N)
