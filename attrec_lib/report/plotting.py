"""Figures of the study, saved under ``figures/`` with fixed names as PNG and PDF."""
from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from IPython import get_ipython  # noqa: E402
from IPython.display import Image, display  # noqa: E402

from ..data.registry import paper_set  # noqa: E402
from ..settings import paper_numbers, paths  # noqa: E402
from ..analysis.display import dataset_name, model_name  # noqa: E402


def save(fig, name: str) -> list:
    """Write ``figures/<name>.png`` and ``.pdf``; returns the file names (relative)."""
    paths.figures_dir().mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        target = paths.figures_dir() / f"{name}.{ext}"
        # Fixed metadata so a re-run writes the same PDF bytes.
        meta = {"CreationDate": None} if ext == "pdf" else {"Software": None}
        fig.savefig(target, dpi=120, bbox_inches="tight", metadata=meta)
        out.append(f"figures/{target.name}")
    return out


def inline(fig):
    """The figure as a PNG image a notebook shows inline (this module draws with the Agg backend,
    so a figure is not displayed by itself)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return Image(data=buffer.getvalue(), format="png")


def save_table(df: pd.DataFrame, name: str) -> str:
    paths.figures_dir().mkdir(parents=True, exist_ok=True)
    df.to_csv(paths.figures_dir() / f"{name}.csv", index=False)
    return f"figures/{name}.csv"


def show(fig, name: str) -> list:
    """Save ``fig`` as ``figures/<name>.png`` and ``.pdf`` and show the saved PNG inline when a
    notebook is running (the picture a reader sees is the file on disk); returns the file names."""
    out = save(fig, name)
    plt.close(fig)
    if get_ipython() is not None:
        display(Image(filename=str(paths.figures_dir() / f"{name}.png")))
    return out


def dataset_title(name) -> str:
    """A panel's title for data set ``name``: its display name (:func:`display.dataset_name`: the
    paper's name, a stand-in labelled as such, "ML-1M stand-in (users 1-2999)"); an unregistered
    name as it is."""
    return dataset_name(name)


def _position_labels(L: int) -> list:
    return [f"t-{L - 1 - i}" if i < L - 1 else "t" for i in range(L)]


def attention_table(weights) -> pd.DataFrame:
    """One attention map as a table: a ``query`` column, then one column per attended position."""
    w = np.asarray(weights, dtype=float)
    labels = _position_labels(w.shape[0])
    return pd.DataFrame(w, columns=labels).round(3).assign(query=labels)[["query"] + labels]


def _map_dataset(label: str) -> str:
    """``"ml-100k user 888"`` -> ``"ml-100k"`` (the keys ``analysis.attention.figure3_maps`` returns)."""
    return label.rsplit(" user ", 1)[0]


def attention_heatmaps(maps: dict, title: str = "") -> plt.Figure:
    """Figure 3: one L x L heatmap per user (rows: query position, columns: attended position),
    one row of panels per data set.

    Every map shares one colour scale (the range of all maps' off-diagonal weights), shown by one
    colour bar beside the panels, so a colour reads the same weight in every panel; the masked
    diagonal (an item never attends to itself) is drawn hatched grey, not as zero attention.
    """
    rows = {}
    for label, weights in maps.items():
        rows.setdefault(_map_dataset(label), []).append((label, np.asarray(weights, dtype=float)))
    n_cols = max((len(r) for r in rows.values()), default=1)
    # Constrained layout keeps each row's titles clear of the row above and the bar clear of the panels.
    fig, axes = plt.subplots(max(len(rows), 1), n_cols, figsize=(min(4.2 * n_cols, 10.0) + 1.0, 3.9 * max(len(rows), 1)),
                             squeeze=False, layout="constrained")
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    off = [w[~np.eye(w.shape[0], dtype=bool)] for panels in rows.values() for _, w in panels]
    lo, hi = (float(np.concatenate(off).min()), float(np.concatenate(off).max())) if off else (0.0, 1.0)
    used, im = [], None
    for r, (dataset, panels) in enumerate(rows.items()):
        for ax, (label, w) in zip(axes[r], panels):
            L = w.shape[0]
            im = ax.imshow(np.ma.masked_where(np.eye(L, dtype=bool), w), cmap=cmap, vmin=lo, vmax=hi)
            for i in range(L):
                ax.add_patch(plt.Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                           edgecolor="0.6", linewidth=0))
            ax.set_xticks(range(L), _position_labels(L), fontsize=8)
            ax.set_yticks(range(L), _position_labels(L), fontsize=8)
            ax.set_xlabel("attended position")
            ax.set_ylabel("query position")
            user = label[len(dataset):].strip()
            ax.set_title(f"{dataset_title(dataset)}: {user}", fontsize=9)
            used.append(ax)
        for ax in axes[r][len(panels):]:
            ax.set_visible(False)
    if im is not None:
        bar = fig.colorbar(im, ax=used, shrink=0.8)
        bar.set_label("attention weight (diagonal masked)")
    if title:
        fig.suptitle(title)
    return fig


def _sweep_axis(ax, df, x, hue, y):
    groups = df.groupby(hue, sort=False) if hue else [("", df)]
    for key, part in groups:
        g = part.groupby(x)[y]
        mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
        ax.plot(mean.index, mean.values, marker="o", label=str(key))
        ax.fill_between(mean.index, mean - sd, mean + sd, alpha=0.15)
    values = np.sort(pd.unique(df[x].astype(float)))
    if len(values) and np.all(values == np.round(values)):  # an integer setting (L, d): tick the values run
        ax.set_xticks(values, [f"{v:.0f}" for v in values])
    ax.grid(alpha=0.3)


def _panel_title(text: str, width: int = 18) -> str:
    """A panel's title wrapped to lines of at most ``width`` characters, so neighbouring panels'
    titles do not run into each other."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def sweep(df: pd.DataFrame, x: str, xlabel: str, hue: str | None = None, y: str = "hr@50",
          facet: str | None = "dataset", title: str = "", labels: dict | None = None,
          floors: pd.DataFrame | None = None, band: tuple | None = None) -> plt.Figure:
    """HR@50 against a swept setting, one panel per ``facet`` value (a data set, as in the paper):
    one line per ``hue`` value (mean over seeds, +-1 sd over seeds as a band; no band where a
    point has one seed). An integer setting is ticked at the values run. The legend sits right of
    the panels, off the data. ``floors``: rows of a model without the swept setting (e.g. Pop has
    no d), drawn as a dashed line per panel. ``band``: ``(low, high, label)``, a range of the
    swept setting shaded in every panel (e.g. the paper's best ω) and named in the legend."""
    df = df.copy()
    if hue:  # a model's legend entry: its label ("LSTM+"), not its key
        df[hue] = df[hue].map(lambda v: (labels or {}).get(v, model_name(v) if hue == "model" else v))
    panels = list(df.groupby(facet, sort=False)) if facet else [("", df)]
    width = min(4.2 * len(panels) + (1.6 if hue else 0.0), 10.5)
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.6), squeeze=False)
    for ax, (name, part) in zip(axes[0], panels):
        _sweep_axis(ax, part, x, hue, y)
        if band is not None:
            ax.axvspan(band[0], band[1], color="tab:orange", alpha=0.15, linewidth=0, label=band[2])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("MRR" if y == "mrr" else y.upper())
        if name != "":
            ax.set_title(_panel_title(dataset_title(name) if facet == "dataset" else str(name)), fontsize=10)
        if floors is not None and len(floors):
            rows = floors[floors[facet] == name] if facet else floors
            for model, part in rows.groupby("model", sort=False):
                label = (labels or {}).get(model, model_name(model))
                ax.axhline(part[y].mean(), color="0.4", linestyle="--", linewidth=1, label=f"{label} (no {xlabel})")
    seeds = df.groupby([c for c in (facet, hue, x) if c])[y].size().max()
    note = "mean over seeds, band: ±1 sd" if seeds > 1 else "one seed per point (no sd band)"
    fig.suptitle(f"{title} ({note})" if title else note, fontsize=11)
    fig.tight_layout()
    if hue or band is not None:
        handles, names = axes[0][0].get_legend_handles_labels()
        for ax in axes[0][1:]:
            for h, n in zip(*ax.get_legend_handles_labels()):
                if n not in names:
                    handles.append(h)
                    names.append(n)
        fig.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    return fig


