"""attention_null: the vectorised column share equals findings.column_share, and the paper's
reading is decided against the two null models on constructed maps (each outcome)."""
import re
import numpy as np
import pandas as pd
import pytest

from attrec_lib.analysis import attention_null
from attrec_lib.analysis import findings


def _maps(n, L, column_weight, rng):
    """n maps whose rows put ``column_weight`` of their mass on a per-map random pattern of columns."""
    out = []
    for _ in range(n):
        pattern = rng.random(L)
        noise = rng.random((L, L))
        w = column_weight * pattern[None, :] + (1 - column_weight) * noise
        np.fill_diagonal(w, 0)
        out.append(w / w.sum(axis=1, keepdims=True))
    return np.array(out)


def test_column_shares_match_the_one_map_statistic():
    rng = np.random.default_rng(0)
    maps = _maps(6, 5, 0.5, rng)
    assert attention_null.column_shares(maps) == pytest.approx([findings.column_share(m) for m in maps])
    flat = np.full((1, 3, 3), 0.5)
    np.fill_diagonal(flat[0], 0)
    assert attention_null.column_shares(flat).tolist() == [0.0]
    with pytest.raises(ValueError, match=r"\(n, L, L\)"):
        attention_null.column_shares(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("untrained, shuffled, outcome", [
    (0.0, 0.0, "holds"), (0.0, 0.95, "partly"), (0.95, 0.95, "no")])
def test_reading_outcome_against_the_null_models(untrained, shuffled, outcome):
    rng = np.random.default_rng(1)
    maps = {"trained": _maps(300, 5, 0.9, rng), "untrained": _maps(300, 5, untrained, rng),
            "trained on shuffled sequences": _maps(300, 5, shuffled, rng)}
    tests = attention_null.null_tests(maps)
    assert attention_null.reading_outcome(tests).startswith(outcome)
    table = attention_null.share_table(maps)
    assert list(table["model"]) == list(attention_null.NULL_LABELS) and (table["users"] == 300).all()
    text = attention_null.conclusion(table, tests)
    assert f"**{attention_null.reading_outcome(tests)}**" in text and "Over all 300 users" in text
    assert len(re.findall(r"one-sided p (?:= [01]\.\d{2,3}|< 0\.001) \(Holm p (?:= [01]\.\d{2,3}|< 0\.001)\)",
                          text)) == len(tests)
    assert isinstance(tests, pd.DataFrame) and (tests["p (Holm)"] >= tests["p (one-sided)"]).all()


def test_maps_are_computed_in_float64_on_a_copy_and_tables_keep_ten_digits():
    import torch
    from attrec_lib import models
    from attrec_lib.analysis import attention
    torch.manual_seed(0)
    model = models.build("attrec", 5, 12, models.make_config("attrec", "paper", seq_len=4, d=8)).eval()
    inputs = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    w = attention.weights(model, inputs)
    assert w.dtype == np.float64 and w.shape == (2, 4, 4)
    assert next(model.parameters()).dtype == torch.float32  # the model itself is left as trained
    assert np.allclose(w, model.attention_weights(inputs).numpy(), atol=1e-6)  # the same maps, more digits
    assert attention.stable(0.90603571618606) == 0.9060357162 and attention.stable(1.23693321549e-68) == 1.236933215e-68
    maps = {label: _maps(30, 5, weight, np.random.default_rng(1)) for label, weight in
            zip(attention_null.NULL_LABELS, (0.8, 0.0, 0.5))}
    for table in (attention_null.share_table(maps), attention_null.null_tests(maps)):
        for value in table.select_dtypes("number").to_numpy().ravel():
            assert value == attention.stable(value)
