"""Table 1's read-outs of the pendulum angle from 2-D codes (arrays in, numbers out; docs/method.md §5).

- `angle_regression_error`: the paper's OLS on the polar angle about the loop's centre (the headline).
- `rotation_index`: the loop's topology alone: how many turns its tangent makes (1 = one clean loop).
- `loop_readout_error`: the angle read as the position along the loop's arc length, so a loop that is
  clean but not round (an ellipse, a bean) is not penalised as the polar angle penalises it.

Codes are first averaged in equal bins of the true angle (`loop_of_bin_means`): the loop is then a
closed polygon traced in the order of the true angle, one vertex per bin, whatever the encoder's noise.
"""
import numpy as np

BINS = 36
"""Bins of the true angle (10 degrees each) for the loop polygon of the topology and arc-length read-outs."""
RESOLVED = 4.0
"""A loop is resolved when its median edge is this many standard errors of a vertex long: for codes
unrelated to the angle, the median edge is 1.18 standard errors (the median distance of two
independent means with isotropic scatter)."""


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
    """OLS of the true angle on a read angle with unit slope of either sign and an offset:
    angle ~ s * phi + b (mod 2 pi). For each s the offset is the circular mean of the residuals, which
    minimises sum(1 - cos r), the squared error to leading order (r^2 / 2) but not exactly when residuals
    spread widely; the sign with the smaller squared wrapped residual wins."""
    best = None
    for s in (1, -1):
        resid = angle - s * phi
        b = float(np.arctan2(np.sin(resid).mean(), np.cos(resid).mean()))
        sse = float(np.sum(wrap_angle(resid - b) ** 2))
        if best is None or sse < best[0]:
            best = (sse, s, b)
    return best[1], best[2]


def _held_out_error(phi_fit: np.ndarray, angle_fit: np.ndarray, phi_eval: np.ndarray,
                    angle_eval: np.ndarray) -> dict[str, float]:
    """Direction and offset fitted on the fitting set; mean and median absolute wrapped error (radians)
    of s * phi + b on the held-out set."""
    s, b = fit_polar_regression(phi_fit, angle_fit)
    err = np.abs(wrap_angle(angle_eval - (s * phi_eval + b)))
    return {"abs_error": float(err.mean()), "abs_error_median": float(np.median(err)), "direction": s,
            "offset": b}


def angle_regression_error(z_fit: np.ndarray, angle_fit: np.ndarray, z_eval: np.ndarray,
                           angle_eval: np.ndarray) -> dict[str, float]:
    """Table 1 protocol (docs/deviations.md): centre of the circle fitted to the fitting encodings,
    polar angle about it, direction and offset fitted on the fitting set, and the mean absolute
    wrapped error (radians) on the held-out set."""
    centre = circle_centre(z_fit)
    return _held_out_error(polar_angle(z_fit, centre), angle_fit, polar_angle(z_eval, centre), angle_eval)


def loop_of_bin_means(z: np.ndarray, angle: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """The codes' loop as a closed polygon: the mean code of each non-empty bin of the true angle, in
    the order of the angle, (B, 2); and the standard error of each vertex, (B,), from the pooled
    within-bin scatter (so a bin of one code still gets one)."""
    index = np.floor(np.mod(angle, 2 * np.pi) / (2 * np.pi / bins)).astype(int).clip(0, bins - 1)
    used, inverse, counts = np.unique(index, return_inverse=True, return_counts=True)
    vertices = np.zeros((len(used), 2))
    np.add.at(vertices, inverse, z)
    vertices /= counts[:, None]
    dof = len(z) - len(used)
    scatter = np.sqrt(((z - vertices[inverse]) ** 2).sum() / dof) if dof > 0 else 0.0
    return vertices, scatter / np.sqrt(counts)


def rotation_index(z: np.ndarray, angle: np.ndarray, bins: int = BINS) -> int:
    """Turns of the tangent of the loop of bin means (Whitney's rotation index, taken without sign):
    1 for any simple loop, round or not; 0 for a figure "8"; 2 for a loop traversed twice; 0 where
    the loop is not resolved above the codes' scatter (see RESOLVED), as for a collapsed blob.
    Unlike the winding number about a centre, it does not depend on where a centre falls."""
    vertices, stderr = loop_of_bin_means(z, angle, bins)
    edges = np.roll(vertices, -1, axis=0) - vertices
    length = np.linalg.norm(edges, axis=1)
    if len(vertices) < 3 or np.median(length) <= RESOLVED * np.median(stderr):
        return 0
    heading = np.arctan2(edges[:, 1], edges[:, 0])
    turns = wrap_angle(np.roll(heading, -1) - heading).sum() / (2 * np.pi)
    return abs(int(np.rint(turns)))


def arc_position(z: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Position of each code along a closed polygon, as an angle: the arc length from the first vertex
    to the code's nearest point on the polygon, times 2 pi over the polygon's length. (N, 2) -> (N,)."""
    edges = np.roll(vertices, -1, axis=0) - vertices  # (B, 2)
    length = np.linalg.norm(edges, axis=1)
    start = np.concatenate([[0.0], np.cumsum(length)[:-1]])
    rel = z[:, None, :] - vertices[None]  # (N, B, 2)
    u = ((rel * edges).sum(-1) / np.maximum(length**2, np.finfo(float).tiny)).clip(0.0, 1.0)  # (N, B)
    dist = np.linalg.norm(rel - u[..., None] * edges, axis=-1)
    nearest = dist.argmin(axis=1)
    arc = start[nearest] + u[np.arange(len(z)), nearest] * length[nearest]
    return 2 * np.pi * arc / length.sum()


def loop_readout_error(z_fit: np.ndarray, angle_fit: np.ndarray, z_eval: np.ndarray, angle_eval: np.ndarray,
                       bins: int = BINS) -> dict[str, float]:
    """The angle read as the position along the loop: the loop of bin means of the fitting codes, each
    code's arc-length position on it (`arc_position`), direction and offset fitted on the fitting set
    as in the OLS, and the mean absolute wrapped error on the held-out set. Equals the OLS for a circle
    traced at constant speed; unlike it, exact for any simple loop traced at constant speed."""
    vertices, _ = loop_of_bin_means(z_fit, angle_fit, bins)
    return _held_out_error(arc_position(z_fit, vertices), angle_fit, arc_position(z_eval, vertices), angle_eval)


def split_half_readouts(z: np.ndarray, angle: np.ndarray) -> dict[str, float]:
    """Table 1's three read-outs of codes that have no fitting set of their own (the test codes Fig. 2
    snapshots during training): OLS and arc-length read-out fitted on the first half, scored on the second
    (the angles are i.i.d., so a prefix is a random half); the rotation index of all of them."""
    half = len(z) // 2
    return {"ols": angle_regression_error(z[:half], angle[:half], z[half:], angle[half:])["abs_error"],
            "loop": loop_readout_error(z[:half], angle[:half], z[half:], angle[half:])["abs_error"],
            "rotation_index": rotation_index(z, angle)}
