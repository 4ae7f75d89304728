"""The pendulum of Sec. 4.1: 16x16 grey images of a rod and bob, joint angle uniform in [0, 2 pi).

Rendered analytically (anti-aliased distance to the rod and to the bob), so the images are a
deterministic function of the seed. Angle 0 hangs straight down; angles grow counter-clockwise.
Split: the first n_train images train, the next n_valid validate, the rest test (angles are i.i.d.).
"""
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core.datasets.base import DATASETS, DataError, DatasetSpec, Splits
from vhp_core.io import atomic_path, sha256_file, write_json

FILE = "pendulum/pendulum.npz"
META = "pendulum/manifest.json"


def render(angles: np.ndarray, size: int = 16, rod_width: float = 1.0, bob_radius: float = 1.6) -> np.ndarray:
    """Grey images (N, size, size) in [0, 1]: a rod from the centre and a bob at radius 0.4 * size."""
    c = (size - 1) / 2.0
    length = 0.4 * size
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)  # (size, size)
    tip_c = c + length * np.sin(angles)[:, None, None]  # (N, 1, 1)
    tip_r = c + length * np.cos(angles)[:, None, None]
    # distance of each pixel centre to the segment centre -> tip
    dc, dr = tip_c - c, tip_r - c
    t = np.clip(((cols - c) * dc + (rows - c) * dr) / (length**2), 0.0, 1.0)  # (N, size, size)
    d_rod = np.hypot(cols - c - t * dc, rows - c - t * dr)
    d_bob = np.hypot(cols - tip_c, rows - tip_r)
    rod = np.clip(rod_width / 2 + 0.5 - d_rod, 0.0, 1.0)
    bob = np.clip(bob_radius + 0.5 - d_bob, 0.0, 1.0)
    return np.maximum(rod, bob)


def read_angle(images: torch.Tensor) -> torch.Tensor:
    """The joint angle shown by (N, size * size) grey images: the direction from the pivot (the image
    centre) to the intensity-weighted centroid, in the renderer's convention (0 = down, counter-clockwise).
    The read-out of decoded images in Fig. 4; a blend of two poses reads as an angle between them."""
    size = math.isqrt(images.shape[-1])
    c = (size - 1) / 2.0
    rows, cols = torch.meshgrid(torch.arange(size, dtype=images.dtype), torch.arange(size, dtype=images.dtype),
                                indexing="ij")
    w = images.reshape(*images.shape[:-1], size, size)
    return torch.atan2((w * (cols - c)).sum((-2, -1)), (w * (rows - c)).sum((-2, -1)))


def quantised(angles: np.ndarray, size: int, rod_width: float, bob_radius: float) -> np.ndarray:
    """Rendered images (N, size, size) quantised to uint8, as the dataset stores them."""
    return np.round(render(angles, size, rod_width, bob_radius) * 255).astype(np.uint8)


def endpoint_images(args: dict[str, Any], degrees: list[float]) -> torch.Tensor:
    """Images of the pendulum at the given angles, exactly as the dataset would hold them: (P, size * size)."""
    images = quantised(np.radians(np.asarray(degrees, dtype=np.float64)), args["image_size"], args["rod_width"],
                       args["bob_radius"])
    return torch.from_numpy(images.reshape(len(degrees), -1).astype(np.float32) / 255.0)


