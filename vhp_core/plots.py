"""Figures from saved results (never from a live model): each function returns a matplotlib Figure."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import EllipseCollection

from vhp_core.schedules import rewo_update


def save_figure(fig: plt.Figure, *paths: str | Path) -> None:
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def beta_landscape(nu: float, tau: float, beta_max: float = 2.0, delta_max: float = 1.0) -> plt.Figure:
    """Fig. 1: delta beta_t = beta_t - beta_{t-1} of Eq. 11 over beta_{t-1} and C_hat_t - kappa^2."""
    betas = np.linspace(1e-3, beta_max, 301)
    deltas = np.linspace(-delta_max, delta_max, 301)
    change = np.array([[rewo_update(b, d, nu, tau) - b for b in betas] for d in deltas])  # (delta, beta)
    fig, ax = plt.subplots(figsize=(5.2, 4))
    lim = np.abs(change).max()
    mesh = ax.pcolormesh(betas, deltas, change, cmap="RdBu", vmin=-lim, vmax=lim, shading="auto")
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
                                                  edgecolor="none", alpha=0.3))
            colour = snap["labels"][c][:max_points] if "labels" in snap else None
            post.scatter(mu[:, 0], mu[:, 1], c=colour, cmap="twilight", vmin=0, vmax=2 * np.pi, s=3)
            post.set_title(f"step {int(step)}", fontsize=9)
            prior = fig.add_subplot(grid[2 * r + 1, c])
            prior.scatter(*snap["prior"][c][:max_points].T, s=2, color="tab:blue", alpha=0.5)
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