def paired_bars(frame: pd.DataFrame, conditions, xlabel: str, title: str = "", references=None,
                panel_notes=None) -> plt.Figure:
    """Two bars per model (one per condition), one panel per data set: ``frame`` has ``dataset``,
    ``label`` and, for each condition key, ``hr@50 <key>`` and ``hr@50 <key> sd`` (mean and sd over
    seeds); ``hr@50 paper`` (optional) is drawn as a black tick. ``conditions``: two
    ``(key, legend label, colour)``. ``references``: {dataset: [(HR@50, legend label, note), ...]}
    drawn as vertical lines, the same style for the same legend label in every panel, ``note``
    (or None) written beside the line (e.g. which simple baseline it is on this data set).
    ``panel_notes``: {dataset: a line under that panel's title}."""
    panels = list(frame.groupby("dataset", sort=False))
    height = max(2.4, 0.45 * max((len(p) for _, p in panels), default=1) + 1.2)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.2 * max(len(panels), 1), height), squeeze=False)
    styles = {}  # reference label -> line style, shared by the panels
    for ax, (name, part) in zip(axes[0], panels):
        y = np.arange(len(part))
        for offset, (key, legend, color) in zip((-0.2, 0.2), conditions):
            ax.barh(y + offset, part[f"hr@50 {key}"], height=0.38, xerr=part[f"hr@50 {key} sd"].fillna(0.0),
                    color=color, label=legend, error_kw={"elinewidth": 0.8, "capsize": 2})
        if "hr@50 paper" in part and part["hr@50 paper"].notna().any():
            ax.plot(part["hr@50 paper"], y, linestyle="none", marker="|", markersize=14, color="black",
                    label="paper (Table 2)")
        for value, label, note in (references or {}).get(name, ()):
            ax.axvline(value, color="tab:red", linestyle=styles.setdefault(label, (":", "--", "-.")[len(styles) % 3]),
                       linewidth=1.0, label=label)
            if note:
                ax.annotate(note, (value, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                            textcoords="offset points", fontsize=7, color="tab:red")
        ax.set_yticks(y, part["label"])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        note = (panel_notes or {}).get(name)
        ax.set_title(dataset_title(name) + (f"\n{note}" if note else ""))
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # a panel may add a marker or line the first one lacks
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    # The legend goes under the panels (above them it collided with the title).
    ncol = min(max(len(labels), 1), 3)
    rows = -(-len(labels) // ncol)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, min(0.3, (0.22 * rows + 0.15) / height), 1, 1))
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=8, frameon=False)
    return fig


def tie_order_shift(shift: pd.DataFrame, title: str = "") -> plt.Figure:
    """HR@50 of each model with the file's order inside ties (stable) and without it (shuffled):
    one panel per data set, one pair of bars per model (mean over seeds, sd as error bars), the
    paper's number as a black tick where it has one. ``shift`` is
    :func:`attrec_lib.analysis.tie_order.shift_table`."""
    return paired_bars(shift, (("stable", "stable ties", "tab:gray"), ("shuffled", "shuffled ties", "tab:orange")),
                       "HR@50 (validation-selected epoch)", title)


def tuned_vs_default(default: pd.DataFrame, tuned: pd.DataFrame, labels: dict, references=None,
                     title: str = "", panel_notes=None) -> plt.Figure:
    """Each tuned model's HR@50 at its default settings and tuned on validation (mean and sd over
    seeds of the validation-selected epoch; run_grid rows), one panel per data set, the paper's
    Table 2 number as a tick. ``references``, ``panel_notes``: see :func:`paired_bars` (a note says
    where a panel's tuned settings were chosen when not on its own validation)."""
    rows = []
    for (ds, model), part in tuned.groupby(["dataset", "model"], sort=False):
        base = default[(default["dataset"] == ds) & (default["model"] == model)]["hr@50"]
        rows.append({"dataset": ds, "model": model, "label": labels.get(model, model),
                     "hr@50 default": base.mean(), "hr@50 default sd": base.std(ddof=1),
                     "hr@50 tuned": part["hr@50"].mean(), "hr@50 tuned sd": part["hr@50"].std(ddof=1),
                     "hr@50 paper": paper_numbers.table2_value(paper_set(ds), model, "hr@50")})
    frame = pd.DataFrame(rows, columns=["dataset", "model", "label", "hr@50 default", "hr@50 default sd",
                                        "hr@50 tuned", "hr@50 tuned sd", "hr@50 paper"])
    frame["hr@50 paper"] = pd.to_numeric(frame["hr@50 paper"])
    return paired_bars(frame, (("default", "default settings", "tab:gray"), ("tuned", "tuned on validation", "tab:blue")),
                       "HR@50 (validation-selected epoch)", title, references, panel_notes)


def budget_curves(curves: pd.DataFrame, labels: dict, default_first: bool, highlight=("attrec",),
                  title: str = "") -> plt.Figure:
    """The tuning budget curve: per data set (columns), the validation HR@50 of the trial chosen
    among the first n (top row: the best so far) and that choice's test HR@50 (bottom row, never
    read by the choice) against n; one line per model, ``highlight`` drawn thick. ``curves`` is
    :func:`attrec_lib.analysis.budget_curve.budget_curves`; ``default_first``: trial 1 is the default setting."""
    sets = list(dict.fromkeys(curves["dataset"]))
    fig, axes = plt.subplots(2, max(len(sets), 1), figsize=(6.0 * max(len(sets), 1), 7.4), squeeze=False, sharex=True)
    colours = plt.get_cmap("tab20").colors
    models = list(dict.fromkeys(curves["model"]))
    for col, ds in enumerate(sets):
        part = curves[curves["dataset"] == ds]
        for i, model in enumerate(models):
            line = part[part["model"] == model]
            if line.empty:
                continue
            thick = model in highlight or any(model.startswith(f"{h}[") for h in highlight)
            style = {"color": "black" if thick else colours[i % len(colours)], "linewidth": 2.4 if thick else 1.0,
                     "linestyle": "--" if "[" in model else "-", "marker": "o", "markersize": 3}
            for row, column in enumerate(("valid HR@50", "test HR@50 (not used)")):
                axes[row][col].step(line["trials"], line[column], where="post", label=labels.get(model, model), **style)
        axes[0][col].set_title(dataset_title(ds))
        if col == 0:
            axes[0][col].set_ylabel("validation HR@50, best so far")
            axes[1][col].set_ylabel("test HR@50 of that choice\n(not used to choose)")
        axes[1][col].set_xlabel("trials (1 = the default setting, then the draws in order)" if default_first
                                else "trials (the draws, in order)")
        for row in (0, 1):
            axes[row][col].grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=min(max(len(names), 1), 6), fontsize=8, frameon=False)
    return fig


