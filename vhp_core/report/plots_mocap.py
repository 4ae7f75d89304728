"""Figures of the CMU mocap experiment: graphs and paths (Fig. 5), decoded movements as stick figures
(Fig. 6), the smoothness factor per joint (Fig. 7) and smoothness against reconstruction error."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Rectangle

from vhp_core.datasets.mocap import MocapMeta
from vhp_core.maths.interpolation import discontinuities
from vhp_core.report.plots_interpolation import graph_panel
from vhp_core.report.tables import markdown_rows

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


def smoothness_runs(files: list[str], labels: list[str], seeds: list[int]) -> dict[str, dict[int, str]]:
    """Method label -> seed -> smoothness.npz, from the method-major file list of the workflow's inputs."""
    if len(files) != len(labels) * len(seeds):
        raise ValueError(f"{len(files)} smoothness files for {len(labels)} methods x {len(seeds)} seeds")
    return {label: dict(zip(seeds, files[m * len(seeds):(m + 1) * len(seeds)], strict=True))
            for m, label in enumerate(labels)}


def smoothness_table(runs: dict[str, dict[int, str]], meta: MocapMeta) -> pd.DataFrame:
    """Per method and feature, over every interpolation of every graph and seed: mean and std of the smoothness
    factor and of the normalised smoothness (paths along which the feature stands still, where it is undefined,
    counted and left out); over the test frames of every seed, the RMS error of the reconstructions and of the
    mean pose."""
    rows = []
    for label, paths in runs.items():
        loaded = [np.load(p) for p in paths.values()]
        factors, normalised = (np.concatenate([run[key] for run in loaded]) for key in ("factors", "normalised"))
        reconstruction, mean_pose = (np.sqrt(np.mean([run[key] for run in loaded], axis=0))
                                     for key in ("reconstruction_mse", "mean_pose_mse"))
        for j, (feature, group) in enumerate(zip(meta.features, meta.groups, strict=True)):
            rows.append({"method": label, "feature": feature, "group": group, "n_interpolations": len(factors),
                         "mean": float(factors[:, j].mean()), "std": float(factors[:, j].std()),
                         "normalised_mean": float(np.nanmean(normalised[:, j])),
                         "normalised_std": float(np.nanstd(normalised[:, j])),
                         "normalised_undefined": int(np.isnan(normalised[:, j]).sum()),
                         "reconstruction_rms": float(reconstruction[j]), "mean_pose_rms": float(mean_pose[j])})
    return pd.DataFrame(rows)


def smoothness_points(runs: dict[str, dict[int, str]]) -> pd.DataFrame:
    """Per method and seed, over features (and paths): the mean smoothness factor and normalised smoothness,
    and the RMS error of the test frames' reconstructions and of the mean pose."""
    rows = []
    for label, paths in runs.items():
        for seed, path in paths.items():
            run = np.load(path)
            rows.append({"method": label, "seed": seed, "factor": float(run["factors"].mean(axis=0).mean()),
                         "normalised": float(np.nanmean(run["normalised"], axis=0).mean()),
                         "reconstruction_rms": float(np.sqrt(run["reconstruction_mse"].mean())),
                         "mean_pose_rms": float(np.sqrt(run["mean_pose_mse"].mean()))})
    return pd.DataFrame(rows)


def tradeoff_figure(points: pd.DataFrame) -> plt.Figure:
    """Smoothness against reconstruction error, one point per method and seed: the paper's factor (left), which
    a decoder wins by reproducing less (the mean pose scores 0), and the normalised smoothness (right), which
    blurring leaves unchanged. The dashed line is the mean pose's error."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.2), layout="constrained")
    mean_pose = float(points["mean_pose_rms"].mean())
    panels = [("factor", "smoothness factor\n(RMS 2nd difference)"),
              ("normalised", "normalised smoothness\n(RMS 2nd / RMS 1st difference)")]
    for ax, (column, ylabel) in zip(axes, panels, strict=True):
        for method, part in points.groupby("method", sort=False):
            ax.scatter(part["reconstruction_rms"], part[column], s=28, label=method)
            for _, row in part.iterrows():
                ax.annotate(str(row["seed"]), (row["reconstruction_rms"], row[column]), xytext=(3, 3),
                            textcoords="offset points", fontsize=7)
        ax.axvline(mean_pose, color="0.5", ls="--", lw=0.8)
        ax.set_xlim(0, 1.08 * max(mean_pose, float(points["reconstruction_rms"].max())))
        ax.set_ylim(bottom=0)
        ax.set_xlabel("test reconstruction RMS error (z-scored)")
        ax.set_ylabel(ylabel)
    axes[0].scatter([mean_pose], [0], marker="*", s=90, color="0.3", clip_on=False, zorder=3,
                    label="mean pose (constant decoder)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=points["method"].nunique() + 1,
               fontsize=8)
    fig.suptitle("Smoothness against reconstruction error, per method and seed (lower is better on every axis)",
                 fontsize=9)
    return fig


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


def _by_group(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per method (rows) and body part (columns), the mean over the part's channels of `column`, and over all."""
    pivot = table.pivot_table(index="method", columns="group", values=column, sort=False)
    pivot["all joints"] = table.groupby("method", sort=False)[column].mean()
    return pivot.reset_index()


def smoothness_markdown(table: pd.DataFrame, points: pd.DataFrame) -> str:
    """Per method and body part the mean smoothness factor and normalised smoothness, and per method and seed
    both beside the reconstruction error; lower is better everywhere."""
    n = int(table["n_interpolations"].iloc[0])
    seeds = points.assign(seed=points["seed"].astype(str))[["method", "seed", "factor", "normalised",
                                                            "reconstruction_rms"]]
    seeds.columns = ["method", "seed", "smoothness factor", "normalised smoothness", "reconstruction RMS error"]
    return "\n".join([
        "# Smoothness factor of mocap interpolations (Fig. 7)", "",
        "Mean over the channels of each body part of the per-channel mean over "
        f"{n} interpolations (RMS of the second difference of the decoded, z-scored joint angles along the path; "
        "lower is smoother). Paper (Sec. 4.2, Fig. 7): VHP + REWO gives smoother interpolations than VampPrior "
        "and IWAE, on an axis of 0 to 0.03 in the paper's own normalisation, which is not given: only the "
        "ordering is comparable.", "", *markdown_rows(_by_group(table, "mean"), 4), "",
        "## Normalised smoothness", "",
        "The same factor divided, per path and channel, by the RMS of the first difference (paths along which a "
        "channel stands still are left out): scale-free, so a decoder that blurs towards the mean pose does not "
        "gain by it. 0 at constant speed; about 1.4 for a path that stands still but for one leap.", "",
        *markdown_rows(_by_group(table, "normalised_mean"), 4), "",
        "## Per seed, beside the reconstruction error", "",
        "RMS error of decoding the posterior mean of each test frame (z-scored units, over frames and channels). "
        f"A decoder that always outputs the mean pose has error {points['mean_pose_rms'].mean():.3f} and "
        "smoothness factor 0.", "", *markdown_rows(seeds, 4), ""])
