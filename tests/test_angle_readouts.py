"""Table 1's read-outs on synthetic codes whose answers are known: the polar-angle OLS, the loop's
rotation index and the arc-length read-out, on a circle, an ellipse, a figure "8", a loop traversed
twice and a collapsed blob."""
import numpy as np
import pytest

from vhp_core.maths.angle_readouts import (
    angle_regression_error,
    arc_position,
    circle_centre,
    loop_readout_error,
    rotation_index,
    split_half_readouts,
    wrap_angle,
)


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


def ellipse(angles: np.ndarray, a: float = 3.0, b: float = 1.0, constant_speed: bool = True) -> np.ndarray:
    """Points of an ellipse at the given angles; at constant speed, the angle is the arc-length position."""
    if constant_speed:
        t = np.linspace(0, 2 * np.pi, 20_001)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(a * np.cos(t)), np.diff(b * np.sin(t))))])
        angles = np.interp(np.mod(angles, 2 * np.pi) / (2 * np.pi) * arc[-1], arc, t)
    return np.stack([a * np.cos(angles), b * np.sin(angles)], axis=1)


def eight(angles: np.ndarray, lean: float = 0.0) -> np.ndarray:
    """A figure "8" (Gerono's lemniscate), one lobe larger than the other for lean > 0."""
    return np.stack([np.sin(angles) * (1 + lean * np.sin(angles)), np.sin(angles) * np.cos(angles)], axis=1)


SHAPES = {  # codes of the true angle, and the expected rotation index
    "circle": (lambda t: circle(t, 1, 0.3), 1),
    "ellipse": (ellipse, 1),
    "ellipse, uneven speed": (lambda t: ellipse(t, constant_speed=False), 1),
    "reversed circle": (lambda t: circle(t, -1, 0.0), 1),
    "figure 8": (eight, 0),
    "lopsided figure 8": (lambda t: eight(t, lean=0.5), 0),
    "loop traversed twice": (lambda t: circle(2 * t, 1, 0.0), 2),
}


@pytest.mark.parametrize("noise", [0.0, 0.05])
@pytest.mark.parametrize("name", list(SHAPES))
def test_rotation_index_counts_the_turns_of_the_loop(name, noise):
    rng = np.random.default_rng(4)
    angles = rng.uniform(0, 2 * np.pi, 1500)
    shape, expected = SHAPES[name]
    assert rotation_index(shape(angles) + noise * rng.normal(size=(1500, 2)), angles) == expected


def test_a_collapsed_blob_is_no_loop():
    rng = np.random.default_rng(5)
    for _ in range(20):
        angles = rng.uniform(0, 2 * np.pi, 1500)
        assert rotation_index(rng.normal(size=(1500, 2)), angles) == 0


def test_a_faint_loop_in_a_blob_is_no_loop_but_a_clear_one_is():
    rng = np.random.default_rng(6)
    angles = rng.uniform(0, 2 * np.pi, 1500)
    noise = rng.normal(size=(1500, 2))
    assert rotation_index(circle(angles, 1, 0.0, radius=0.3) + noise, angles) == 0
    assert rotation_index(circle(angles, 1, 0.0, radius=10.0) + noise, angles) == 1


def test_arc_position_on_a_square_is_the_fraction_of_its_perimeter():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    z = np.array([[0.5, -0.2], [1.3, 0.25], [0.5, 1.1], [-0.1, 0.5]])  # off the square, nearest each side
    np.testing.assert_allclose(arc_position(z, square), 2 * np.pi * np.array([0.5, 1.25, 2.5, 3.5]) / 4)


def test_the_loop_readout_equals_the_ols_on_a_circle():
    rng = np.random.default_rng(7)
    fit, test = rng.uniform(0, 2 * np.pi, 3000), rng.uniform(0, 2 * np.pi, 3000)
    z_fit, z_test = circle(fit + rng.normal(0, 0.1, 3000), -1, 1.0), circle(test + rng.normal(0, 0.1, 3000), -1, 1.0)
    ols, loop = angle_regression_error(z_fit, fit, z_test, test), loop_readout_error(z_fit, fit, z_test, test)
    assert ols["direction"] == -1 and loop["direction"] == 1  # the loop polygon is traced in the angle's order
    assert loop["abs_error"] == pytest.approx(ols["abs_error"], rel=0.03)


def test_the_loop_readout_forgives_a_clean_loop_that_is_not_round():
    rng = np.random.default_rng(8)
    fit, test = rng.uniform(0, 2 * np.pi, 1500), rng.uniform(0, 2 * np.pi, 1500)
    ols = angle_regression_error(ellipse(fit), fit, ellipse(test), test)["abs_error"]
    loop = loop_readout_error(ellipse(fit), fit, ellipse(test), test)["abs_error"]
    assert ols > 0.2 and loop < 0.01


@pytest.mark.parametrize("shape", [lambda t: circle(2 * t, 1, 0.0), None], ids=["traversed twice", "blob"])
def test_the_loop_readout_of_a_loop_traversed_twice_or_a_blob_is_at_chance(shape):
    rng = np.random.default_rng(9)
    fit, test = rng.uniform(0, 2 * np.pi, 3000), rng.uniform(0, 2 * np.pi, 3000)
    codes = shape or (lambda t: rng.normal(size=(len(t), 2)))
    result = loop_readout_error(codes(fit), fit, codes(test), test)
    assert result["abs_error"] == pytest.approx(np.pi / 2, rel=0.05)


def test_split_half_readouts_fit_on_one_half_and_score_the_other():
    """A snapshot's codes: a circle reads out exactly; a loop traversed twice reads at chance; and a fit that
    looked at the scored half would read the second half's rotated circle exactly, which the split cannot."""
    rng = np.random.default_rng(7)
    angles = rng.uniform(0, 2 * np.pi, 1000)
    assert split_half_readouts(circle(angles, 1, 0.3), angles) == pytest.approx(  # the loop: a 36-gon's chords
        {"ols": 0.0, "loop": 0.0, "rotation_index": 1}, abs=1e-3)
    twice = split_half_readouts(circle(2 * angles, 1, 0.0), angles)
    assert twice["rotation_index"] == 2 and twice["ols"] > 1.0
    turned = np.concatenate([circle(angles[:500], 1, 0.0), circle(angles[500:], 1, 1.0)])
    assert split_half_readouts(turned, angles)["ols"] == pytest.approx(1.0, abs=1e-6)