def repeat_share(share: pd.DataFrame, title: str = "") -> plt.Figure:
    """Per data set, the share of validation and test targets that repeat an item of the user's
    history (``repeats.repeat_share``), as horizontal bars."""
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * max(len(share), 1) + 1.4))
    y = np.arange(len(share))
    for offset, stage, color in ((-0.2, "valid", "tab:gray"), (0.2, "test", "tab:purple")):
        ax.barh(y + offset, share[f"{stage}_repeat_pct"], height=0.38, color=color,
                label=f"{'validation' if stage == 'valid' else 'test'} targets")
    ax.set_yticks(y, [dataset_title(d) for d in share["dataset"]])
    ax.invert_yaxis()
    ax.set_xlabel("% of targets already in the user's history")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def repeat_novel(frame: pd.DataFrame, title: str = "") -> plt.Figure:
    """HR@50 of each model on novel and on repeat test targets (mean over seeds, sd as error bars),
    one panel per data set: ``frame`` has ``dataset``, ``label``, ``hr@50 novel``, ``hr@50 repeat``
    and their ``sd`` (``repeats.breakdown_table``); the overall HR@50 is a black tick."""
    fig = paired_bars(frame, (("novel", "novel targets", "tab:green"), ("repeat", "repeat targets", "tab:purple")),
                      "HR@50 (validation-selected epoch)", title)
    for ax, (_, part) in zip(fig.axes, frame.groupby("dataset", sort=False)):
        ax.plot(part["hr@50 all"], np.arange(len(part)), linestyle="none", marker="|", markersize=14,
                color="black", label="all targets")
    return fig


