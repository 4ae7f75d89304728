"""Datasets by name: `prepare` writes verified files under the data root, `load` returns Splits."""
from pathlib import Path
from typing import Any

import vhp_core.datasets.mnist  # noqa: F401  (registers itself)
import vhp_core.datasets.mocap  # noqa: F401  (registers itself)
import vhp_core.datasets.omniglot  # noqa: F401  (registers itself)
from vhp_core.datasets import pendulum  # noqa: F401  (registers itself)
from vhp_core.datasets.base import DATASETS, DataError, Splits

__all__ = ["DATASETS", "DataError", "Splits", "load", "prepare"]


def prepare(name: str, root: str | Path, args: dict[str, Any]) -> None:
    DATASETS[name].prepare(Path(root), args)


def load(name: str, root: str | Path, args: dict[str, Any]) -> Splits:
    return DATASETS[name].load(Path(root), args)
