"""tables.py on constructed run rows: aggregation, the comparison table, the paired test with a
known difference, and choices that read validation metrics only."""
import math

import numpy as np
import pandas as pd
import pytest

from attrec_lib.settings import paper_numbers
from attrec_lib.analysis import tables


def rows(**columns):
    return pd.DataFrame(columns)


def test_aggregate_mean_sd_and_seed_count():
    df = rows(dataset=["a", "a", "b"], model=["m", "m", "m"], **{"hr@50": [0.1, 0.3, 0.5], "mrr": [0.2, 0.2, 0.1],
                                                              "valid_hr@50": [0.4, 0.6, 0.7]})
    out = tables.aggregate(df, ["dataset", "model"]).set_index("dataset")
    assert out.loc["a", "hr@50_mean"] == pytest.approx(0.2)
    assert out.loc["a", "hr@50_sd"] == pytest.approx(math.sqrt(((0.1 - 0.2) ** 2 + (0.3 - 0.2) ** 2) / 1))
    assert out.loc["a", "valid_hr@50_mean"] == pytest.approx(0.5)
    assert out.loc["a", "seeds"] == 2 and out.loc["b", "seeds"] == 1 and np.isnan(out.loc["b", "hr@50_sd"])


def test_comparison_table_puts_the_papers_number_and_the_difference_beside_ours():
    df = rows(dataset=["ml-100k"] * 2, model=["attrec"] * 2, **{"hr@50": [0.50, 0.52], "mrr": [0.09, 0.11],
                                                               "test_sel_hr@50": [0.51, 0.53],
                                                               "seconds_per_epoch": [1.0, 3.0]})
    row = tables.comparison_table(df).iloc[0]
    paper = paper_numbers.table2_value("ml-100k", "attrec", "hr@50")
    assert row["HR@50 (paper)"] == f"{paper:.4f}"
    assert row["ΔHR@50"] == f"{0.51 - paper:+.4f}"
    assert row["HR@50 (ours)"].startswith("0.5100 ± ") and row["seeds"] == 2
    assert row["HR@50 test-selected"] == "0.5200" and row["s/epoch"] == "2.00"


def _users(a_hits, b_hits, n=40):
    """Per-user rows of two models: a hits HR@50 for the first ``a_hits`` users, b for ``b_hits``."""
    frames = []
    for model, hits in (("a", a_hits), ("b", b_hits)):
        hr = np.r_[np.ones(hits), np.zeros(n - hits)]
        frames.append(pd.DataFrame({"model": model, "user": np.arange(n), "hr@50": hr, "mrr": hr / 2}))
    return pd.concat(frames, ignore_index=True)


def test_paired_test_finds_a_known_difference():
    out = tables.paired_test(_users(30, 10), "a", "b")
    assert out["users"] == 40
    assert out["ΔHR@50"] == pytest.approx(20 / 40)
    assert out["ΔMRR"] == pytest.approx(10 / 40)
    lo, hi = out["ΔHR@50 95% CI"]
    assert lo < 0.5 < hi and hi - lo < 0.4  # the bootstrap interval is around the true difference
    assert lo > 0 and out["p (HR@50)"] < 0.001  # 20 users differ, all in a's favour


def test_paired_test_without_difference():
    out = tables.paired_test(_users(10, 10), "a", "b")
    assert out["ΔHR@50"] == 0 and out["ΔHR@50 95% CI"] == (0.0, 0.0) and out["p (HR@50)"] == 1.0


def test_paired_test_p_value_is_the_two_sided_wilcoxon():
    from scipy import stats
    users = _users(14, 10)
    diff = users[users.model == "a"]["hr@50"].to_numpy() - users[users.model == "b"]["hr@50"].to_numpy()
    assert tables.paired_test(users, "a", "b")["p (HR@50)"] == pytest.approx(stats.wilcoxon(diff).pvalue)


def test_paired_test_ties_what_float_noise_sets_apart():
    # Per-user HR@50 averaged over three seeds: A's 2/3 - B's 1 and A's 1/3 - B's 0 must tie in
    # size with opposite signs, although the floats differ in their last bit.
    import pandas as pd
    from scipy import stats
    hits = {"gain_third": ([1, 0, 0], 0), "loss_third": ([1, 1, 0], 1), "gain_two": ([1, 1, 0], 0),
            "loss_two": ([1, 0, 0], 1), "none": ([0, 0, 0], 0)}
    counts = {"gain_third": 53, "loss_third": 51, "gain_two": 54, "loss_two": 32, "none": 600}
    rows = []
    user = 0
    for kind, n in counts.items():
        seeds, b = hits[kind]
        for _ in range(n):
            rows += [{"model": "a", "user": user, "seed": s, "hr@50": float(h), "mrr": 0.0} for s, h in enumerate(seeds)]
            rows.append({"model": "b", "user": user, "seed": 0, "hr@50": float(b), "mrr": 0.0})
            user += 1
    exact = np.r_[np.full(53, 1 / 3), np.full(51, -1 / 3), np.full(54, 2 / 3), np.full(32, -2 / 3), np.zeros(600)]
    exact = np.round(exact, 12)  # the same values, exactly tied in size
    p = tables.paired_test(pd.DataFrame(rows), "a", "b")["p (HR@50)"]
    assert p == pytest.approx(stats.wilcoxon(exact).pvalue)
    assert p != pytest.approx(stats.wilcoxon(exact + np.where(exact < 0, -1e-16, 0)).pvalue)  # noise would move it