def rank_slopes(table: pd.DataFrame, label_a: str, label_b: str, title: str = "") -> plt.Figure:
    """Each model's rank by test HR@50 under two splits, joined by a line, one panel per data set
    (``repeats.ordering``'s table, columns ``rank <label>``)."""
    panels = list(table.groupby("dataset", sort=False))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.6 * max(len(panels), 1), 5.2), squeeze=False)
    for ax, (name, part) in zip(axes[0], panels):
        for _, r in part.iterrows():
            a, b = r[f"rank {label_a}"], r[f"rank {label_b}"]
            color = "black" if r["model"] == "AttRec" else ("tab:red" if a != b else "tab:gray")
            ax.plot([0, 1], [a, b], marker="o", color=color, linewidth=1.6 if r["model"] == "AttRec" else 0.9)
            ax.annotate(r["model"], (0, a), xytext=(-4, 0), textcoords="offset points", ha="right", va="center",
                        fontsize=7)
            ax.annotate(r["model"], (1, b), xytext=(4, 0), textcoords="offset points", ha="left", va="center",
                        fontsize=7)
        ax.set_xticks([0, 1], [label_a, label_b])
        ax.set_xlim(-0.6, 1.6)
        ax.invert_yaxis()
        ax.set_ylabel("rank by test HR@50 (1 = best)")
        ax.set_title(dataset_title(name))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


