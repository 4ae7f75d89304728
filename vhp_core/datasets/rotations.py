"""Euler angles in degrees to rotation matrices, shared by the BVH and the Acclaim readers."""
import numpy as np

AXES = "XYZ"


def axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed rotations by `degrees` (any shape) about the axis "X", "Y" or "Z"."""
    a = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    i = AXES.index(axis.upper())
    j, k = (i + 1) % 3, (i + 2) % 3
    r = np.zeros(a.shape + (3, 3))
    r[..., i, i] = 1.0
    r[..., j, j], r[..., j, k], r[..., k, j], r[..., k, k] = c, -s, s, c
    return r


def euler_matrix(degrees: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) product R_order[0] @ R_order[1] @ ... of rotations by degrees[..., i] about order[i].

    This is the intrinsic order (the first axis is outermost), as BVH lists its rotation channels:
    "Zrotation Yrotation Xrotation" is euler_matrix(angles, "ZYX") = Rz @ Ry @ Rx.
    """
    degrees = np.asarray(degrees, dtype=np.float64)
    result = np.broadcast_to(np.eye(3), degrees.shape[:-1] + (3, 3)).copy()
    for i, axis in enumerate(order):
        result = result @ axis_rotation(axis, degrees[..., i])
    return result
