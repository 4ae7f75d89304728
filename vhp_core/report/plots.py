"""Figures from saved results (never from a live model): each function returns a matplotlib Figure."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import EllipseCollection
from matplotlib.lines import Line2D

from vhp_core.io import atomic_path
from vhp_core.maths.schedules import rewo_update
from vhp_core.report.paper import TABLE1_ABS_ERROR, paper_nll


def save_figure(fig: plt.Figure, *paths: str | Path) -> None:
    """Save `fig` in the format each path's suffix names, atomically (a kill never leaves half a figure)."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix[1:], dpi=150, bbox_inches="tight")
    plt.close(fig)


def beta_landscape(nu: float, tau: float, beta_max: float = 2.0, delta_max: float = 1.0) -> plt.Figure:
    """Fig. 1: delta beta_t = beta_t - beta_{t-1} of Eq. 11 over beta_{t-1} and C_hat_t - kappa^2."""
    betas = np.linspace(1e-3, beta_max, 301)
    deltas = np.linspace(-delta_max, delta_max, 301)
    beta_grid, delta_grid = np.meshgrid(betas, deltas)  # (delta, beta)
    change = rewo_update(beta_grid, delta_grid, nu, tau).numpy() - beta_grid
    fig, ax = plt.subplots(figsize=(5.2, 4))
    lim = np.abs(change).max()
    mesh = ax.pcolormesh(betas, deltas, change, cmap="RdBu", vmin=-lim, vmax=lim, shading="auto",
                         rasterized=True)  # 300 x 300 cells: as vectors the PDF is megabytes
    ax.contour(betas, deltas, change, levels=[0.0], colors="k", linewidths=1)
    ax.axvline(1.0, color="k", ls=":", lw=0.8)
    ax.set_xlabel(r"$\beta_{t-1}$")
    ax.set_ylabel(r"$\hat C_t - \kappa^2$")
    ax.set_title(rf"REWO $\beta$ update, $\nu$ = {nu:g}, $\tau$ = {tau:g}")
    fig.colorbar(mesh, ax=ax, label=r"$\Delta\beta_t = \beta_t - \beta_{t-1}$")
    return fig


def training_dynamics(runs: dict[str, tuple[str | Path, str | Path]], max_points: int = 500) -> plt.Figure:
    """Fig. 2: per method (label -> (snapshots.npz, train_log.csv)), a row of posterior means
    coloured by the true angle with their std as ellipses, a row of prior samples, at each snapshot
    step, each column on its own scale; and beta over the steps with the snapshot steps marked."""
    loaded = {label: (dict(np.load(snap)), pd.read_csv(log)) for label, (snap, log) in runs.items()}
    n_cols = max(len(s["step"]) for s, _ in loaded.values())
    fig = plt.figure(figsize=(2.1 * n_cols + 4.2, 4.2 * len(loaded)))
    grid = fig.add_gridspec(2 * len(loaded), n_cols + 2, width_ratios=[1] * n_cols + [0.15, 2.2], hspace=0.45)
    for r, (label, (snap, log)) in enumerate(loaded.items()):
        for c, step in enumerate(snap["step"]):
            lim = 1.1 * np.percentile(np.abs(np.concatenate([snap["mu"][c], snap["prior"][c]])), 99.5)
            post = fig.add_subplot(grid[2 * r, c])
            mu, std = snap["mu"][c][:max_points], snap["std"][c][:max_points]
            post.add_collection(EllipseCollection(2 * std[:, 0], 2 * std[:, 1], 0, units="xy", offsets=mu,
                                                  offset_transform=post.transData, facecolor="0.85",
                                                  edgecolor="none", alpha=0.3, rasterized=True))
            colour = snap["labels"][c][:max_points] if "labels" in snap else None
            post.scatter(mu[:, 0], mu[:, 1], c=colour, cmap="twilight", vmin=0, vmax=2 * np.pi, s=3, rasterized=True)
            post.set_title(f"step {int(step)}", fontsize=9)
            prior = fig.add_subplot(grid[2 * r + 1, c])
            prior.scatter(*snap["prior"][c][:max_points].T, s=2, color="tab:blue", alpha=0.5, rasterized=True)
            for ax in (post, prior):
                ax.set_xlim(-lim, lim)
                ax.set_ylim(-lim, lim)
                ax.set_aspect("equal")
                ax.tick_params(labelsize=6)
        fig.axes[-2 * len(snap["step"])].set_ylabel(f"{label}\nposterior", fontsize=9)
        fig.axes[-2 * len(snap["step"]) + 1].set_ylabel("prior", fontsize=9)
        beta_ax = fig.add_subplot(grid[2 * r:2 * r + 2, n_cols + 1])
        beta_ax.semilogy(log["step"], log["beta"], color="k", lw=1)
        for step in snap["step"]:
            beta_ax.axvline(step, color="tab:red", lw=0.8)
        if r == len(loaded) - 1:
            beta_ax.set_xlabel("iteration")
        beta_ax.set_ylabel(r"$\beta$")
        beta_ax.set_title(label, fontsize=10)
    return fig


