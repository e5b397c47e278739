"""below_pop: which learned models fall below Pop, and what each piece of evidence says."""
import pandas as pd

from attrec_lib.analysis import below_pop
from attrec_lib.study import profiles


def runs(ds, model, values):
    return pd.DataFrame({"dataset": ds, "model": model, "hr@50": values})


def test_only_models_below_pop_on_that_data_set_are_picked():
    table2 = pd.concat([runs("a", "pop", [0.10, 0.10]), runs("a", "fmc", [0.05, 0.07]),
                        runs("a", "hrm", [0.20, 0.30]), runs("b", "pop", [0.10]), runs("b", "fmc", [0.11]),
                        runs("c", "fmc", [0.01])])  # no Pop on c: nothing to compare with
    assert below_pop.below_pop_models(table2, ["fmc", "hrm", "caser"]) == {"a": ["fmc"]}


def test_evidence_rows_compare_with_pop_under_the_same_conditions_and_skip_missing_groups():
    pop, shuffled_pop = runs("a", "pop", [0.10, 0.10, 0.10]), runs("a", "pop", [0.20])
    groups = {("a", "fmc", below_pop.EVIDENCE[0]): (runs("a", "fmc", [0.05, 0.07, 0.06]), pop),
              ("a", "fmc", below_pop.EVIDENCE[1]): (runs("a", "fmc", [0.08, 0.09, 0.11, 0.12]), pop),
              ("a", "fmc", below_pop.EVIDENCE[2]): (pd.DataFrame(), pop),  # not cached: no row
              ("a", "fmc", below_pop.EVIDENCE[3]): (runs("a", "fmc", [0.25]), shuffled_pop)}
    table = below_pop.evidence_table(groups)
    assert list(table["evidence"]) == [below_pop.EVIDENCE[i] for i in (0, 1, 3)]
    trials = table.iloc[1]
    assert (trials["runs"], trials["runs above Pop"]) == (4, 2)
    assert abs(trials["HR@50 best run"] - 0.12) < 1e-12 and abs(trials["Pop HR@50"] - 0.10) < 1e-12
    assert abs(table.iloc[2]["Pop HR@50"] - 0.20) < 1e-12  # Pop rerun under the shuffled rule
    text = below_pop.findings(table, {"fmc": "FMC"})
    assert "2 of its 4 tuning settings are above Pop" in text
    assert "being below Pop depends on the order the data gives to tied events" in text


def test_no_setting_above_pop_reads_as_not_the_training_and_shuffled_below_reads_as_below():
    pop = runs("a", "pop", [0.10])
    table = below_pop.evidence_table({
        ("a", "fmc", below_pop.EVIDENCE[0]): (runs("a", "fmc", [0.05]), pop),
        ("a", "fmc", below_pop.EVIDENCE[1]): (runs("a", "fmc", [0.08, 0.09]), pop),
        ("a", "fmc", below_pop.EVIDENCE[3]): (runs("a", "fmc", [0.15]), runs("a", "pop", [0.2]))})
    text = below_pop.findings(table)
    assert "None of its 2 tuning settings lifts it above Pop" in text
    assert "below Pop's 0.2000 on the same data." in text and "depends on the order" not in text
    assert text.startswith("**FMC (MC) on a**: HR@50 0.0500")  # no labels given: the model registry's
    assert below_pop.findings(table.assign(dataset="lastfm")).startswith("**FMC (MC) on LastFM**: HR@50 0.0500")


def test_tiny_profile_evidence_has_the_table_columns():
    table = below_pop.evidence(profiles.profile("tiny"))
    assert list(table.columns) == list(below_pop.COLUMNS)
    assert isinstance(below_pop.findings(table), str)
