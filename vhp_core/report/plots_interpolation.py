"""Figures of graph-based interpolations (Figs. 3-5): the graph in latent space and the decoded path."""
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from vhp_core.datasets.pendulum import read_angle
from vhp_core.maths.interpolation import discontinuities

PATH_COLOURS = ["red", "black", "tab:orange", "maroon", "tab:purple", "tab:green"]


def plane(points: np.ndarray, basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates to draw (N, d) latents: the latents themselves when d = 2, else their projection
    on the two leading principal axes of the graph's nodes (`basis` (d, 2), computed when None)."""
    if points.shape[1] == 2:
        return points, np.eye(2)
    if basis is None:
        centred = points - points.mean(0)
        basis = np.linalg.svd(centred, full_matrices=False)[2][:2].T
    return points @ basis, basis


def graph_panel(ax: plt.Axes, run: dict[str, np.ndarray], title: str, colours: list[str] | None = None,
                data: tuple[np.ndarray, np.ndarray, list[str]] | None = None) -> None:
    """The kNN graph (edges shaded by weight: darker is shorter) and each interpolation path on one axes;
    `data` = (encodings, label ids, label names) adds the encoded data beneath, coloured by label."""
    nodes, basis = plane(run["nodes"])
    segments = nodes[run["edges"]]  # (E, 2, 2)
    weights = run["weights"]
    lines = LineCollection(segments, cmap="Blues_r", linewidths=0.4, zorder=1)
    lines.set_array(weights)
    lines.set_clim(np.percentile(weights, [1, 99]))
    ax.add_collection(lines)
    if data is not None:
        points, ids, names = data
        points = plane(points, basis)[0]
        for i, name in enumerate(names):
            ax.scatter(*points[ids == i].T, s=4, alpha=0.6, label=name, zorder=2)
        ax.legend(fontsize=6, markerscale=2, loc="best")
    colours = colours or PATH_COLOURS
    for p, latents in enumerate(run["latents"]):
        path = plane(latents, basis)[0]
        colour = colours[p % len(colours)]
        ax.plot(*path.T, color=colour, lw=1.6, zorder=3)
        ax.scatter(*path[0], marker="o", s=30, color=colour, edgecolor="white", zorder=4)
        ax.scatter(*path[-1], marker="s", s=30, color=colour, edgecolor="white", zorder=4)
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    bridges = int(run["bridges"])
    ax.set_title(title + (f"\n({bridges} bridge edge{'s' * (bridges > 1)} join the graph)" if bridges else ""),
                 fontsize=9)
    ax.set_xlabel("$z_1$" if run["nodes"].shape[1] == 2 else "PC 1", fontsize=8)
    ax.set_ylabel("$z_2$" if run["nodes"].shape[1] == 2 else "PC 2", fontsize=8)
    ax.tick_params(labelsize=6)


def pendulum_graphs(runs: dict[str, str | Path]) -> plt.Figure:
    """Fig. 3: per method (label -> interpolation.npz), the graph of prior samples and the A* path."""
    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 4.2), squeeze=False)
    for ax, (label, path) in zip(axes[0], runs.items(), strict=True):
        graph_panel(ax, dict(np.load(path)), label)
    fig.tight_layout()
    return fig


def pendulum_angles(run: dict[str, np.ndarray], jump_factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read-out angles (T,) of the first path's decoded frames, their absolute steps (T - 1,), both in
    degrees, and which steps are jumps (jump_factor x the median step)."""
    angles = read_angle(torch.from_numpy(run["decoded"][0]))
    steps = (torch.remainder(angles[1:] - angles[:-1] + np.pi, 2 * np.pi) - np.pi).abs()
    return np.degrees(angles.numpy()), np.degrees(steps.numpy()), discontinuities(steps, jump_factor).numpy()


def pendulum_frames(runs: dict[str, str | Path], jump_factor: float) -> plt.Figure:
    """Fig. 4: the decoded frames of the first pair's path, one row per method, with the read-out angle
    above each frame; frames reached by a jump (discontinuities, jump_factor x the median step) boxed. The
    frames are square images, whatever their size (a pendulum variant may render another)."""
    loaded = {label: dict(np.load(path)) for label, path in runs.items()}
    _, frames, pixels = next(iter(loaded.values()))["decoded"].shape
    image_size = math.isqrt(pixels)
    fig, axes = plt.subplots(len(loaded), frames, figsize=(0.75 * frames, 1.05 * len(loaded)), squeeze=False)
    for row, (label, run) in zip(axes, loaded.items(), strict=True):
        angles, _, jumps = pendulum_angles(run, jump_factor)
        for t, ax in enumerate(row):
            ax.imshow(run["decoded"][0, t].reshape(image_size, image_size), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{angles[t] % 360:.0f}°", fontsize=6, pad=2)
            if t > 0 and jumps[t - 1]:
                ax.add_patch(Rectangle((-0.5, -0.5), image_size, image_size, fill=False, edgecolor="tab:blue",
                                       lw=2.5, clip_on=False))
        row[0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("Decoded path between the encodings of 0° and 180° (blue box: a jump; angle read from the image)",
                 fontsize=8)
    return fig


def pendulum_summary(runs: dict[str, str | Path], jump_factor: float) -> list[dict[str, float | str]]:
    """Per method, the first path's read-out angles at its ends, and its steps: total, largest, median, jumps."""
    rows = []
    for label, path in runs.items():
        angles, steps, jumps = pendulum_angles(dict(np.load(path)), jump_factor)
        rows.append({"method": label, "start_deg": round(float(angles[0] % 360), 1),
                     "end_deg": round(float(angles[-1] % 360), 1), "travelled_deg": round(float(steps.sum()), 1),
                     "max_step_deg": round(float(steps.max()), 1), "median_step_deg": round(float(np.median(steps)), 1),
                     "jumps": int(jumps.sum())})
    return rows
