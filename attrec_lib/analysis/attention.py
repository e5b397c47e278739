"""Figure 3: the attention weights of a trained AttRec for the paper's users."""
from __future__ import annotations

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
    return {f"{spec.dataset} user {raw}": model.attention_weights(torch.as_tensor(inputs[[index[raw]]]))[0].numpy()
            for raw in users}
