"""Shared fixtures: the smoke-scale config and a tiny pendulum generated once per session."""
import copy
from pathlib import Path

import pytest

from vhp_core import datasets
from vhp_core.runs.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "workflow" / "config"


@pytest.fixture(scope="session")
def smoke_config() -> dict:
    return load_config(CONFIGS / "config.yaml", CONFIGS / "smoke.yaml")


@pytest.fixture(scope="session")
def pendulum_root(tmp_path_factory, smoke_config) -> Path:
    root = tmp_path_factory.mktemp("data")
    datasets.prepare("pendulum", root, smoke_config["datasets"]["pendulum"]["args"])
    return root


@pytest.fixture
def config(smoke_config, pendulum_root) -> dict:
    """A fresh copy of the smoke config whose data root is the session's tiny pendulum."""
    cfg = copy.deepcopy(smoke_config)
    cfg["data"]["root"] = str(pendulum_root)
    return cfg