FOREST_COLUMNS = ["dataset", "baseline", "chosen as", "settings", "users", "ΔHR@50", "CI low", "CI high", "p (HR@50)"]


def forest_frame(comparisons: dict) -> pd.DataFrame:
    """The rows of the forest plot. ``comparisons``: ``{settings label: {role: table}}``, e.g.
    ``{"default settings": {"strongest of all": t1, "strongest simple": t2}, "tuned alike": {...}}``, each
    table one of :func:`attrec_lib.analysis.tables.attrec_vs_best_baseline` (its baseline chosen
    there on validation HR@50; nothing here chooses). One row per (data set, baseline, settings):
    AttRec minus the baseline in test HR@50 over users, its paired bootstrap 95% interval and
    Wilcoxon p, as that table computed them; a baseline picked in two roles for the same data set
    and settings is one row, ``chosen as`` naming both ("strongest of all = strongest simple"). Data
    sets in the order first given."""
    rows = {}
    for settings, tables_by_role in comparisons.items():
        for role, table in tables_by_role.items():
            for r in table.to_dict("records"):
                key = (r["dataset"], r["best baseline"], settings)
                if key in rows:
                    rows[key]["chosen as"] += f" = {role}"
                    continue
                rows[key] = {"dataset": r["dataset"], "baseline": r["best baseline"], "chosen as": role,
                             "settings": settings, "users": r["users"], "ΔHR@50": r["ΔHR@50"],
                             "CI low": r["CI low"], "CI high": r["CI high"], "p (HR@50)": r["p (HR@50)"]}
    out = pd.DataFrame(list(rows.values()), columns=FOREST_COLUMNS)
    order = {ds: i for i, ds in enumerate(dict.fromkeys(out["dataset"]))}
    return out.sort_values("dataset", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def forest(frame: pd.DataFrame, title: str = "") -> plt.Figure:
    """A forest plot of :func:`forest_frame`: one panel per data set (stacked, one x axis), one
    line per (baseline, settings), labelled with the role it was chosen in, the point AttRec minus
    the baseline in test HR@50 and the bar its 95% interval; right of the dashed zero line AttRec
    is ahead. Colour: the settings."""
    sets = list(dict.fromkeys(frame["dataset"]))
    counts = [int((frame["dataset"] == ds).sum()) for ds in sets]
    fig, axes = plt.subplots(max(len(sets), 1), 1, sharex=True, squeeze=False, layout="constrained",
                             figsize=(8.5, 0.9 + sum(0.42 * c + 0.5 for c in counts)),
                             gridspec_kw={"height_ratios": counts or [1]})
    kinds = list(dict.fromkeys(frame["settings"]))
    palette = dict(zip(kinds, sns.color_palette("colorblind", len(kinds))))
    for ax, ds in zip(axes[:, 0], sets):
        part = frame[frame["dataset"] == ds].reset_index(drop=True)
        y = np.arange(len(part))
        ax.hlines(y, part["CI low"], part["CI high"], colors=[palette[k] for k in part["settings"]], linewidth=2)
        sns.scatterplot(x=part["ΔHR@50"].to_numpy(), y=y, hue=part["settings"].to_numpy(), hue_order=kinds,
                        palette=palette, s=45, zorder=3, legend=False, ax=ax)
        ax.axvline(0.0, color="0.3", linestyle="--", linewidth=1)
        ax.set_yticks(y, [f"vs {model_name(b)} ({role})" for b, role in zip(part["baseline"], part["chosen as"])])
        ax.set_ylim(len(part) - 0.5, -0.5)
        ax.set_ylabel("")
        ax.set_title(dataset_title(ds), fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("AttRec minus the baseline, test HR@50 (mean over users, 95% interval)")
    handles = [plt.Line2D([], [], color=palette[k], marker="o", linewidth=2, label=k) for k in kinds]
    fig.legend(handles=handles, loc="outside lower center", ncol=max(len(kinds), 1), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig
