"""CMU motion capture poses (Sec. 4.2): 50 joint angles per frame of five motions, from cgspeed's BVH files.

Only the BVH conversion holds all five motions of the paper (walk, jog, kick, punch, jump/balance) in one
format and on one skeleton layout, so the experiment uses it. Per trial: frame 0 (the T-pose) is dropped,
every Euler channel is unwrapped along time at the full 120 Hz (np.unwrap, period 360 degrees: 74_06's
RightFoot.Xrotation wraps), then every `frame_step`-th frame is kept (4 -> 30 Hz, as GPmat does).
Features: the 50 body-pose rotations (degrees) of LeftUpLeg, LeftLeg, LeftFoot, the same on the right,
LowerBack, Spine, Spine1, Neck, Neck1, Head (3 each), LeftArm, LeftForeArm (3 each) + LeftHand.Xrotation
and the same on the right. Left out: the root (global position and heading), toes, fingers and thumbs,
and the 22 channels that are constant in all five files (L/RHipJoint, L/RShoulder, L/RHandIndex1, and
L/RHand Z and Y). Every one of the 50 varies in every file. Each is z-scored with the mean and std of
the training split. Features are ordered left leg, right leg, head and torso, left arm, right arm
(`GROUPS`, the joint groups of Fig. 7), each joint's channels in file order (Z, Y, X).
The split is a seeded random split of frames, stratified by motion. Labels: the motion index.

Dataset args (workflow config `datasets.mocap.args`):
- `trials` (mapping motion name -> CMU trial id, e.g. {walk: "35_01", jog: "35_17", kick: "74_06",
  punch: "143_23", jump_balance: "02_04"}): the BVH file `bvh/<id>.bvh` of each motion, in label order.
- `frame_step` (int): keep every n-th frame of the 120 Hz capture.
- `split_seed` (int): seed of the per-motion permutation of frames.
- `split` ({valid: fraction, test: fraction}): the share of each motion's frames in valid and test
  (rounded down); the rest trains.
- `mirror` (str, optional): a mirror folder of the raw files, `<mirror>/<source>/<file>`.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core.datasets.base import DATASETS, DataError, DatasetSpec, Splits
from vhp_core.datasets.bvh import Motion, Skeleton, joint_positions, parse_bvh, parse_hierarchy
from vhp_core.datasets.fetch import (
    fetch,
    load_processed,
    pinned,
    processed_files,
    required_arg,
    save_processed,
    start_prepare,
)

NAME, SOURCE = "mocap", "cmu_mocap"
SPLITS = ("train", "valid", "test")
ZYX = ("Zrotation", "Yrotation", "Xrotation")
GROUPS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "left leg": [(j, ZYX) for j in ("LeftUpLeg", "LeftLeg", "LeftFoot")],
    "right leg": [(j, ZYX) for j in ("RightUpLeg", "RightLeg", "RightFoot")],
    "head and torso": [(j, ZYX) for j in ("LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head")],
    "left arm": [("LeftArm", ZYX), ("LeftForeArm", ZYX), ("LeftHand", ("Xrotation",))],
    "right arm": [("RightArm", ZYX), ("RightForeArm", ZYX), ("RightHand", ("Xrotation",))],
}
"""The modelled channels by joint group (Fig. 7), in feature order."""
CAPTURE_FRAMES = 2150
"""Frames of the five default trials at 120 Hz (1,075 at frame_step 2): the size a run's cost is
estimated from before the files are read (other trials: an estimate only)."""
FEATURES = [f"{joint}.{ch}" for joints in GROUPS.values() for joint, chs in joints for ch in chs]
FEATURE_GROUPS = [group for group, joints in GROUPS.items() for _, chs in joints for _ in chs]


def raw_files(args: dict[str, Any]) -> list[str]:
    """The BVH files of the configured trials, in motion order."""
    trials = args.get("trials")
    if not isinstance(trials, dict) or not trials:
        raise DataError(f"dataset {NAME}: args.trials must map motion names to CMU trial ids (got {trials!r})")
    bad = {m: t for m, t in trials.items() if not (isinstance(t, str) and re.fullmatch(r"\d+_\d+", t))}
    if bad:
        raise DataError(f"dataset {NAME}: args.trials {bad} must be trial ids as strings like \"35_01\" "
                        "(quote them in YAML, which reads 35_01 as the integer 3501)")
    return [f"bvh/{trial}.bvh" for trial in trials.values()]


def _split_fractions(args: dict[str, Any]) -> dict[str, float]:
    split = args.get("split")
    if (not isinstance(split, dict) or set(split) != {"valid", "test"}
            or not all(isinstance(v, int | float) and v >= 0 for v in split.values())
            or split["valid"] + split["test"] >= 1):
        raise DataError(f"dataset {NAME}: args.split must be {{valid: fraction, test: fraction}} with "
                        f"non-negative fractions summing to less than 1 (got {split!r})")
    return split


def _identity(args: dict[str, Any]) -> dict[str, Any]:
    """What decides the processed bytes: checked against the manifest when loading."""
    return {"motions": list(args.get("trials") or {}), "trials": args.get("trials"),
            "frame_step": required_arg(args, "frame_step", NAME), "split_seed": required_arg(args, "split_seed", NAME),
            "split": _split_fractions(args), "sources": pinned(SOURCE, raw_files(args))}


def read_trial(data: bytes, file: str) -> Motion:
    """The file's motion without the T-pose frame 0, every rotation channel unwrapped along time."""
    motion = parse_bvh(data.decode("ascii"), f"{SOURCE}/{file}")
    if len(motion.frames) < 2:
        raise DataError(f"{SOURCE}/{file}: expected a T-pose frame and motion frames, got {len(motion.frames)} frames")
    frames = motion.frames[1:].copy()
    rotations = [i for i, name in enumerate(motion.skeleton.channel_names) if name.endswith("rotation")]
    frames[:, rotations] = np.unwrap(frames[:, rotations], period=360.0, axis=0)
    return Motion(motion.skeleton, frames, motion.frame_time)


