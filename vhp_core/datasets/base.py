"""What every dataset loader returns, and the registry the config's dataset names resolve through."""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core.registry import Registry


class DataError(RuntimeError):
    """A data file is missing, corrupt or does not match its pinned checksum."""


@dataclass
class Splits:
    """Train/valid/test tensors (N, D) with values in [0, 1] (or real-valued), optional labels."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    image_shape: tuple[int, ...]
    dynamic_binarization: bool = False
    labels: dict[str, np.ndarray] | None = None

    @property
    def data_dim(self) -> int:
        return self.train.shape[1]


@dataclass
class DatasetSpec:
    """`prepare(root, args)` writes the files under root/<name>/; `load(root, args)` reads and checks them;
    `args` names the keys its config `args` may hold (a nested dict for a mapping of fixed keys, None
    for a value the loader checks), so a misspelled key is refused before any work; `shape(args)` gives
    (training items, test items, item size) before any data is read (an upper bound where only the data tell), for
    the cost of a run (`vhp_core.runs.cost`);
    `endpoints(root, args, pairs)`, where the dataset has them, gives the (P, D) start and end items of the
    interpolations the config's `interpolation.pairs` names in the dataset's own terms (Figs. 3-6), and
    `check_pairs(args, pairs)` says which pair it cannot read (None if none), from the config alone;
    `angles`: the splits' labels hold each item's true angle (radians) under 'valid' and 'test', so the
    angle read-outs of Table 1 apply to a model with a 2-D latent space; `check(args)`, where given, says
    what in the args the data cannot honour (None if nothing), before any data is prepared."""

    prepare: Callable[[Path, dict[str, Any]], None]
    load: Callable[[Path, dict[str, Any]], Splits]
    args: dict[str, Any]
    shape: Callable[[dict[str, Any]], tuple[int, int, int]]
    endpoints: Callable[[Path, dict[str, Any], list[list[Any]]], tuple[torch.Tensor, torch.Tensor]] | None = None
    check_pairs: Callable[[dict[str, Any], list[list[Any]]], str | None] | None = None
    angles: bool = False
    check: Callable[[dict[str, Any]], str | None] | None = None


DATASETS: Registry[DatasetSpec] = Registry("datasets")
"""Datasets by name: `DATASETS.register("name")(DatasetSpec(...))`."""
