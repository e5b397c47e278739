"""What the arithmetic of one training window needs: FLOPs and bytes per model, in one place.

The benchmark divides these by the machine's sustained GEMM rate and copy bandwidth to print
the floor an epoch could reach (see :mod:`attrec_lib.bench.core`).
"""
from __future__ import annotations


def flops_per_window(model: str, cfg) -> float:
    """Forward + backward FLOPs of one training window (backward ~ 2x forward).

    AttRec: query/key projection 2 L d^2, logits and s X 4 L^2 d, distances to 2T items
    (two terms, ~3d each, counted 2x for the pairs). Caser: horizontal convolutions
    2 n_h d sum_h h (L - h + 1), vertical 2 n_v L d, dense layer 2 (n_v d + n_h L) d, the 2T
    item scores 2 * 2d each. LSTM+: one LSTM layer, 4 gates of (input + hidden) d x d products
    per step, 16 L d^2, then AttRec's distances. SASRec: per block the Q, K, V projections 6 L d^2,
    logits and weighted sum 4 L^2 d, the two feed-forward layers 4 L d^2; the 2T item scores 2d
    each. The embedding models score each of the 2T items (targets and negatives) with c d FLOPs:
    BPRMF and FMC one dot product (c = 2), FPMC two (c = 4), HRM its aggregation of L + 1 rows
    then a dot product, PRME and TransRec a squared distance of a sum (c = 6). Gathers and
    element-wise ops are counted as bytes, not FLOPs.
    """
    d, L, T = cfg.d, getattr(cfg, "seq_len", 1), getattr(cfg, "n_targets", 1)
    per_item = {"bprmf": 2, "fmc": 2, "fpmc": 4, "prme": 6, "transrec": 6}
    if model in per_item:
        fwd = 2 * T * per_item[model] * d
    elif model == "hrm":
        fwd = (L + 1) * d + 2 * T * 2 * d
    elif model == "attrec":
        fwd = 2 * L * d * d * (1 if cfg.shared_qk else 2) + 4 * L * L * d + 2 * T * 6 * d
    elif model == "caser":
        fwd = (2 * cfg.n_h * d * sum(h * (L - h + 1) for h in range(1, L + 1)) + 2 * cfg.n_v * L * d
               + 2 * (cfg.n_v * d + cfg.n_h * L) * d + 2 * T * 4 * d)
    elif model == "lstm_plus":
        fwd = 16 * L * d * d + 2 * T * 6 * d
    elif model == "sasrec":
        fwd = cfg.n_blocks * (10 * L * d * d + 4 * L * L * d) + 2 * T * 2 * d
    else:
        raise ValueError(f"no FLOP model for {model!r}")
    return 3.0 * fwd


def bytes_per_window(model: str, cfg) -> float:
    """Bytes one window must move at least: its embedding rows read in the forward, their
    gradients written and the optimiser's read-modify-write of those rows (param, state, grad)."""
    d, L, T = cfg.d, getattr(cfg, "seq_len", 0), getattr(cfg, "n_targets", 1)
    rows = L + 1 + (2 * 2 * T if model == "attrec" else 2 * T)  # inputs, user, V and X (or W2) rows
    return rows * d * 4 * (1 + 1 + 5)


def eval_flops(n_users: int, n_items: int, d: int, model: str) -> float:
    """One full ranking: AttRec two (users x items x d) distance GEMMs; Caser one with 2d."""
    return 2.0 * n_users * n_items * d * 2


def table_bytes(n_users: int, n_items: int, d: int, model: str) -> float:
    """Dense-table bytes per step if every table row is touched (l2 on whole tables)."""
    rows = n_users + (2 * n_items + 1 if model == "attrec" else 3 * n_items + 1)
    return rows * d * 4 * 5.0


