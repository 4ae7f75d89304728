"""Metrics of a trained model (never beta, never plots): test -ELBO, active units, and Table 1's angle
read-outs (OLS, the loop's rotation index, the arc-length read-out) where the dataset knows each item's
angle (the pendulum), for the final model and for the codes snapshot during training."""
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core import datasets
from vhp_core.datasets import DATASETS
from vhp_core.devices import module_device, resolve_device, tune_cpu_process
from vhp_core.maths.angle_readouts import (
    angle_regression_error,
    loop_readout_error,
    rotation_index,
    split_half_readouts,
)
from vhp_core.maths.model import VAE
from vhp_core.maths.nll import SUBSET_SEED, importance_sampled_nll, nll_subset, nll_summary
from vhp_core.runs.config import check_data_sizes
from vhp_core.runs.train import load_model, neg_elbo

METRICS_VERSION = 3
"""Bumped whenever `evaluate_run` adds or changes a metric: the workflow passes it to the evaluate rule
as a parameter, so Snakemake recomputes every metrics.json written by an older version (2: the loop
read-outs of Table 1; 3: the read-outs at the snapshot steps)."""


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """Dimensions whose posterior mean varies across data by more than `threshold` (App. D.2, IWAE)."""
    return int((mu.var(dim=0) > threshold).sum().item())


def load_run(model_path: str | Path) -> tuple[VAE, dict[str, Any]]:
    """A trained run's model on the device its config names (spec key `device`; 'auto': CUDA when
    present), and the rest of its model.pt. Read on the CPU, so a CUDA-less machine can name the key."""
    model, saved = load_model(model_path, device="cpu")
    return model.to(resolve_device(saved["spec"]["device"])), saved


@torch.no_grad()
def encode_means(model: VAE, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Posterior means (N, d_z) on the model's device; x may stay on the CPU, batches move as used."""
    device = module_device(model)
    return torch.cat([model.encode_mean(x[i:i + batch_size].to(device))[0] for i in range(0, len(x), batch_size)])


def evaluate_nll(model_path: str | Path, samples: int, n_items: int | None) -> dict[str, Any]:
    """Importance-sampled test NLL of one trained run (Table 2), on `n_items` random test items (or all)."""
    tune_cpu_process()
    model, saved = load_run(model_path)
    spec = saved["spec"]
    torch.manual_seed(spec["seed"])
    splits = datasets.load_run_data(spec)
    check_data_sizes(spec, len(splits.train), len(splits.test), nll_items=n_items)
    subset = nll_subset(len(splits.test), n_items)
    x = splits.test[subset]
    start = time.perf_counter()
    nll = importance_sampled_nll(model, x, samples=samples, progress=True)
    summary = nll_summary(nll)
    return {"dataset": spec["dataset"], "method": spec["method"], "seed": spec["seed"], "samples": samples,
            "n_items": len(x), "subset_seed": None if len(x) == len(splits.test) else SUBSET_SEED,
            "nll": summary["mean"], "nll_stderr": summary["stderr"],
            "seconds": time.perf_counter() - start}


def snapshot_readouts(snapshots_path: str | Path) -> list[dict[str, float]]:
    """Table 1's read-outs of the test codes snapshot during training (snapshots.npz), one entry per step:
    when a seed's loop takes the shape it ends with (`split_half_readouts`). No entry for a run configured
    without snapshot steps, whose archive the trainer publishes empty."""
    with np.load(snapshots_path) as f:
        if "step" not in f.files:
            return []
        return [{"step": int(step), "beta": float(beta), **split_half_readouts(mu, angle)}
                for step, beta, mu, angle in zip(f["step"], f["beta"], f["mu"], f["labels"], strict=True)]


def evaluate_run(model_path: str | Path, snapshots_path: str | Path | None = None) -> dict[str, Any]:
    """All metrics of one trained run, for its metrics.json, computed on the run's configured device;
    with the run's snapshots.npz, the angle read-outs at its snapshot steps too."""
    model, saved = load_run(model_path)
    spec = saved["spec"]
    torch.manual_seed(spec["seed"])
    splits = datasets.load_run_data(spec)
    test = splits.test.to(module_device(model))
    mu_test = encode_means(model, test)
    k = spec["evaluation"]["k"]
    metrics: dict[str, Any] = {
        "dataset": spec["dataset"], "method": spec["method"], "seed": spec["seed"],
        f"test_neg_elbo_k{k}": neg_elbo(model, test, k),
        "active_units": active_units(mu_test),
        "latent_dim": spec["model"]["latent_dim"],
        **saved["summary"],
    }
    if DATASETS[datasets.kind(spec)].angles and spec["model"]["latent_dim"] == 2:
        mu_fit = encode_means(model, splits.valid).cpu().numpy()
        z_test, angle_fit, angle_test = mu_test.cpu().numpy(), splits.labels["valid"], splits.labels["test"]
        metrics["ols"] = angle_regression_error(mu_fit, angle_fit, z_test, angle_test)
        metrics["loop"] = {"rotation_index": rotation_index(z_test, angle_test),
                           **loop_readout_error(mu_fit, angle_fit, z_test, angle_test)}
        if snapshots_path is not None:
            metrics["snapshots"] = snapshot_readouts(snapshots_path)
    return metrics