def generate(n_images: int, size: int, seed: int, rod_width: float, bob_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Angles uniform in [0, 2 pi) from `seed` and their images quantised to uint8."""
    angles = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, size=n_images)
    return quantised(angles, size, rod_width, bob_radius), angles


def prepare(root: Path, args: dict[str, Any]) -> None:
    images, angles = generate(args["n_images"], args["image_size"], args["seed"], args["rod_width"],
                              args["bob_radius"])
    with atomic_path(root / FILE) as tmp, open(tmp, "wb") as f:
        np.savez(f, images=images, angles=angles)
    write_json(root / META, {**_identity(args), "sha256": sha256_file(root / FILE)})


def _identity(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in ("n_images", "image_size", "seed", "rod_width", "bob_radius")}


def load(root: Path, args: dict[str, Any]) -> Splits:
    path, meta_path = root / FILE, root / META
    if not path.exists() or not meta_path.exists():
        raise DataError(f"{path} (or its {meta_path.name}) is missing; generate it with "
                        "`vhp-bench prepare --dataset pendulum` or the workflow rule prepare_data")
    meta = json.loads(meta_path.read_text())
    if {k: meta.get(k) for k in _identity(args)} != _identity(args):
        raise DataError(f"{path} was generated with {meta}, but the config asks for {_identity(args)}; "
                        "delete it and generate it again")
    if sha256_file(path) != meta["sha256"]:
        raise DataError(f"{path} does not match the sha256 in {meta_path} (corrupt or truncated); "
                        "delete it and generate it again")
    with np.load(path) as f:
        images, angles = f["images"], f["angles"]
    n_train, n_valid = args["split"]["train"], args["split"]["valid"]
    if n_train + n_valid >= len(images):
        raise ValueError(f"pendulum split train={n_train} + valid={n_valid} leaves no test images of {len(images)}")
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    cuts = [slice(0, n_train), slice(n_train, n_train + n_valid), slice(n_train + n_valid, None)]
    return Splits(
        *(x[c] for c in cuts),
        image_shape=(args["image_size"], args["image_size"]),
        labels={name: angles[c] for name, c in zip(("train", "valid", "test"), cuts, strict=True)},
    )


def check_pairs(args: dict[str, Any], pairs: list[list[Any]]) -> str | None:
    """The first pair that is not [start, end] joint angles in degrees, named; None if all are."""
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in pair):
            return f"pair {pair!r}: expected [start, end] joint angles in degrees"
    return None


def endpoints(root: Path, args: dict[str, Any], pairs: list[list[Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end images of the interpolations from pairs of joint angles in degrees ([[0, 180]]: Fig. 4)."""
    if trouble := check_pairs(args, pairs):
        raise ValueError(f"pendulum interpolation {trouble}")
    return endpoint_images(args, [p[0] for p in pairs]), endpoint_images(args, [p[1] for p in pairs])


def check(args: dict[str, Any]) -> str | None:
    """Every arg present with a value of its kind, and a split that leaves test images (train + valid <
    n_images)."""
    kinds = {"n_images": int, "image_size": int, "seed": int, "rod_width": float, "bob_radius": float}
    for key, kind in kinds.items():
        value = args.get(key)
        wrong = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong or (kind is int and not isinstance(value, int)):
            return f"{key} = {value!r}; expected {'an integer' if kind is int else 'a number'}"
        if key != "seed" and not value > 0:
            return f"{key} = {value!r}; expected a positive value"
    split = args.get("split")
    if not isinstance(split, dict) or any(isinstance(split.get(k), bool) or not isinstance(split.get(k), int)
                                          or split[k] < 0 for k in ("train", "valid")):
        return f"split = {split!r}; expected {{train: N, valid: M}} with whole numbers N, M >= 0"
    used = split["train"] + split["valid"]
    if used >= args["n_images"]:
        return (f"split train {split['train']} + valid {split['valid']} = {used} leaves no test images of "
                f"n_images = {args['n_images']}; expected fewer than n_images")
    return None


DATASETS.register("pendulum")(DatasetSpec(prepare=prepare, load=load, endpoints=endpoints, check_pairs=check_pairs,
                                   angles=True, check=check,
                                   shape=lambda args: (args["split"]["train"],
                                                      args["n_images"] - sum(args["split"].values()),
                                                      args["image_size"] ** 2), args={
    "n_images": None, "image_size": None, "seed": None, "rod_width": None, "bob_radius": None,
    "split": {"train": None, "valid": None}}))
