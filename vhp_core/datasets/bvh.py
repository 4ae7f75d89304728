"""BVH motion files: the joint hierarchy, the channel table and forward kinematics to joint positions.

A BVH file has a HIERARCHY (joints with OFFSETs from their parent, CHANNELS in the order they appear
in each motion line, End Sites as the tips of end effectors) and a MOTION table of one line per frame.
Rotations are Euler angles in degrees, intrinsic in the listed order ("Zrotation Yrotation Xrotation"
means R = Rz @ Ry @ Rx); position channels (the root's) translate before the rotations.
"""
from dataclasses import dataclass

import numpy as np

from vhp_core.datasets.base import DataError
from vhp_core.datasets.rotations import euler_matrix

POSITIONS = ("Xposition", "Yposition", "Zposition")
ROTATIONS = ("Xrotation", "Yrotation", "Zrotation")
END_SUFFIX = "_End"


@dataclass(frozen=True)
class Skeleton:
    """Points of a BVH hierarchy (joints, and End Sites named "<joint>_End") in file order.

    `parents[j]` is the index of j's parent (-1 for the root); `offsets[j]` its OFFSET (J, 3);
    `channels[j]` its channel names in file order (empty for End Sites) and `columns[j]` the column of
    each of those channels in a motion line.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    columns: list[tuple[int, ...]]

    @property
    def n_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    @property
    def channel_names(self) -> list[str]:
        """"Joint.Channel" for every column of a motion line, in column order."""
        named = {col: f"{name}.{ch}" for name, chs, cols in zip(self.names, self.channels, self.columns, strict=True)
                 for ch, col in zip(chs, cols, strict=True)}
        return [named[i] for i in range(self.n_channels)]

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent index, child index) of every segment, for drawing stick figures."""
        return [(int(p), j) for j, p in enumerate(self.parents) if p >= 0]


@dataclass(frozen=True)
class Motion:
    """A parsed BVH file: its skeleton, frames (F, n_channels) float64, and seconds per frame."""

    skeleton: Skeleton
    frames: np.ndarray
    frame_time: float


def parse_hierarchy(text: str, source: str = "BVH") -> Skeleton:
    """The Skeleton of the HIERARCHY section in `text` (the MOTION section, if present, is ignored)."""
    tokens = text.split("MOTION", 1)[0].split()
    names, parents, offsets, channels, columns = [], [], [], [], []
    stack: list[int] = []
    if not tokens or tokens[0] != "HIERARCHY":
        raise DataError(f"{source}: expected the BVH keyword HIERARCHY at the start")
    column, i = 0, 1
    try:
        while i < len(tokens):
            token = tokens[i]
            if token in ("ROOT", "JOINT") or token == "End":
                name = tokens[i + 1] if token != "End" else names[stack[-1]] + END_SUFFIX
                names.append(name)
                parents.append(stack[-1] if stack else -1)
                channels.append(())
                columns.append(())
                offsets.append(None)
                i += 2
            elif token == "{":
                stack.append(len(names) - 1)
                i += 1
            elif token == "}":
                stack.pop()
                i += 1
            elif token == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1:i + 4]]
                i += 4
            elif token == "CHANNELS":
                n = int(tokens[i + 1])
                channels[stack[-1]] = tuple(tokens[i + 2:i + 2 + n])
                columns[stack[-1]] = tuple(range(column, column + n))
                column += n
                i += 2 + n
            else:
                raise DataError(f"{source}: unexpected token {token!r} in the HIERARCHY")
    except (IndexError, ValueError) as err:
        raise DataError(f"{source}: malformed HIERARCHY near token {i} ({err})") from err
    if stack or not names or any(o is None or len(o) != 3 for o in offsets):
        raise DataError(f"{source}: unbalanced braces or a joint without a 3-value OFFSET in the HIERARCHY")
    unknown = {c for chs in channels for c in chs} - set(POSITIONS + ROTATIONS)
    if unknown:
        raise DataError(f"{source}: unknown channel types {sorted(unknown)}; expected {POSITIONS + ROTATIONS}")
    return Skeleton(names, np.array(parents), np.array(offsets, dtype=np.float64), channels, columns)


def parse_bvh(text: str, source: str = "BVH") -> Motion:
    """The skeleton and every frame of a BVH file's text; DataError naming `source` if it is malformed."""
    skeleton = parse_hierarchy(text, source)
    if "MOTION" not in text:
        raise DataError(f"{source}: no MOTION section")
    lines = text.split("MOTION", 1)[1].strip().splitlines()
    try:
        n_frames = int(lines[0].split(":")[1]) if lines[0].startswith("Frames:") else None
        frame_time = float(lines[1].split(":")[1]) if lines[1].startswith("Frame Time:") else None
        rows = [[float(v) for v in line.split()] for line in lines[2:] if line.strip()]
    except (IndexError, ValueError) as err:
        raise DataError(f"{source}: malformed MOTION section ({err})") from err
    if n_frames is None or frame_time is None:
        raise DataError(f"{source}: expected 'Frames:' and 'Frame Time:' lines after MOTION")
    bad = [k for k, row in enumerate(rows) if len(row) != skeleton.n_channels]
    if len(rows) != n_frames or bad:
        detail = f"; motion line {bad[0]} has {len(rows[bad[0]])} values" if bad else ""
        raise DataError(f"{source}: expected {n_frames} motion lines of {skeleton.n_channels} values, got "
                        f"{len(rows)} lines{detail}")
    return Motion(skeleton, np.array(rows, dtype=np.float64).reshape(n_frames, skeleton.n_channels), frame_time)


def joint_positions(skeleton: Skeleton, frames: np.ndarray) -> np.ndarray:
    """(T, J, 3) global positions of every point (joints and End Sites) for frames (T, n_channels)."""
    frames = np.asarray(frames, dtype=np.float64)
    t = len(frames)
    rotation = np.empty((len(skeleton.names), t, 3, 3))
    position = np.empty((len(skeleton.names), t, 3))
    for j, parent in enumerate(skeleton.parents):
        chs, cols = skeleton.channels[j], np.array(skeleton.columns[j], dtype=int)
        translate = np.broadcast_to(skeleton.offsets[j], (t, 3)).copy()
        for axis, name in enumerate(POSITIONS):
            if name in chs:
                translate[:, axis] += frames[:, cols[chs.index(name)]]
        rot = [k for k, c in enumerate(chs) if c in ROTATIONS]
        local = euler_matrix(frames[:, cols[rot]], "".join(chs[k][0] for k in rot))
        if parent < 0:
            rotation[j], position[j] = local, translate
        else:
            rotation[j] = rotation[parent] @ local
            position[j] = position[parent] + (rotation[parent] @ translate[..., None])[..., 0]
    return position.transpose(1, 0, 2)
