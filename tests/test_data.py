"""The generated pendulum: deterministic, correct shape and split, and checked when loaded."""
import json

import numpy as np
import pytest

from vhp_core import datasets
from vhp_core.datasets import DataError
from vhp_core.datasets.pendulum import FILE, META, render


def test_two_generations_are_identical(tmp_path, smoke_config):
    args = smoke_config["datasets"]["pendulum"]["args"]
    datasets.prepare("pendulum", tmp_path / "a", args)
    datasets.prepare("pendulum", tmp_path / "b", args)
    a, b = datasets.load("pendulum", tmp_path / "a", args), datasets.load("pendulum", tmp_path / "b", args)
    for split in ("train", "valid", "test"):
        assert np.array_equal(getattr(a, split).numpy(), getattr(b, split).numpy())
        assert np.array_equal(a.labels[split], b.labels[split])
    meta = [json.loads((tmp_path / r / META).read_text()) for r in "ab"]
    assert meta[0]["sha256"] == meta[1]["sha256"]


def test_shapes_split_and_angles(pendulum_root, smoke_config):
    args = smoke_config["datasets"]["pendulum"]["args"]
    s = datasets.load("pendulum", pendulum_root, args)
    n = args["n_images"] - args["split"]["train"] - args["split"]["valid"]
    assert (len(s.train), len(s.valid), len(s.test)) == (args["split"]["train"], args["split"]["valid"], n)
    assert s.data_dim == 256 and s.image_shape == (16, 16)
    assert 0.0 <= s.train.min() and s.train.max() <= 1.0
    angles = np.concatenate(list(s.labels.values()))
    assert angles.min() >= 0 and angles.max() < 2 * np.pi


def test_rendering_is_the_angle_only():
    """Images half a turn apart are point reflections of each other about the centre."""
    img = render(np.array([0.3, 0.3 + np.pi]))
    assert np.allclose(img[0], img[1][::-1, ::-1], atol=1e-12)
    assert not np.allclose(img[0], render(np.array([0.4]))[0])


@pytest.mark.fault("data")
def test_corrupt_file_is_refused(tmp_path, smoke_config):
    args = smoke_config["datasets"]["pendulum"]["args"]
    datasets.prepare("pendulum", tmp_path, args)
    data = (tmp_path / FILE).read_bytes()
    (tmp_path / FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="pendulum.npz does not match the sha256"):
        datasets.load("pendulum", tmp_path, args)


@pytest.mark.fault("data")
def test_missing_file_and_wrong_arguments_are_named(tmp_path, smoke_config):
    args = smoke_config["datasets"]["pendulum"]["args"]
    with pytest.raises(DataError, match="pendulum.npz .* is missing"):
        datasets.load("pendulum", tmp_path, args)
    datasets.prepare("pendulum", tmp_path, args)
    with pytest.raises(DataError, match="generated with"):
        datasets.load("pendulum", tmp_path, {**args, "seed": args["seed"] + 1})
