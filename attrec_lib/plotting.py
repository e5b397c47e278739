"""Figures of the study, saved under ``figures/`` with fixed names as PNG and PDF."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import paths  # noqa: E402


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
    import io

    from IPython.display import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return Image(data=buffer.getvalue(), format="png")


def save_table(df: pd.DataFrame, name: str) -> str:
    paths.figures_dir().mkdir(parents=True, exist_ok=True)
    df.to_csv(paths.figures_dir() / f"{name}.csv", index=False)
    return f"figures/{name}.csv"


def attention_heatmaps(maps: dict, title: str = "") -> plt.Figure:
    """Figure 3: one L x L heatmap per user (rows: query position, columns: attended item)."""
    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps), 3.2), squeeze=False)
    for ax, (label, weights) in zip(axes[0], maps.items()):
        im = ax.imshow(np.asarray(weights), cmap="viridis", vmin=0.0)
        L = np.asarray(weights).shape[0]
        ax.set_xticks(range(L), [f"t-{L - 1 - i}" if i < L - 1 else "t" for i in range(L)])
        ax.set_yticks(range(L), [f"t-{L - 1 - i}" if i < L - 1 else "t" for i in range(L)])
        ax.set_title(label)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _sweep_axis(ax, df, x, hue, y):
    for key, part in df.groupby(hue, sort=False):
        g = part.groupby(x)[y]
        mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
        ax.plot(mean.index, mean.values, marker="o", label=str(key))
        ax.fill_between(mean.index, mean - sd, mean + sd, alpha=0.15)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def sweep(df: pd.DataFrame, x: str, xlabel: str, hue: str = "dataset", y: str = "hr@50",
          facet: str | None = None, title: str = "", labels: dict | None = None) -> plt.Figure:
    """HR@50 against a swept setting: one line per ``hue`` value (mean over seeds, sd as a band),
    one panel per ``facet`` value."""
    df = df.copy()
    if labels:
        df[hue] = df[hue].map(lambda v: labels.get(v, v))
    panels = list(df.groupby(facet, sort=False)) if facet else [("", df)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 3.6), squeeze=False)
    for ax, (name, part) in zip(axes[0], panels):
        _sweep_axis(ax, part, x, hue, y)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("MRR" if y == "mrr" else y.upper())
        if name != "":
            ax.set_title(str(name))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def tie_order_shift(shift: pd.DataFrame, title: str = "") -> plt.Figure:
    """HR@50 of each model with the file's order inside ties (stable) and without it (shuffled):
    one panel per data set, one pair of bars per model (mean over seeds, sd as error bars), the
    paper's number as a black tick where it has one. ``shift`` is
    :func:`attrec_lib.tie_order.shift_table`."""
    panels = list(shift.groupby("dataset", sort=False))
    height = max(2.4, 0.45 * max((len(p) for _, p in panels), default=1) + 1.2)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.2 * max(len(panels), 1), height), squeeze=False)
    for ax, (name, part) in zip(axes[0], panels):
        y = np.arange(len(part))
        for offset, rule, color in ((-0.2, "stable", "tab:gray"), (0.2, "shuffled", "tab:orange")):
            ax.barh(y + offset, part[f"hr@50 {rule}"], height=0.38, xerr=part[f"hr@50 {rule} sd"].fillna(0.0),
                    color=color, label=f"{rule} ties", error_kw={"elinewidth": 0.8, "capsize": 2})
        if "hr@50 paper" in part and part["hr@50 paper"].notna().any():
            ax.plot(part["hr@50 paper"], y, linestyle="none", marker="|", markersize=14, color="black",
                    label="paper (Table 2)")
        ax.set_yticks(y, part["label"])
        ax.invert_yaxis()
        ax.set_xlabel("HR@50 (validation-selected epoch)")
        ax.set_title(str(name))
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # a panel may add the paper's marker the first one lacks
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, y=1.06)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig
