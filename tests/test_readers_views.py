"""What a reader sees: tables with readable names and number formats, figures with one panel
per data set, labelled axes, the legend off the data, and Figure 3's masked diagonal."""
import numpy as np
import pandas as pd

from attrec_lib.report import claim_figures, plotting
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
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["AttRec", "Caser"]  # display names, not keys
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


def test_attention_heatmaps_of_two_data_sets_take_a_row_each_and_share_one_scale_and_one_bar():
    a = np.array([[0.0, 0.2, 0.8], [0.5, 0.0, 0.5], [0.9, 0.1, 0.0]])
    b = np.array([[0.0, 0.6, 0.4], [0.3, 0.0, 0.7], [0.4, 0.6, 0.0]])
    fig = plotting.attention_heatmaps({"ml-100k user 1": a, "ml-100k user 2": b, "ml-1m-first2999 user 1": b,
                                       "ml-1m-first2999 user 2": b * 0.5})
    maps = [ax for ax in fig.get_axes() if ax.images]
    assert len(maps) == 4
    rows = sorted({round(ax.get_position().y0, 3) for ax in maps})
    assert len(rows) == 2  # one row per data set
    assert [ax.get_title() for ax in maps] == ["ML-100K: user 1", "ML-100K: user 2",
                                               "ML-1M stand-in (users 1-2999): user 1",
                                               "ML-1M stand-in (users 1-2999): user 2"]
    assert {ax.images[0].get_clim() for ax in maps} == {(0.1, 0.9)}  # one colour scale over every map
    bars = [ax for ax in fig.get_axes() if not ax.images]
    assert len(bars) == 1  # one colour bar
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    label = bars[0].yaxis.label.get_window_extent(renderer)
    assert label.x0 > max(ax.get_window_extent(renderer).x1 for ax in maps)  # the bar's label clear of the panels
    titles = [ax.title.get_window_extent(renderer) for ax in maps]
    ticks = [ax.xaxis.label.get_window_extent(renderer) for ax in maps[:2]]
    assert max(t.y1 for t in titles[2:]) < min(t.y0 for t in ticks)  # row 2's titles clear of row 1's labels


def test_sweep_ticks_an_integer_setting_at_the_values_run_and_titles_do_not_overlap():
    sets = ("ml-100k", "ml-1m-first2999", "lastfm", "movietweetings-snapshot-100k")
    df = pd.DataFrame([{"dataset": ds, "cfg.seq_len": L, "seed": s, "hr@50": 0.3 + 0.01 * L + 0.01 * s}
                       for ds in sets for L in (1, 2, 3, 5, 7, 9) for s in (0, 1, 2)])
    fig = plotting.sweep(df, "cfg.seq_len", "L", title="Figure 4b")
    axes = fig.get_axes()
    assert all(list(ax.get_xticks()) == [1, 2, 3, 5, 7, 9] for ax in axes)
    assert all([t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "5", "7", "9"] for ax in axes)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in axes]
    assert all(left.x1 < right.x0 for left, right in zip(boxes, boxes[1:]))  # neighbouring titles apart


def test_sweep_shades_a_band_named_in_the_legend_and_keeps_float_ticks():
    df = pd.DataFrame([{"dataset": ds, "cfg.omega": w, "seed": 0, "hr@50": 0.3 + 0.1 * w}
                       for ds in ("ml-100k", "lastfm") for w in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)])
    fig = plotting.sweep(df, "cfg.omega", "ω", band=(0.2, 0.4, "paper's best ω"))
    for ax in fig.get_axes():
        spans = [p for p in ax.patches if p.get_label() == "paper's best ω"]
        assert len(spans) == 1
        assert (spans[0].get_x(), spans[0].get_x() + spans[0].get_width()) == (0.2, 0.2 + (0.4 - 0.2))
        assert any(t != round(t) for t in ax.get_xticks())  # ω is not an integer setting: matplotlib's ticks
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["paper's best ω"]
    plain = plotting.sweep(df, "cfg.omega", "ω")
    assert not plain.legends and not any(p.get_label() == "paper's best ω" for p in plain.get_axes()[0].patches)


