"""What a reader sees: tables with readable names and number formats, figures with one panel
per data set, labelled axes, the legend off the data, and Figure 3's masked diagonal."""
import numpy as np
import pandas as pd

from attrec_lib.report import plotting
from attrec_lib.analysis import tables


def test_tables_read_well_as_text_and_html():
    df = pd.DataFrame({"dataset": ["ml-100k", "lastfm"], "model": ["attrec", "lstm_plus"], "cfg.d": [10.0, 25.0],
                       "p (HR@50)": [0.846, 2.1e-9], "ΔHR@50": [-0.0025, 0.1], "hr@50": [0.5, np.nan]})
    table = tables.readable(df, {"attrec": "AttRec", "lstm_plus": "LSTM+"})
    assert list(table.columns) == ["data set", "model", "d", "p (HR@50)", "ΔHR@50", "HR@50"]
    text = tables.plain(table)
    assert "2.10e-09" in text and "+0.1000" in text and "-0.0025" in text and "LSTM+" in text
    assert "NaN" not in text and "<NA>" not in text and "10.0" not in text and "–" in text
    html = tables.styled(table, "t").to_html()
    assert html == tables.styled(table, "t").to_html()  # fixed ids: nbval sees the same HTML every run
    assert "2.10e-09" in html and "<th" in html and "cfg.d" not in html


def test_sweep_has_one_panel_per_data_set_and_the_legend_outside():
    df = pd.DataFrame([{"dataset": ds, "model": m, "cfg.d": d, "seed": s, "hr@50": 0.1 * d / 10 + s * 0.01}
                       for ds in ("a", "b") for m in ("attrec", "caser") for d in (10, 50) for s in (0, 1)])
    fig = plotting.sweep(df, "cfg.d", "d", hue="model", title="Figure 5")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert all(ax.get_xlabel() == "d" and ax.get_ylabel() == "HR@50" for ax in axes)
    assert all(len(ax.collections) == 2 for ax in axes)  # an sd band per line (two seeds)
    legend = fig.legends[0]
    fig.canvas.draw()
    box = legend.get_window_extent().transformed(fig.transFigure.inverted())
    assert box.x0 >= max(ax.get_position().x1 for ax in axes)  # right of every panel


def test_attention_heatmaps_mask_the_diagonal_and_share_a_scale_per_data_set():
    a = np.array([[0.0, 0.2, 0.8], [0.5, 0.0, 0.5], [0.9, 0.1, 0.0]])
    b = np.array([[0.0, 0.6, 0.4], [0.3, 0.0, 0.7], [0.4, 0.6, 0.0]])
    fig = plotting.attention_heatmaps({"ml-100k user 1": a, "ml-100k user 2": b})
    images = [ax.images[0] for ax in fig.get_axes() if ax.images]
    assert len(images) == 2
    assert all(np.array_equal(np.ma.getmaskarray(im.get_array()), np.eye(3, dtype=bool)) for im in images)
    assert images[0].get_clim() == images[1].get_clim() == (0.1, 0.9)
    ax = fig.get_axes()[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("attended position", "query position")


def test_attention_heatmaps_of_two_data_sets_take_a_row_and_a_scale_each():
    a = np.array([[0.0, 0.2, 0.8], [0.5, 0.0, 0.5], [0.9, 0.1, 0.0]])
    b = np.array([[0.0, 0.6, 0.4], [0.3, 0.0, 0.7], [0.4, 0.6, 0.0]])
    fig = plotting.attention_heatmaps({"ml-100k user 1": a, "ml-100k user 2": b, "ml-1m-first2999 user 1": b,
                                       "ml-1m-first2999 user 2": b * 0.5})
    maps = [ax for ax in fig.get_axes() if ax.images]
    assert len(maps) == 4
    rows = sorted({round(ax.get_position().y0, 3) for ax in maps})
    assert len(rows) == 2  # one row per data set
    assert [ax.get_title() for ax in maps] == ["ML-100K: user 1", "ML-100K: user 2",
                                               "ML-1M stand-in (ml-1m-first2999): user 1",
                                               "ML-1M stand-in (ml-1m-first2999): user 2"]
    assert maps[0].images[0].get_clim() == (0.1, 0.9) and maps[2].images[0].get_clim() == (0.15, 0.7)
    assert sum(1 for ax in fig.get_axes() if not ax.images) == 2  # a colour bar per data set


def test_panels_name_the_papers_sets_and_label_stand_ins():
    assert plotting.dataset_title("ml-100k") == "ML-100K"
    assert plotting.dataset_title("ml-1m-first2999") == "ML-1M stand-in (ml-1m-first2999)"
    assert plotting.dataset_title("movietweetings-snapshot-100k").startswith("MovieTweetings stand-in")
    assert plotting.dataset_title("a") == "a"  # not a registered set: as it is


def test_tuned_vs_default_pairs_each_models_bars_with_lines_and_a_legend_clear_of_the_title():
    def rows(ds, model, values):
        return pd.DataFrame({"dataset": ds, "model": model, "seed": range(len(values)), "hr@50": values})
    default = pd.concat([rows("ml-100k", "bprmf", [0.30, 0.32]), rows("ml-100k", "attrec", [0.50, 0.52]),
                         rows("lastfm", "bprmf", [0.20, 0.22])])
    tuned = pd.concat([rows("ml-100k", "bprmf", [0.36, 0.34]), rows("ml-100k", "attrec", [0.51, 0.51]),
                       rows("lastfm", "bprmf", [0.28, 0.26])])
    refs = {"ml-100k": [(0.2, "Pop", None), (0.47, "strongest simple baseline", "SKNN")],
            "lastfm": [(0.08, "Pop", None), (0.32, "strongest simple baseline", "EASE")]}
    fig = plotting.tuned_vs_default(default, tuned, {"bprmf": "BPRMF", "attrec": "AttRec"}, refs, title="T")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["ML-100K", "LastFM"]  # the paper's names of the sets
    widths = sorted(round(p.get_width(), 6) for p in axes[0].patches)
    assert widths == [0.31, 0.35, 0.51, 0.51]  # means over seeds: default and tuned per model
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["BPRMF", "AttRec"]
    assert [line.get_xdata()[0] for line in axes[1].get_lines() if line.get_linestyle() != "None"] == [0.08, 0.32]
    assert any(t.get_text() == "EASE" for t in axes[1].texts)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels.count("strongest simple baseline") == 1 and "paper (Table 2)" in labels  # one entry per style
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent().transformed(fig.transFigure.inverted())
    assert legend.y1 <= min(ax.get_position().y0 for ax in axes)  # under the panels, not on the title
