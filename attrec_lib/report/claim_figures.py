"""Figures of the verdict's own runs (:mod:`attrec_lib.study.claim_specs`): the sparse ablations and
Figure 3's null model."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..analysis.attention_null import NULL_LABELS, THRESHOLD, column_shares  # noqa: E402
from ..analysis.display import readable_names  # noqa: E402


def ablation_bars(df: pd.DataFrame, column: str, value_labels: dict | None = None, title: str = "") -> plt.Figure:
    """Test HR@50 (mean over seeds, sd as error bars) of each setting of ``column``, one panel per
    ``set`` (the run rows of the sparse ablations, with a ``set`` column), titled with the set's
    display name ("LastFM at L = 2"). Each panel has its own y range (the sets' HR@50 differ too
    much for one: a shared axis cut off the higher set's bars)."""
    sets = list(dict.fromkeys(df["set"]))
    fig, axes = plt.subplots(1, max(len(sets), 1), figsize=(3.4 * max(len(sets), 1), 3.0), squeeze=False)
    for ax, name in zip(axes[0], sets):
        part = df[df["set"] == name]
        g = part.groupby(column, sort=False)["hr@50"]
        means, sds = g.mean(), g.std(ddof=1).fillna(0.0)
        labels = [str((value_labels or {}).get(v, v)) for v in means.index]
        ax.bar(range(len(means)), means.to_numpy(), yerr=sds.to_numpy(), color="tab:blue", capsize=3)
        ax.set_xticks(range(len(means)), labels, rotation=30, ha="right")
        ax.set_title(readable_names(name), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        lo = float((means - sds).min())
        ax.set_ylim(max(0.0, lo - 0.05), float((means + sds).max()) + 0.02)
    axes[0][0].set_ylabel("HR@50 (validation-selected epoch)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def null_model_figure(maps: dict, title: str = "") -> plt.Figure:
    """Left: the distribution over users of the column share of each model's map (the trained
    model, the untrained one, the one trained on shuffled sequences); right: each model's mean map."""
    fig = plt.figure(figsize=(12, 3.2))
    grid = fig.add_gridspec(1, 4, width_ratios=(1.6, 1, 1, 1))
    ax = fig.add_subplot(grid[0, 0])
    bins = np.linspace(0, 1, 41)
    colors = dict(zip(NULL_LABELS, ("tab:blue", "tab:gray", "tab:orange")))
    for label, m in maps.items():
        ax.hist(column_shares(m), bins=bins, alpha=0.55, label=label, color=colors.get(label))
    ax.axvline(THRESHOLD, color="black", linestyle=":", linewidth=1)
    ax.set_xlabel("column share of the off-diagonal variance")
    ax.set_ylabel("users")
    ax.legend(fontsize=7)
    for i, (label, m) in enumerate(maps.items()):
        sub = fig.add_subplot(grid[0, i + 1])
        mean = np.asarray(m).mean(axis=0)
        sub.imshow(mean, cmap="viridis", vmin=0, vmax=float(mean.max()))
        L = mean.shape[0]
        ticks = [f"t-{L - 1 - j}" if j < L - 1 else "t" for j in range(L)]
        sub.set_xticks(range(L), ticks, fontsize=7)
        sub.set_yticks(range(L), ticks, fontsize=7)
        sub.set_title(f"mean map: {label}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