def feature_columns(skeleton: Skeleton, file: str) -> np.ndarray:
    """The column of each feature in the file's channel rows."""
    names = skeleton.channel_names
    missing = [f for f in FEATURES if f not in names]
    if missing:
        raise DataError(f"{SOURCE}/{file}: expected the cgspeed skeleton's channels; {missing} are missing")
    return np.array([names.index(f) for f in FEATURES])


def _split(n: int, fractions: dict[str, float], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sorted frame indices of each split for a motion of n frames."""
    order = rng.permutation(n)
    n_valid, n_test = int(fractions["valid"] * n), int(fractions["test"] * n)
    chosen = {"valid": order[:n_valid], "test": order[n_valid:n_valid + n_test], "train": order[n_valid + n_test:]}
    return {s: np.sort(chosen[s]) for s in SPLITS}


def prepare(root: Path, args: dict[str, Any]) -> None:
    identity = _identity(args)
    start_prepare(root, NAME)
    files, step = raw_files(args), identity["frame_step"]
    data = [fetch(SOURCE, file, root, args.get("mirror")) for file in files]
    trials = [read_trial(d, file) for d, file in zip(data, files, strict=True)]
    first = trials[0]
    columns = feature_columns(first.skeleton, files[0])
    for trial, file in zip(trials, files, strict=True):
        if trial.skeleton.channel_names != first.skeleton.channel_names or trial.frame_time != first.frame_time:
            raise DataError(f"{SOURCE}/{file}: expected the channels and frame time of {SOURCE}/{files[0]}")
        spread = np.ptp(trial.frames[::step, columns], axis=0)
        if spread.min() == 0:
            raise DataError(f"{SOURCE}/{file}: the modelled channel {FEATURES[int(spread.argmin())]} is constant")
    sequences = [trial.frames[::step] for trial in trials]
    rng = np.random.default_rng(identity["split_seed"])
    parts = [_split(len(frames), identity["split"], rng) for frames in sequences]
    train = np.concatenate([frames[part["train"]][:, columns] for frames, part in zip(sequences, parts, strict=True)])
    mean, std = train.mean(axis=0), train.std(axis=0)
    template = np.concatenate(sequences).mean(axis=0)
    template[list(first.skeleton.columns[0])] = 0.0  # the root: at the origin, facing its rest heading
    template[columns] = mean
    arrays = {"mean": mean, "std": std, "template": template, "columns": columns,
              "hierarchy": np.array(data[0].decode("ascii").split("MOTION", 1)[0])}
    for m, (frames, part) in enumerate(zip(sequences, parts, strict=True)):
        arrays[f"sequence_{m}"] = frames[:, columns]
        arrays.update({f"index_{s}_{m}": part[s] for s in SPLITS})
    save_processed(root, NAME, arrays, {**identity, "frame_time": first.frame_time * step,
                                        "features": FEATURES, "groups": FEATURE_GROUPS})


@dataclass
class MocapMeta:
    """Everything needed to turn features back into poses: names, normalisation, skeleton, sequences.

    `sequences[motion]` is (T, 50) normalised features of all kept frames in time order; `template` the
    full channel row (C,) the features are written into (root zero, other left-out channels their mean);
    `columns` the column of each feature in it; `frame_time` seconds between kept frames.
    """

    motions: list[str]
    features: list[str]
    groups: list[str]
    mean: np.ndarray
    std: np.ndarray
    skeleton: Skeleton
    template: np.ndarray
    columns: np.ndarray
    sequences: dict[str, np.ndarray]
    frame_time: float

    def to_channels(self, features: np.ndarray) -> np.ndarray:
        """(T, C) full BVH channel rows for normalised features (T, 50)."""
        features = np.asarray(features, dtype=np.float64)
        rows = np.broadcast_to(self.template, (len(features), len(self.template))).copy()
        rows[:, self.columns] = features * self.std + self.mean
        return rows

    def positions(self, features: np.ndarray) -> np.ndarray:
        """(T, J, 3) joint and End Site positions (root at the origin, no heading) for features (T, 50)."""
        return joint_positions(self.skeleton, self.to_channels(features))


def _load_arrays(root: Path, args: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    identity = _identity(args)
    arrays = load_processed(root, NAME, identity)
    manifest = json.loads((root / processed_files(NAME)[1]).read_text())
    return arrays, {**identity, **manifest}


def _normalised(arrays: dict[str, np.ndarray], m: int) -> np.ndarray:
    return (arrays[f"sequence_{m}"] - arrays["mean"]) / arrays["std"]


def load_meta(root: Path, args: dict[str, Any]) -> MocapMeta:
    """The names, normalisation, skeleton and normalised sequences of the prepared mocap dataset."""
    arrays, manifest = _load_arrays(Path(root), args)
    motions = manifest["motions"]
    return MocapMeta(motions=motions, features=manifest["features"], groups=manifest["groups"],
                     mean=arrays["mean"], std=arrays["std"],
                     skeleton=parse_hierarchy(str(arrays["hierarchy"]), f"{NAME} hierarchy"),
                     template=arrays["template"], columns=arrays["columns"],
                     sequences={name: _normalised(arrays, m) for m, name in enumerate(motions)},
                     frame_time=manifest["frame_time"])


def load(root: Path, args: dict[str, Any]) -> Splits:
    arrays, manifest = _load_arrays(root, args)
    motions = range(len(manifest["motions"]))
    x = {s: np.concatenate([_normalised(arrays, m)[arrays[f"index_{s}_{m}"]] for m in motions]) for s in SPLITS}
    labels = {s: np.concatenate([np.full(len(arrays[f"index_{s}_{m}"]), m) for m in motions]) for s in SPLITS}
    return Splits(*(torch.from_numpy(x[s].astype(np.float32)) for s in SPLITS), image_shape=(len(FEATURES),),
                  labels=labels)


def check_pairs(args: dict[str, Any], pairs: list[list[Any]]) -> str | None:
    """The first pair that is not [motion, position, motion, position], with motions among the configured
    trials and positions in [0, 1], named; None if all are."""
    motions = list(args.get("trials") or {})
    for pair in pairs:
        if (len(pair) != 4 or any(pair[i] not in motions for i in (0, 2))
                or not all(isinstance(pair[i], int | float) and not isinstance(pair[i], bool) and 0 <= pair[i] <= 1
                           for i in (1, 3))):
            return (f"pair {pair!r}: expected [motion, position, motion, position] with motions from "
                    f"{sorted(motions)} (the keys of args/trials) and positions in [0, 1]")
    return None


def endpoints(root: Path, args: dict[str, Any], pairs: list[list[Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Start and end poses of the interpolations from [motion, position, motion, position] pairs; a
    position in [0, 1] picks the frame at that fraction of the motion's sequence (Fig. 5)."""
    if trouble := check_pairs(args, pairs):
        raise ValueError(f"mocap interpolation {trouble}")
    sequences = load_meta(root, args).sequences
    ends: list[list[np.ndarray]] = [[], []]
    for pair in pairs:
        for end, (motion, position) in enumerate((pair[:2], pair[2:])):
            sequence = sequences[motion]
            ends[end].append(sequence[round(position * (len(sequence) - 1))])
    return tuple(torch.from_numpy(np.stack(e).astype(np.float32)) for e in ends)


DATASETS.register(NAME)(DatasetSpec(prepare=prepare, load=load, endpoints=endpoints, check_pairs=check_pairs,
                             shape=lambda args: (CAPTURE_FRAMES // args["frame_step"],) * 2 + (len(FEATURES),), args={
    "trials": None, "frame_step": None, "split_seed": None, "split": {"valid": None, "test": None}, "mirror": None}))
