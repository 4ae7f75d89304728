"""Datasets by name: `prepare` writes verified files under the data root, `load` returns Splits."""
from pathlib import Path
from typing import Any

import vhp_core.datasets.mnist  # noqa: F401  (registers itself)
import vhp_core.datasets.mocap  # noqa: F401  (registers itself)
import vhp_core.datasets.omniglot  # noqa: F401  (registers itself)
from vhp_core.datasets import pendulum  # noqa: F401  (registers itself)
from vhp_core.datasets.base import DATASETS, DataError, Splits

__all__ = ["DATASETS", "DataError", "Splits", "kind", "load", "load_run_data", "prepare"]


def prepare(name: str, root: str | Path, args: dict[str, Any]) -> None:
    DATASETS[name].prepare(Path(root), args)


def load(name: str, root: str | Path, args: dict[str, Any]) -> Splits:
    return DATASETS[name].load(Path(root), args)


def kind(spec: dict[str, Any]) -> str:
    """The registered dataset of a run's spec: `dataset_kind` for a variant (other args of a registered
    dataset, under its own name), else the dataset's own name."""
    return spec.get("dataset_kind", spec["dataset"])


def load_run_data(spec: dict[str, Any]) -> Splits:
    """The splits a run trains and is evaluated on."""
    return load(kind(spec), spec["data_root"], spec["dataset_args"])
