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