def _comparison(rows):
    """A table as tables.attrec_vs_best_baseline returns it, with real paired_test intervals."""
    rng = np.random.default_rng(0)
    out = []
    for ds, baseline, gain in rows:
        n = 200
        users = pd.DataFrame({"model": ["attrec"] * n + [baseline] * n, "user": list(range(n)) * 2,
                              "hr@50": np.r_[rng.random(n) < 0.5 + gain, rng.random(n) < 0.5].astype(float),
                              "mrr": rng.random(2 * n)})
        test = tables.paired_test(users, "attrec", baseline)
        lo, hi = test.pop("ΔHR@50 95% CI")
        out.append({"dataset": ds, "best baseline": baseline, "chosen on": "valid_hr@50", **test,
                    "CI low": lo, "CI high": hi})
    return pd.DataFrame(out)


def test_forest_frame_has_one_row_per_set_baseline_and_settings_with_the_point_inside_its_interval():
    default = _comparison([("ml-100k", "transrec", 0.05), ("lastfm", "ease", -0.1)])
    simple = _comparison([("ml-100k", "sknn", 0.0), ("lastfm", "ease", -0.1)])  # LastFM: EASE picked twice
    tuned = _comparison([("ml-100k", "hrm", 0.0), ("lastfm", "ease", -0.05)])
    frame = plotting.forest_frame({"default settings": {"strongest of all": default, "strongest simple": simple},
                                   "tuned alike": {"strongest of all": tuned}})
    keys = list(zip(frame["dataset"], frame["baseline"], frame["settings"]))
    assert keys == [("ml-100k", "transrec", "default settings"), ("ml-100k", "sknn", "default settings"),
                    ("ml-100k", "hrm", "tuned alike"), ("lastfm", "ease", "default settings"),
                    ("lastfm", "ease", "tuned alike")]
    assert len(set(keys)) == len(keys)
    assert list(frame["chosen as"]) == ["strongest of all", "strongest simple", "strongest of all",
                                        "strongest of all = strongest simple",
                                        "strongest of all"]
    assert ((frame["CI low"] <= frame["ΔHR@50"]) & (frame["ΔHR@50"] <= frame["CI high"])).all()
    assert (frame["CI low"] < frame["CI high"]).all()
    first = default.iloc[0]  # the values are the comparison's own, not recomputed
    assert tuple(frame.loc[0, ["ΔHR@50", "CI low", "CI high"]]) == (first["ΔHR@50"], first["CI low"], first["CI high"])
    fig = plotting.forest(frame, "T")
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == ["ML-100K", "LastFM"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["vs TransRec (strongest of all)",
                                                                  "vs SKNN (strongest simple)", "vs HRM (strongest of all)"]
    segments = axes[1].collections[0].get_segments()
    assert [tuple(s[:, 0]) for s in segments] == [tuple(r) for r in frame.loc[3:, ["CI low", "CI high"]].to_numpy()]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["default settings", "tuned alike"]


def test_panels_name_the_papers_sets_and_label_stand_ins():
    assert plotting.dataset_title("ml-100k") == "ML-100K"
    assert plotting.dataset_title("ml-1m-first2999") == "ML-1M stand-in (users 1-2999)"
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


def test_ablation_bars_name_the_sets_and_show_every_bar_whatever_the_sets_scales():
    df = pd.DataFrame([{"set": name, "cfg.aggregation": agg, "seed": s, "hr@50": base + 0.01 * i + 0.002 * s}
                       for name, base in (("movietweetings-snapshot-100k L=3", 0.33), ("lastfm L=2", 0.13))
                       for i, agg in enumerate(("mean", "sum", "max", "min")) for s in (0, 1)])
    fig = claim_figures.ablation_bars(df, "cfg.aggregation", title="Table 4")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["MovieTweetings stand-in at L = 3", "LastFM at L = 2"]
    for ax in axes:
        low, high = ax.get_ylim()
        assert all(low < p.get_height() < high for p in ax.patches)  # no bar cut off by another panel's range