def table2_figure(table: pd.DataFrame) -> plt.Figure:
    """Table 2 as a plot: per dataset, each method's test NLL (mean, with the std over seeds when there
    are several) beside the paper's value (open diamond); datasets the paper did not use say so."""
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 0.45 * table["method"].nunique() + 1.6),
                             squeeze=False, sharey=True)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = table[table["dataset"] == dataset].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        ours = rows["nll_mean"].astype(float)
        ax.errorbar(ours, y, xerr=rows["nll_std"].astype(float).fillna(0.0), fmt="o", color="tab:blue",
                    capsize=3, label="ours")
        ax.scatter(rows["paper_nll"].astype(float), y, marker="D", facecolors="none", edgecolors="k",
                   label="paper", zorder=3)
        for yi, value, n in zip(y, ours, rows["n_seeds"], strict=True):
            if np.isfinite(value):
                ax.annotate(f"{value:.1f} ({n} seed{'s' if n != 1 else ''})", (value, yi), xytext=(0, 7),
                            textcoords="offset points", ha="center", fontsize=7)
            else:
                ax.text(0.5, yi, "not run", transform=ax.get_yaxis_transform(), ha="center", va="center",
                        fontsize=7, color="0.5")
        ax.set_yticks(y, rows["label"])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("test NLL (nats), lower is better")
        note = rows["note"].iloc[0]
        ax.set_title(dataset if not note else f"{dataset}\n(not comparable to the paper)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 0.98), ncol=2,
               frameon=False)
    return fig


SEED_STRIP_KEY = [Line2D([], [], ls="", marker="o", color="tab:blue", label="seed: one clean loop"),
                  Line2D([], [], ls="", marker="o", mfc="none", color="tab:blue", label="seed: no clean loop"),
                  Line2D([], [], color="k", lw=1.5, label="median over seeds")]


def _seed_strip(ax: plt.Axes, x: float, runs: pd.DataFrame, column: str, size: float) -> None:
    """One setting's seeds as a jittered column at x (filled: one clean loop; open: not) and their median."""
    runs = runs.sort_values("seed")
    values, clean = runs[column].to_numpy(dtype=float), (runs["loop.rotation_index"] == 1).to_numpy()
    jitter = np.linspace(-0.18, 0.18, len(runs)) if len(runs) > 1 else np.zeros(len(runs))
    ax.scatter(x + jitter[clean], values[clean], s=size, color="tab:blue", zorder=3)
    ax.scatter(x + jitter[~clean], values[~clean], s=size, facecolors="none", edgecolors="tab:blue", zorder=3)
    if len(runs):
        ax.hlines(np.median(values), x - 0.3, x + 0.3, color="k", lw=1.5)


def table1_strip(metrics: pd.DataFrame, labels: dict[str, str]) -> plt.Figure:
    """Table 1 per seed: a column of points per method (filled: the codes form one clean loop, rotation
    index 1; open: they do not), the median as a bar, and the paper's value as a red cross; left the
    OLS error (the paper's read-out), right the arc-length read-out's error."""
    fig, axes = plt.subplots(1, 2, figsize=(1.3 * len(labels) + 5, 4.2), sharey=True)
    panels = (("ols.abs_error", "OLS read-out (the paper's)"), ("loop.abs_error", "arc-length read-out along the loop"))
    for ax, (column, title) in zip(axes, panels, strict=True):
        for x, method in enumerate(labels):
            _seed_strip(ax, x, metrics[metrics["method"] == method], column, size=22)
            paper = TABLE1_ABS_ERROR.get(method)
            if column == "ols.abs_error" and paper is not None:
                ax.scatter([x], [paper], marker="x", s=60, color="tab:red", zorder=4)
        ax.set_xticks(range(len(labels)), list(labels.values()), rotation=25, ha="right")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("mean absolute angle error on the test set (rad)")
    key = [*SEED_STRIP_KEY, Line2D([], [], ls="", marker="x", color="tab:red", label="paper")]
    fig.legend(handles=key, loc="lower center", bbox_to_anchor=(0.5, 0.98), ncol=len(key), frameon=False)
    return fig


