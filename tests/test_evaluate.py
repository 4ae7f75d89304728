"""Active units, the test subset of a reduced-scale NLL and the read-outs of the codes snapshot during
training."""
import numpy as np
import pytest
import torch

from vhp_core.maths.nll import nll_subset
from vhp_core.runs.evaluate import active_units, snapshot_readouts


def test_active_units_counts_dimensions_with_varying_means():
    mu = torch.cat([torch.randn(1000, 3), 0.01 * torch.randn(1000, 2)], dim=1)
    assert active_units(mu) == 3


def test_the_nll_subset_is_random_fixed_and_spans_a_sorted_test_set():
    labels = torch.arange(10).repeat_interleave(1000)  # sorted by class, like static MNIST's test file
    subset = nll_subset(10_000, 2_000)
    assert len(subset) == len(set(subset.tolist())) == 2_000 and torch.equal(subset, nll_subset(10_000, 2_000))
    counts = torch.bincount(labels[subset], minlength=10)
    assert counts.min() > 150, counts  # every class, about 200 each; the first 2,000 would be classes 0 and 1 only
    assert torch.equal(nll_subset(500, None), torch.arange(500))
    assert torch.equal(nll_subset(500, 800), torch.arange(500))



def test_the_snapshot_readouts_follow_the_codes_step_by_step(tmp_path):
    """Three snapshots as the trainer saves them: a blob at step 0, a circle at 100, a figure "8" at 300."""
    rng = np.random.default_rng(3)
    angles = rng.uniform(0, 2 * np.pi, (3, 800))
    blob = 0.1 * rng.normal(size=(800, 2))
    circle = np.stack([np.cos(angles[1]), np.sin(angles[1])], axis=1)
    eight = np.stack([np.sin(angles[2]), np.sin(angles[2]) * np.cos(angles[2])], axis=1)
    np.savez(tmp_path / "snapshots.npz", step=np.array([0, 100, 300]), beta=np.array([1e-4, 0.5, 1.0]),
             mu=np.stack([blob, circle, eight]), std=np.ones((3, 800, 2)), prior=np.zeros((3, 800, 2)),
             labels=angles)
    steps = snapshot_readouts(tmp_path / "snapshots.npz")
    assert [(s["step"], s["beta"], s["rotation_index"]) for s in steps] == [(0, 1e-4, 0), (100, 0.5, 1), (300, 1.0, 0)]
    assert steps[1]["ols"] == pytest.approx(0.0, abs=1e-6) and steps[0]["ols"] > 1.0
