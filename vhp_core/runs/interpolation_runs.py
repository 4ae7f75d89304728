"""Interpolations and smoothness factors of one trained run: the I/O edge of interpolation.py."""
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core import datasets
from vhp_core.datasets import DATASETS
from vhp_core.maths.interpolation import (
    interpolate,
    mean_squared_error,
    normalised_smoothness,
    reconstruction_mse,
    smoothness_factor,
)
from vhp_core.runs.evaluate import encode_means, load_run

log = logging.getLogger(__name__)


def interpolation_run(model_path: str | Path, settings: dict[str, Any]) -> dict[str, np.ndarray]:
    """The graph and the interpolations between the config's `pairs` (in the dataset's terms), as arrays."""
    model, saved = load_run(model_path)
    spec = saved["spec"]
    endpoints = DATASETS[datasets.kind(spec)].endpoints
    if endpoints is None:
        raise ValueError(f"dataset {spec['dataset']!r} defines no interpolation endpoints; "
                         f"datasets/{spec['dataset']}/interpolation/pairs cannot be read")
    x_start, x_end = endpoints(Path(spec["data_root"]), spec["dataset_args"], settings["pairs"])
    result = interpolate(model, x_start, x_end, settings["nodes"], settings["neighbours"], settings["frames"],
                         seed=spec["seed"])
    log.info("%s/%s seed %d: %d pairs, %d edges, %d bridges", spec["dataset"], spec["method"], spec["seed"],
             len(x_start), len(result.edges), result.bridges)
    splits = datasets.load_run_data(spec)
    codes = encode_means(model, splits.train).cpu().numpy()  # the training data in the same latent space
    labels = splits.labels["train"] if splits.labels is not None else np.zeros(len(codes))
    return {**result.arrays(), "x_start": x_start.numpy(), "x_end": x_end.numpy(), "codes": codes,
            "code_labels": labels}


def smoothness_run(model_path: str | Path, settings: dict[str, Any], graphs: int,
                   interpolations: int) -> dict[str, np.ndarray]:
    """Smoothness factors and normalised smoothness (graphs * interpolations, D) of paths between random test
    items (Fig. 7), each graph drawn afresh from the prior, with the pairs' test indices; and per dimension the
    mean squared error on the test items of the run's reconstructions and of the training mean (a decoder
    that always outputs it: perfectly smooth, and the error that blurring tends to)."""
    model, saved = load_run(model_path)
    spec = saved["spec"]
    splits = datasets.load_run_data(spec)
    test = splits.test
    generator = torch.Generator().manual_seed(spec["seed"])
    factors, normalised, pairs, bridges = [], [], [], []
    for g in range(graphs):
        start = torch.randint(len(test), (interpolations,), generator=generator)
        end = (start + torch.randint(1, len(test), (interpolations,), generator=generator)) % len(test)  # != start
        result = interpolate(model, test[start], test[end], settings["nodes"], settings["neighbours"],
                             settings["frames"], seed=spec["seed"] * 1000 + g)
        factors.append(smoothness_factor(result.decoded))
        normalised.append(normalised_smoothness(result.decoded))
        pairs.append(torch.stack([start, end], dim=1))
        bridges.append(result.bridges)
        log.info("graph %d/%d: mean smoothness factor %.4f, normalised %.4f, %d bridges", g + 1, graphs,
                 float(factors[-1].mean()), float(normalised[-1].nanmean()), result.bridges)
    reconstruction = reconstruction_mse(model, test)
    log.info("test reconstruction RMS error %.4f", float(reconstruction.mean().sqrt()))
    return {"factors": torch.cat(factors).numpy(), "normalised": torch.cat(normalised).numpy(),
            "pairs": torch.cat(pairs).numpy(), "bridges": np.array(bridges),
            "reconstruction_mse": reconstruction.numpy(),
            "mean_pose_mse": mean_squared_error(splits.train.double().mean(dim=0), test).numpy()}