def sensitivity_figure(table: pd.DataFrame, metrics: pd.DataFrame, paper: float | None) -> plt.Figure:
    """The sensitivity study: a panel per factor, a column of per-seed OLS errors per setting (filled: one
    clean loop), the median as a bar, the clean loops as 'k/n' above, the reference setting's label in
    bold and the paper's value of the reference method as a dashed line."""
    factors = list(dict.fromkeys(table["factor"]))
    fig, axes = plt.subplots(1, len(factors), figsize=(2.6 * len(factors) + 1, 4), sharey=True, squeeze=False)
    top = max(float(metrics["ols.abs_error"].max()), paper or 0.0) * 1.15
    for ax, factor in zip(axes[0], factors, strict=True):
        rows = table[table["factor"] == factor].reset_index(drop=True)
        for x, row in rows.iterrows():
            runs = metrics[(metrics["dataset"] == row["dataset"]) & (metrics["method"] == row["method"])]
            _seed_strip(ax, x, runs, "ols.abs_error", size=16)
            ax.text(x, top, f"{row['clean_loops']}/{row['n_seeds']}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(rows)), [str(v) for v in rows["value"]])
        for tick, is_ref in zip(ax.get_xticklabels(), rows["is_reference"], strict=True):
            tick.set_fontweight("bold" if is_ref else "normal")
        if paper is not None:
            ax.axhline(paper, color="tab:red", ls="--", lw=1)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylim(0, top * 1.1)
        ax.set_title(factor, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("OLS angle error on the test set (rad)")
    key = [*SEED_STRIP_KEY, Line2D([], [], color="tab:red", ls="--", label="paper (reference method)")]
    fig.legend(handles=key, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(key), frameon=False)
    fig.supxlabel("setting (bold: the reference); k/n: seeds with one clean loop", fontsize=8)
    return fig


def learning_curves(curves: pd.DataFrame, labels: dict[str, str]) -> plt.Figure:
    """Table 2's learning curves: per dataset, each method's cheap NLL estimate over epochs (mean over
    seeds, the range of seeds shaded), and the paper's Table 2 value as a dashed mark in the method's colour."""
    curves = curves.dropna(subset=["nll"])
    if curves.empty:
        fig, ax = plt.subplots(figsize=(5.5, 2))
        ax.text(0.5, 0.5, "no curve points: every run ended before its first one", ha="center", va="center")
        ax.set_axis_off()
        return fig
    datasets = list(dict.fromkeys(curves["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2), squeeze=False)
    colours = dict(zip(labels, plt.get_cmap("tab10").colors, strict=False))
    for ax, dataset in zip(axes[0], datasets, strict=True):
        here = curves[curves["dataset"] == dataset]
        marks = []
        for method, label in labels.items():
            runs = here[here["method"] == method]
            if runs.empty:
                continue
            by_epoch = runs.groupby("epoch")["nll"]
            epochs = by_epoch.mean().index.to_numpy()
            ax.plot(epochs, by_epoch.mean().to_numpy(), color=colours[method], marker="o", ms=3, label=label)
            if runs["seed"].nunique() > 1:
                ax.fill_between(epochs, by_epoch.min().to_numpy(), by_epoch.max().to_numpy(), color=colours[method],
                                alpha=0.2, lw=0)
            paper = paper_nll(method, dataset)
            if paper is not None:
                ax.axhline(paper, color=colours[method], ls="--", lw=1)
                marks.append(paper)
        last = here.groupby(["method", "seed"])["nll"].min()
        low = min([*marks, float(last.min())]) - 2
        high = max([*marks, float(last.max())]) + 0.6 * (max([*marks, float(last.max())]) - low) + 2
        ax.set_ylim(low, high)
        ax.set_xlabel("epoch")
        ax.set_title(dataset, fontsize=10)
        ax.grid(alpha=0.3)
    samples, items = int(curves["samples"].iloc[0]), int(curves["n_items"].iloc[0])
    axes[0, 0].set_ylabel(f"test NLL estimate (nats; S = {samples}, {items} test items)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", ls="--", lw=1))
    names.append("paper (Table 2, S = 5,000, full test set)")
    fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8)
    return fig
