"""The one selection rule (rules/selection.py): what it reads, its tie rule, and that the library
makes no choice outside it."""
import ast

import numpy as np
import pandas as pd
import pytest

from attrec_lib.rules import selection, stats
from attrec_lib.settings import paths


def _runs(rows):
    return pd.DataFrame(rows, columns=["model", "seed", "valid_hr@50", "hr@50"])


def test_ranks_on_the_mean_validation_over_seeds_not_on_test():
    df = _runs([("a", 0, 0.50, 0.10), ("a", 1, 0.30, 0.10),  # mean valid 0.40, test low
                ("b", 0, 0.35, 0.90), ("b", 1, 0.35, 0.90),  # mean valid 0.35, test high
                ("c", 0, 0.60, 0.20), ("c", 1, 0.10, 0.20)])  # best single seed, mean 0.35
    assert selection.ranking(df, "model", "t") == ["a", "b", "c"]
    assert selection.best(df, "model", "t") == "a"


def test_ties_keep_the_callers_order_else_first_appearance():
    df = _runs([("b", 0, 0.4, 0.0), ("a", 0, 0.4, 0.9), ("c", 0, 0.3, 0.0)])
    assert selection.ranking(df, "model", "t") == ["b", "a", "c"]
    assert selection.ranking(df, "model", "t", order=["a", "b", "c"]) == ["a", "b", "c"]
    assert selection.best(df, "model", "t", order=["c", "b"]) == "b"  # order also restricts


def test_refuses_runs_without_validation_naming_the_choice():
    df = _runs([("a", 0, np.nan, 0.5), ("b", 0, 0.2, 0.1)])
    with pytest.raises(ValueError, match="the strongest baseline chooses on valid_hr@50"):
        selection.best(df, "model", "the strongest baseline")
    with pytest.raises(ValueError, match="valid_hr@50"):
        selection.best(df.drop(columns="valid_hr@50"), "model", "x")
    with pytest.raises(ValueError, match="no candidates"):
        selection.best(df.fillna(0.1), "model", "x", order=["z"])


def test_tuning_choose_is_the_rule_over_trials_in_drawn_order():
    from attrec_lib.study import tuning
    trials = pd.DataFrame({"valid_hr@50": [0.2, 0.5, 0.5, 0.1], "hr@50": [0.9, 0.0, 0.0, 0.0]})
    assert tuning.choose(trials) == 1


def test_seed_sd_rule_and_significance_rule():
    assert selection.beyond_seed_sd(0.02, 0.01, 0.015)
    assert not selection.beyond_seed_sd(-0.015, 0.01, 0.015)
    assert selection.beyond_seed_sd(0.001, np.nan, None)  # no sd (one seed): any difference counts
    assert stats.significant(0.049) and not stats.significant(0.05) and not stats.significant(np.nan)


# Calls that pick an extreme: a choice, unless it only describes numbers already chosen.
_PICKS = {"idxmax", "argmax", "nlargest"}
# (module, what the pick does): descriptive uses, not choices between candidates.
_DESCRIPTIVE = {
    ("analysis/findings.py", "argmax"),    # Figure 3: the column an attention map weights most
    ("analysis/tie_order.py", "idxmax"),   # the largest tie-order shift, reported beside the smallest
    ("report/readme.py", "idxmax"),        # the same shift, in the README's sentence
    ("report/readme.py", "sort_values"),   # AttRec's rank by test HR@50 at each d, reported, never a choice
}


def _picks(path):
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            descending = name == "sort_values" and any(
                k.arg == "ascending" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords)
            if name in _PICKS or descending:
                found.append(name)
    return found


def test_no_choice_between_candidates_outside_the_selection_rule():
    root = paths.REPO_ROOT / "attrec_lib"
    offenders = []
    for layer in ("study", "analysis", "report"):
        for path in sorted((root / layer).rglob("*.py")):
            rel = str(path.relative_to(root))
            offenders += [f"{rel}: {name}" for name in _picks(path) if (rel, name) not in _DESCRIPTIVE]
    assert not offenders, "choose through rules.selection.best/ranking, not: " + ", ".join(offenders)


def test_the_scan_sees_a_choice(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("best = df.groupby('model')['valid_hr@50'].mean().idxmax()\n"
                    "order = df.sort_values('x', ascending=False)\n")
    assert _picks(path) == ["idxmax", "sort_values"]
