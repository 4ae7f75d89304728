"""The Table 1 read-out: polar-angle OLS on 2-D codes, and active units."""
import numpy as np
import pytest
import torch

from vhp_core.evaluate import active_units, angle_regression_error, circle_centre, nll_subset, wrap_angle


def circle(angles: np.ndarray, direction: int, offset: float, centre=(2.0, -1.0), radius=3.0) -> np.ndarray:
    phi = direction * angles + offset
    return np.stack([centre[0] + radius * np.cos(phi), centre[1] + radius * np.sin(phi)], axis=1)


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("offset", [0.0, 2.5, -1.2])
def test_a_circle_reads_out_exactly_whatever_its_direction_and_offset(direction, offset):
    rng = np.random.default_rng(0)
    fit, test = rng.uniform(0, 2 * np.pi, 500), rng.uniform(0, 2 * np.pi, 300)
    result = angle_regression_error(circle(fit, direction, offset), fit, circle(test, direction, offset), test)
    assert result["abs_error"] < 1e-9
    assert result["direction"] == direction


def test_circle_centre_ignores_uneven_sampling():
    angles = np.random.default_rng(3).beta(2, 5, 400) * 2 * np.pi  # crowded on one side
    assert np.allclose(circle_centre(circle(angles, 1, 0.0)), [2.0, -1.0])


def test_noise_on_the_circle_gives_its_mean_absolute_error():
    rng = np.random.default_rng(1)
    fit, test = rng.uniform(0, 2 * np.pi, 4000), rng.uniform(0, 2 * np.pi, 4000)
    noise = rng.normal(0, 0.1, 4000)
    result = angle_regression_error(circle(fit + noise, 1, 0.4), fit, circle(test + noise, 1, 0.4), test)
    assert result["abs_error"] == pytest.approx(0.1 * np.sqrt(2 / np.pi), rel=0.05)


def test_codes_unrelated_to_the_angle_give_about_half_pi():
    rng = np.random.default_rng(2)
    fit, test = rng.uniform(0, 2 * np.pi, 4000), rng.uniform(0, 2 * np.pi, 4000)
    result = angle_regression_error(rng.normal(size=(4000, 2)), fit, rng.normal(size=(4000, 2)), test)
    assert result["abs_error"] == pytest.approx(np.pi / 2, rel=0.05)


def test_wrap_angle_range():
    a = np.array([-7.0, -np.pi, 0.0, np.pi, 4.0, 13.0])
    w = wrap_angle(a)
    assert np.all(w > -np.pi) and np.all(w <= np.pi)
    assert np.allclose(np.cos(w), np.cos(a)) and np.allclose(np.sin(w), np.sin(a))


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
