"""Figures of the CMU mocap experiment: graphs and paths (Fig. 5), decoded movements as stick figures
(Fig. 6) and the smoothness factor per joint (Fig. 7)."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Rectangle

from vhp_core.datasets.mocap import MocapMeta
from vhp_core.interpolation import discontinuities
from vhp_core.plots_interpolation import graph_panel

PAIR_COLOURS = ["black", "tab:orange", "red", "maroon"]  # Fig. 5: within a motion, then three across motions
SIDE_COLOURS = {"Left": "tab:blue", "LHip": "tab:blue", "LThumb": "tab:blue", "Right": "tab:red",
                "RHip": "tab:red", "RThumb": "tab:red"}


def mocap_graphs(runs: dict[str, str | Path], motions: list[str]) -> plt.Figure:
    """Fig. 5: per method, the graph of prior samples, the training frames' encodings by motion and the
    interpolation paths (black: within a motion; orange, red, maroon: between motions)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(4.4 * len(runs), 4.6), squeeze=False)
    for ax, (label, path) in zip(axes[0], runs.items(), strict=True):
        run = dict(np.load(path))
        graph_panel(ax, run, label, PAIR_COLOURS, (run["codes"], run["code_labels"], motions))
    fig.tight_layout()
    return fig


def feature_steps(decoded: np.ndarray) -> np.ndarray:
    """RMS change of the (normalised) features between consecutive frames: (..., T, D) -> (..., T - 1)."""
    return np.sqrt(np.mean(np.diff(decoded, axis=-2) ** 2, axis=-1))


def _bone_colour(name: str) -> str:
    return next((c for prefix, c in SIDE_COLOURS.items() if name.startswith(prefix)), "black")


def mocap_movements(runs: dict[str, str | Path], meta: MocapMeta, pair: int, jump_factor: float) -> plt.Figure:
    """Fig. 6: the decoded poses along interpolation `pair` as stick figures (side view, y up), one row
    per method; a pose reached by a jump (jump_factor x the path's median step) is boxed in blue."""
    loaded = {label: dict(np.load(path))["decoded"][pair] for label, path in runs.items()}
    frames = len(next(iter(loaded.values())))
    fig, axes = plt.subplots(len(loaded), frames, figsize=(0.8 * frames, 1.9 * len(loaded)), squeeze=False)
    names = meta.skeleton.names
    for row, (label, decoded) in zip(axes, loaded.items(), strict=True):
        points = meta.positions(decoded)  # (T, J, 3)
        jumps = discontinuities(torch.from_numpy(feature_steps(decoded)), jump_factor).numpy()
        low, high = points[..., 1].min(), points[..., 1].max()
        for t, ax in enumerate(row):
            for parent, child in meta.skeleton.bones:
                ax.plot(points[t, [parent, child], 2], points[t, [parent, child], 1], lw=1.2,
                        color=_bone_colour(names[child]))
            ax.set_ylim(low - 2, high + 2)
            ax.set_xlim(points[t, :, 2].mean() - (high - low) / 2, points[t, :, 2].mean() + (high - low) / 2)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if t > 0 and jumps[t - 1]:
                ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor="tab:blue",
                                       lw=2.5, clip_on=False))
        row[0].set_ylabel(label, fontsize=8)
        row[0].yaxis.label.set_visible(True)
    fig.suptitle("Decoded poses along the red path of Fig. 5 (side view; left limbs blue, right red; "
                 "blue box: a jump)", fontsize=9)
    return fig


def smoothness_table(runs: dict[str, list[str | Path]], meta: MocapMeta) -> pd.DataFrame:
    """Per method and feature: mean and std of the smoothness factor over every interpolation of every
    graph and seed (label -> smoothness.npz files)."""
    rows = []
    for label, paths in runs.items():
        factors = np.concatenate([np.load(p)["factors"] for p in paths])  # (n, 50)
        for j, (feature, group) in enumerate(zip(meta.features, meta.groups, strict=True)):
            rows.append({"method": label, "feature": feature, "group": group, "n_interpolations": len(factors),
                         "mean": float(factors[:, j].mean()), "std": float(factors[:, j].std())})
    return pd.DataFrame(rows)


def smoothness_figure(table: pd.DataFrame) -> plt.Figure:
    """Fig. 7: mean and std of the smoothness factor per joint channel and method, grouped by body part."""
    methods = list(dict.fromkeys(table["method"]))
    first = table[table["method"] == methods[0]]
    x = np.arange(1, len(first) + 1)
    fig, ax = plt.subplots(figsize=(11, 3.8))
    width = 0.8 / len(methods)
    for m, method in enumerate(methods):
        part = table[table["method"] == method]
        ax.errorbar(x + (m - (len(methods) - 1) / 2) * width, part["mean"], yerr=part["std"], fmt="o", ms=3,
                    lw=0.8, capsize=1.5, label=method)
    groups = first["group"].to_numpy()
    starts = [0] + [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]] + [len(groups)]
    for g, (a, b) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        if g % 2:
            ax.axvspan(a + 0.5, b + 0.5, color="0.92", zorder=0)
        ax.text((a + b + 1) / 2, 1.0, groups[a], transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8)
    ax.set_xlim(0.5, len(x) + 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("joint channel")
    ax.set_ylabel("smoothness factor (RMS 2nd difference)")
    ax.legend(fontsize=8, ncol=len(methods), loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return fig


def smoothness_markdown(table: pd.DataFrame) -> str:
    """Per method and body part, the mean smoothness factor (and overall), lower is smoother."""
    pivot = table.pivot_table(index="method", columns="group", values="mean", sort=False)
    pivot["all joints"] = table.groupby("method", sort=False)["mean"].mean()
    header = "| method | " + " | ".join(pivot.columns) + " |"
    lines = [header, "|" + "---|" * (len(pivot.columns) + 1)]
    lines += [f"| {method} | " + " | ".join(f"{v:.4f}" for v in row) + " |" for method, row in pivot.iterrows()]
    n = int(table["n_interpolations"].iloc[0])
    return ("# Smoothness factor of mocap interpolations (Fig. 7)\n\nMean over the channels of each body part of "
            f"the per-channel mean over {n} interpolations (RMS of the second difference of the decoded, z-scored "
            "joint angles along the path; lower is smoother). Paper (Sec. 4.2, Fig. 7): VHP + REWO gives "
            "smoother interpolations than VampPrior and IWAE, on an axis of 0 to 0.03 in the paper's own "
            "normalisation, which is not given: only the ordering is comparable.\n\n" + "\n".join(lines) + "\n")