def test_strongest_baseline_is_chosen_on_validation_not_test():
    # x is better on test, y on validation: the choice must be y
    df = rows(dataset=["d"] * 6, model=["x", "x", "y", "y", "attrec", "attrec"],
              **{"hr@50": [0.40, 0.40, 0.30, 0.30, 0.35, 0.35],
                 "valid_hr@50": [0.20, 0.20, 0.25, 0.25, 0.30, 0.30]})
    best, means = tables.strongest_baseline(df, ["x", "y"])
    assert best == "y" and means.loc["y", "hr@50"] == pytest.approx(0.30)


def test_a_choice_refuses_runs_without_validation_metrics():
    df = rows(dataset=["d"], model=["x"], **{"hr@50": [0.4]})
    with pytest.raises(ValueError, match="valid_hr@50"):
        tables.strongest_baseline(df, ["x"])


def test_ablation_table_marks_the_best_setting_on_validation():
    df = rows(dataset=["synthetic-planted"] * 2, setting=["on", "off"],
              **{"hr@50": [0.5, 0.4], "valid_hr@50": [0.3, 0.35]})
    out = tables.ablation_table(df, "setting", {}).set_index("setting")
    assert bool(out.loc["off", "best here"]) and not bool(out.loc["on", "best here"])


def test_a_displayed_table_is_saved_as_its_csv_linked_under_it_and_folded_when_long():
    from attrec_lib.settings import paths as _paths

    short = pd.DataFrame({"model": ["attrec", "pop"], "hr@50": [0.5, 0.1]})
    shown = tables.display_table(short, "t-short", {"attrec": "AttRec", "pop": "Pop"})
    saved = pd.read_csv(_paths.figures_dir() / "t-short.csv")
    assert list(saved["model"]) == ["AttRec", "Pop"] and saved.equals(shown.reset_index(drop=True))
    long = pd.DataFrame({"x": range(tables.COLLAPSE_ROWS + 1)})
    html = {}
    for name, frame in (("t-short", short), ("t-long", long)):
        captured = []
        original = tables.display
        tables.display = captured.append
        try:
            tables.display_table(frame, name)
        finally:
            tables.display = original
        html[name] = captured[0]._repr_html_()
    assert '<a href="../figures/t-long.csv">figures/t-long.csv</a>' in html["t-long"]
    assert "<details" in html["t-long"] and f"{tables.COLLAPSE_ROWS + 1} rows" in html["t-long"]
    assert "<details" not in html["t-short"] and "figures/t-short.csv" in html["t-short"]
    assert len(pd.read_csv(_paths.figures_dir() / "t-long.csv")) == tables.COLLAPSE_ROWS + 1


def test_a_notebook_saves_a_frame_under_a_displayed_tables_name_only_after_displaying_it():
    """display_table writes <name>.csv; a save_table of the same name must come later, so that the
    published file is the saved frame (the one the README and the site read), not the displayed one."""
    import json
    import re

    from attrec_lib.settings import paths as _paths

    for path in sorted(_paths.REPO_ROOT.glob("notebooks/[0-9][0-9]-*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        for m in re.finditer(r'save_table\([^\n]*?,\s*"([^"]+)"\)', code):
            shown = [d.start() for d in re.finditer(r'display_table\((?:[^()]|\([^()]*\))*?,\s*"' + re.escape(m.group(1)) + '"', code)]
            assert all(at < m.start() for at in shown), f"{path.name}: save_table({m.group(1)!r}) before its display_table"


def test_the_tuned_tables_label_how_each_data_sets_settings_were_got():
    from types import SimpleNamespace
    from attrec_lib.analysis.display import dataset_name
    prof = SimpleNamespace(tuned_datasets=("ml-100k", "lastfm"), tuned_from=(("ml-1m-first2999", "ml-100k"),))
    assert tables.tuned_settings(prof, "ml-100k") == tables.tuned_settings(prof, "lastfm") == "tuned"
    assert tables.tuned_settings(prof, "ml-1m-first2999") == f"chosen on {dataset_name('ml-100k')}"
    assert tables.tuned_settings(prof, "movietweetings-snapshot-100k") == "default"  # not tuned in this profile
