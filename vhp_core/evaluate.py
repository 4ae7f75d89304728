"""Metrics of a trained model (never beta, never plots): test -ELBO, active units, and the
pendulum's OLS angle read-out of Table 1."""
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core import datasets
from vhp_core.devices import module_device, resolve_device
from vhp_core.model import VAE
from vhp_core.nll import importance_sampled_nll, nll_summary, tune_process
from vhp_core.train import load_model, neg_elbo


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Map angles to (-pi, pi]."""
    return np.pi - np.mod(np.pi - a, 2 * np.pi)


def circle_centre(z: np.ndarray) -> np.ndarray:
    """Centre of the least-squares circle through 2-D codes (algebraic fit, OLS on
    x^2 + y^2 = 2 a x + 2 b y + c); unlike the mean, it does not move with how densely the loop is sampled."""
    design = np.column_stack([2 * z[:, 0], 2 * z[:, 1], np.ones(len(z))])
    (a, b, _), *_ = np.linalg.lstsq(design, (z**2).sum(axis=1), rcond=None)
    return np.array([a, b])


def polar_angle(z: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Polar angle of 2-D codes about `centre`: (N, 2) -> (N,)."""
    d = z - centre
    return np.arctan2(d[:, 1], d[:, 0])


def fit_polar_regression(phi: np.ndarray, angle: np.ndarray) -> tuple[int, float]:
    """OLS of the true angle on the polar angle with unit slope of either sign and an offset:
    angle ~ s * phi + b (mod 2 pi). For each s the least-squares circular offset is the circular
    mean of the residuals; the sign with the smaller squared wrapped residual wins."""
    best = None
    for s in (1, -1):
        resid = angle - s * phi
        b = float(np.arctan2(np.sin(resid).mean(), np.cos(resid).mean()))
        sse = float(np.sum(wrap_angle(resid - b) ** 2))
        if best is None or sse < best[0]:
            best = (sse, s, b)
    return best[1], best[2]


def angle_regression_error(z_fit: np.ndarray, angle_fit: np.ndarray, z_eval: np.ndarray,
                           angle_eval: np.ndarray) -> dict[str, float]:
    """Table 1 protocol (docs/deviations.md): centre of the circle fitted to the fitting encodings,
    polar angle about it, direction and offset fitted on the fitting set, and the mean absolute
    wrapped error (radians) on the held-out set."""
    centre = circle_centre(z_fit)
    s, b = fit_polar_regression(polar_angle(z_fit, centre), angle_fit)
    pred = s * polar_angle(z_eval, centre) + b
    err = np.abs(wrap_angle(angle_eval - pred))
    return {"abs_error": float(err.mean()), "abs_error_median": float(np.median(err)), "direction": s,
            "offset": b}


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


SUBSET_SEED = 0  # the test items of a reduced-scale NLL: the same for every method, seed and run


def nll_subset(n_test: int, n_items: int | None) -> torch.Tensor:
    """Indices of `n_items` test items drawn at random without replacement (all, in order, if None or
    >= n_test). Not the first n: Larochelle's static MNIST test file is sorted by digit, so its first
    2,000 images are 0s and 1s (measured, IWAE (L=1): NLL 75.3 nats there, 93.1 on a random 2,000)."""
    if n_items is None or n_items >= n_test:
        return torch.arange(n_test)
    order = torch.randperm(n_test, generator=torch.Generator().manual_seed(SUBSET_SEED))
    return order[:n_items].sort().values


def evaluate_nll(model_path: str | Path, samples: int, n_items: int | None) -> dict[str, Any]:
    """Importance-sampled test NLL of one trained run (Table 2), on `n_items` random test items (or all)."""
    tune_process()
    model, saved = load_run(model_path)
    spec = saved["spec"]
    torch.manual_seed(spec["seed"])
    splits = datasets.load(spec["dataset"], spec["data_root"], spec["dataset_args"])
    subset = nll_subset(len(splits.test), n_items)
    x = splits.test[subset]
    start = time.perf_counter()
    nll = importance_sampled_nll(model, x, samples=samples, progress=True)
    summary = nll_summary(nll)
    return {"dataset": spec["dataset"], "method": spec["method"], "seed": spec["seed"], "samples": samples,
            "n_items": len(x), "subset_seed": None if len(x) == len(splits.test) else SUBSET_SEED,
            "nll": summary["mean"], "nll_stderr": summary["stderr"],
            "seconds": time.perf_counter() - start}


def evaluate_run(model_path: str | Path) -> dict[str, Any]:
    """All metrics of one trained run, for its metrics.json, computed on the run's configured device."""
    model, saved = load_run(model_path)
    spec = saved["spec"]
    torch.manual_seed(spec["seed"])
    splits = datasets.load(spec["dataset"], spec["data_root"], spec["dataset_args"])
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
    if spec["dataset"] == "pendulum" and spec["model"]["latent_dim"] == 2:
        mu_fit = encode_means(model, splits.valid).cpu().numpy()
        metrics["ols"] = angle_regression_error(mu_fit, splits.labels["valid"], mu_test.cpu().numpy(),
                                                splits.labels["test"])
    return metrics
