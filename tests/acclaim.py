"""Acclaim motion files (CMU's ASF skeleton + AMC motion) and their forward kinematics: the tests' independent
check of the BVH kinematics the mocap dataset uses (the same captures, another file format and parser).

ASF: every bone has a `direction` (unit vector in the global frame of the rest pose), a `length`, an
`axis` (three angles in degrees and the order they apply in, e.g. "XYZ": X first, so C = Rz @ Ry @ Rx)
and the `dof` it moves in. AMC: per frame, its number, then one "bone v1 v2 ..." line per moving bone.
Standard kinematics: a bone's local rotation is C @ M @ C^-1, with M the rotation of its dof values
(degrees, in the same order as its axis), its global rotation is its parent's times that, and its end
is its parent's end plus global rotation @ direction * length. The root's end is its translation.
"""
import re
from dataclasses import dataclass

import numpy as np

from vhp_core.datasets.base import DataError
from vhp_core.datasets.rotations import euler_matrix

ROOT = "root"


@dataclass(frozen=True)
class AsfSkeleton:
    """Bones in ASF order with the root first (index 0); arrays are indexed by bone.

    `parents` (-1 for the root), `directions` (B, 3), `lengths` (B,), `axes` (B, 3) degrees with
    `axis_orders` (application order, e.g. "XYZ"), `dofs` per bone (lower-case, e.g. ("rx", "rz");
    the root's are its `order`, e.g. ("tx", "ty", "tz", "rx", "ry", "rz")); `units` as in the file.
    """

    names: list[str]
    parents: np.ndarray
    directions: np.ndarray
    lengths: np.ndarray
    axes: np.ndarray
    axis_orders: list[str]
    dofs: list[tuple[str, ...]]
    units: dict[str, str]

    @property
    def channel_names(self) -> list[str]:
        """"bone.dof" for every column of the channel array, root first, then bones in ASF order."""
        return [f"{name}.{dof}" for name, dofs in zip(self.names, self.dofs, strict=True) for dof in dofs]

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent index, child index) of every bone, for drawing stick figures."""
        return [(int(p), j) for j, p in enumerate(self.parents) if p >= 0]


def _sections(text: str) -> dict[str, list[list[str]]]:
    """Token lines of each ":keyword" section, comments ("#") dropped."""
    sections: dict[str, list[list[str]]] = {}
    current = None
    for line in text.splitlines():
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        if tokens[0].startswith(":"):
            current = sections.setdefault(tokens[0][1:].lower(), [])
            if len(tokens) > 1:
                current.append(tokens[1:])
        elif current is not None:
            current.append(tokens)
    return sections


def parse_asf(text: str, source: str = "ASF") -> AsfSkeleton:
    """The skeleton of an ASF file's text; DataError naming `source` if a section or field is missing."""
    sections = _sections(text)
    missing = {"units", "root", "bonedata", "hierarchy"} - set(sections)
    if missing:
        raise DataError(f"{source}: expected the ASF sections {sorted(missing)}")
    try:
        units = {line[0]: line[1] for line in sections["units"]}
        root = {line[0]: line[1:] for line in sections["root"]}
        names, directions, lengths = [ROOT], [[0.0] * 3], [0.0]
        axes = [[float(v) for v in root.get("orientation", [0, 0, 0])]]
        orders, dofs = ["".join(root["axis"])], [tuple(d.lower() for d in root["order"])]
        bone: dict[str, list[str]] = {}
        for line in sections["bonedata"]:
            if line[0] == "begin":
                bone = {}
            elif line[0] == "end":
                names.append(bone["name"][0])
                directions.append([float(v) for v in bone["direction"]])
                lengths.append(float(bone["length"][0]))
                axes.append([float(v) for v in bone["axis"][:3]])
                orders.append(bone["axis"][3])
                dofs.append(tuple(bone.get("dof", ())))
            elif not line[0].startswith("("):
                bone[line[0]] = line[1:]
        parents = np.full(len(names), -1)
        for line in sections["hierarchy"]:
            if line[0] not in ("begin", "end"):
                for child in line[1:]:
                    parents[names.index(child)] = names.index(line[0])
        skeleton = AsfSkeleton(names, parents, np.array(directions, dtype=np.float64), np.array(lengths),
                               np.array(axes, dtype=np.float64), [o.upper() for o in orders], dofs, units)
    except (KeyError, IndexError, ValueError) as err:
        raise DataError(f"{source}: malformed ASF ({type(err).__name__}: {err})") from err
    orphans = [n for n, p in zip(names[1:], parents[1:], strict=True) if p < 0]
    if orphans:
        raise DataError(f"{source}: bones {orphans} have no parent in the :hierarchy")
    return skeleton


