"""Figure 3: the attention weights of a trained AttRec for the paper's users."""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..data import load_processed
from ..runs.compute import trained_model
from ..runs.runspec import RunSpec, load_split
from ..settings import paper_numbers


def figure3_maps(spec: RunSpec, users=paper_numbers.FIGURE3_USERS) -> dict:
    """L x L attention weights of the model of ``spec`` (an AttRec run) at its headline epoch for
    the given raw user ids, computed on each user's test input (the last L items before the test
    item). On a data set without those users (the tiny profile's synthetic set), the first two
    users."""
    model = trained_model(spec)
    split = load_split(spec.dataset, spec.tie_rule, True)
    index = {raw: i for i, raw in enumerate(load_processed(spec.dataset).user_ids)}
    if not all(raw in index for raw in users):
        users = tuple(index)[:2]
    inputs = split.eval_inputs("test", spec.model_config["seq_len"])
    return {f"{spec.dataset} user {raw}": weights(model, torch.as_tensor(inputs[[index[raw]]]))[0]
            for raw in users}


def weights(model, inputs: torch.Tensor) -> np.ndarray:
    """(B, L, L) attention weights of ``model`` (trained in float32) computed in float64 on a copy.

    In float32 the maps' statistics differ from one CPU to another in the 8th digit (the
    matrix-product and softmax kernels differ: measured between two x86 machines of this study), so
    the committed figures would depend on where ``make paper`` ran; in float64 the difference is
    far below the digits the tables keep (see :func:`stable`)."""
    return copy.deepcopy(model).double().attention_weights(inputs).numpy()


def stable(value: float) -> float:
    """``value`` at 10 significant digits: what the Figure 3 tables write, the same on every CPU."""
    return float(f"{float(value):.10g}")