def parse_amc(text: str, skeleton: AsfSkeleton, source: str = "AMC") -> tuple[np.ndarray, np.ndarray]:
    """(frame numbers (F,), channels (F, C) float64 in `skeleton.channel_names` order) of an AMC file."""
    width = {name: len(dofs) for name, dofs in zip(skeleton.names, skeleton.dofs, strict=True) if dofs}
    start = np.cumsum([0] + list(width.values()))[:-1]
    column = dict(zip(width, start, strict=True))
    numbers, frames, seen = [], [], set()
    for k, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0][0] in "#:":
            continue
        if re.fullmatch(r"\d+", tokens[0]) and len(tokens) == 1:
            _check_complete(seen, width, numbers, source)
            numbers.append(int(tokens[0]))
            frames.append(np.full(int(start[-1] + width[list(width)[-1]]), np.nan))
            seen = set()
            continue
        bone = tokens[0]
        if not frames or bone not in width or len(tokens) - 1 != width[bone]:
            expected = f"{width[bone]} values" if bone in width else f"one of the bones {list(width)}"
            raise DataError(f"{source}: line {k} ({line.strip()[:40]!r}): expected a frame number first and "
                            f"then {expected}")
        try:
            frames[-1][column[bone]:column[bone] + width[bone]] = [float(v) for v in tokens[1:]]
        except ValueError as err:
            raise DataError(f"{source}: line {k}: {err}") from err
        seen.add(bone)
    _check_complete(seen, width, numbers, source)
    if not frames:
        raise DataError(f"{source}: no frames")
    return np.array(numbers), np.stack(frames)


def _check_complete(seen: set[str], width: dict[str, int], numbers: list[int], source: str) -> None:
    if numbers and seen != set(width):
        raise DataError(f"{source}: frame {numbers[-1]} lacks the bones {sorted(set(width) - seen)}")


def acclaim_positions(skeleton: AsfSkeleton, channels: np.ndarray) -> np.ndarray:
    """(T, B, 3) global position of the root and of every bone's end for channels (T, C) of `parse_amc`."""
    channels = np.asarray(channels, dtype=np.float64)
    t, column = len(channels), 0
    rotation = np.empty((len(skeleton.names), t, 3, 3))
    position = np.empty((len(skeleton.names), t, 3))
    for b, parent in enumerate(skeleton.parents):
        dofs, order = skeleton.dofs[b], skeleton.axis_orders[b]
        values = dict(zip(dofs, channels[:, column:column + len(dofs)].T, strict=True))
        column += len(dofs)
        reverse = order[::-1]  # applied X first = outermost last in the matrix product
        angles = np.stack([values.get(f"r{a.lower()}", np.zeros(t)) for a in reverse], axis=-1)
        c = euler_matrix(skeleton.axes[b][[order.index(a) for a in reverse]], reverse)
        local = c @ euler_matrix(angles, reverse) @ c.T
        if parent < 0:
            rotation[b] = local
            position[b] = np.stack([values.get(f"t{a}", np.zeros(t)) for a in "xyz"], axis=-1)
        else:
            rotation[b] = rotation[parent] @ local
            position[b] = position[parent] + rotation[b] @ (skeleton.directions[b] * skeleton.lengths[b])
    return position.transpose(1, 0, 2)
