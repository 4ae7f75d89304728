"""Mocap readers and kinematics (BVH and ASF/AMC) and the mocap dataset, on the local mirror's CMU files; the
smoothness table and trade-off points of Fig. 7 on synthetic runs."""
import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from acclaim import acclaim_positions, parse_amc, parse_asf

from vhp_core import datasets
from vhp_core.datasets import DataError
from vhp_core.datasets.bvh import joint_positions, parse_bvh, parse_hierarchy
from vhp_core.datasets.fetch import MIRROR_ENV, checksums, fetch
from vhp_core.datasets.mocap import FEATURES, GROUPS, load_meta, raw_files, read_trial
from vhp_core.datasets.rotations import euler_matrix
from vhp_core.report.plots_mocap import (
    smoothness_markdown,
    smoothness_points,
    smoothness_runs,
    smoothness_table,
    tradeoff_figure,
)

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
MOCAP = MIRROR / "cmu_mocap"
needs_mirror = pytest.mark.skipif(not MOCAP.is_dir(), reason=f"the local mocap mirror {MOCAP} is absent")
TRIALS = {"walk": "35_01", "jog": "35_17", "kick": "74_06", "punch": "143_23", "jump_balance": "02_04"}
ARGS = {"trials": TRIALS, "frame_step": 4, "split_seed": 0, "split": {"valid": 0.1, "test": 0.1},
        "mirror": str(MIRROR)}
CONSTANT = {f"{j}.{a}rotation" for j in ("LHipJoint", "RHipJoint", "LeftShoulder", "RightShoulder",
                                         "LeftHandIndex1", "RightHandIndex1") for a in "XYZ"}
CONSTANT |= {f"{j}.{a}rotation" for j in ("LeftHand", "RightHand") for a in "YZ"}
TWO_BONES = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 2 0 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.1
0 0 0 0 0 0 90 0 0
"""


@pytest.fixture(autouse=True)
def no_mirror_env(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mocap")
    datasets.prepare("mocap", root, ARGS)
    return root


def _bvh(trial: str):
    return parse_bvh((MOCAP / "bvh" / f"{trial}.bvh").read_text(), trial)


def _bone_lengths(points: np.ndarray, parents: np.ndarray) -> np.ndarray:
    child = np.flatnonzero(parents >= 0)
    return np.linalg.norm(points[:, child] - points[:, parents[child]], axis=-1)


def test_rotation_order_by_hand():
    r = euler_matrix(np.array([90.0, 0.0, 0.0]), "ZYX")
    assert np.allclose(r @ [1, 0, 0], [0, 1, 0])  # 90 degrees about Z turns x onto y
    z, x = euler_matrix(np.array([90.0, 90.0]), "ZX"), euler_matrix(np.array([90.0, 90.0]), "XZ")
    assert np.allclose(z @ [0, 1, 0], [0, 0, 1])  # Rz @ Rx: x first turns y onto z, then z stays
    assert np.allclose(x @ [0, 1, 0], [-1, 0, 0])  # Rx @ Rz: z first turns y onto -x, then x stays
    assert np.allclose(x @ [0, 0, 1], [0, -1, 0])  # z stays under Rz, then x turns it onto -y


def test_bvh_kinematics_by_hand():
    motion = parse_bvh(TWO_BONES)
    s = motion.skeleton
    assert s.names == ["Hips", "Arm", "Arm_End"] and s.parents.tolist() == [-1, 0, 1] and s.bones == [(0, 1), (1, 2)]
    assert s.channel_names[3:6] == ["Hips.Zrotation", "Hips.Yrotation", "Hips.Xrotation"] and motion.frame_time == 0.1
    p = joint_positions(s, motion.frames)[0]
    assert np.allclose(p, [[0, 0, 0], [1, 0, 0], [1, 2, 0]])  # Arm's Z 90 turns its child's x offset onto y
    moved = motion.frames.copy()
    moved[0, :6] = [5, 6, 7, 90, 0, 0]  # root translation and a root turn carry everything below
    assert np.allclose(joint_positions(s, moved)[0], [[5, 6, 7], [5, 7, 7], [3, 7, 7]])


def test_bvh_errors_name_the_file():
    with pytest.raises(DataError, match=r"x.bvh: expected 1 motion lines of 9 values, got 1 lines; motion line 0"):
        parse_bvh(TWO_BONES.replace("90 0 0\n", "90 0\n"), "x.bvh")
    with pytest.raises(DataError, match="x.bvh: unbalanced braces"):
        parse_bvh(TWO_BONES.replace("}\nMOTION", "MOTION"), "x.bvh")


@needs_mirror
@pytest.mark.parametrize("trial", TRIALS.values())
def test_bvh_reads_frames_back_exactly(trial):
    lines = (MOCAP / "bvh" / f"{trial}.bvh").read_text().splitlines()
    first = lines.index("MOTION") + 3
    motion = _bvh(trial)
    assert motion.frames.shape == (len(lines) - first, 96) and motion.frame_time == 0.0083333
    for k in (0, 1, len(motion.frames) // 2, len(motion.frames) - 1):
        assert motion.frames[k].tolist() == [float(v) for v in lines[first + k].split()]


@needs_mirror
@pytest.mark.parametrize("trial", TRIALS.values())
def test_bvh_kinematics_keeps_bone_lengths(trial):
    motion = _bvh(trial)
    s = motion.skeleton
    length = np.linalg.norm(s.offsets[s.parents >= 0], axis=1)
    assert np.allclose(_bone_lengths(joint_positions(s, motion.frames), s.parents), length, atol=1e-9)
    angles = np.random.default_rng(0).uniform(-180, 180, (50, s.n_channels))
    assert np.allclose(_bone_lengths(joint_positions(s, angles), s.parents), length, atol=1e-9)
    rest = joint_positions(s, np.zeros((1, s.n_channels)))[0]
    cumulative = s.offsets.copy()
    for j, parent in enumerate(s.parents):
        cumulative[j] += cumulative[parent] if parent >= 0 else 0
    assert np.allclose(rest, cumulative)
    assert len(s.names) == 38 and sum(n.endswith("_End") for n in s.names) == 7


@needs_mirror
def test_amc_reads_frames_back_exactly():
    skeleton = parse_asf((MOCAP / "amc/35/35.asf").read_text(), "35.asf")
    lines = (MOCAP / "amc/35/35_01.amc").read_text().splitlines()
    numbers, channels = parse_amc("\n".join(lines), skeleton, "35_01.amc")
    assert channels.shape == (358, 62) and numbers.tolist() == list(range(1, 359))
    names = skeleton.channel_names
    assert names[:6] == ["root.tx", "root.ty", "root.tz", "root.rx", "root.ry", "root.rz"]
    for frame in (1, 200, 358):
        at = lines.index(str(frame))
        for line in lines[at + 1:at + 30]:
            bone, *values = line.split()
            cols = [names.index(f"{bone}.{d}") for d in skeleton.dofs[skeleton.names.index(bone)]]
            assert channels[frame - 1, cols].tolist() == [float(v) for v in values]


@needs_mirror
@pytest.mark.parametrize("subject, trial", [("35", "35_01"), ("49", "49_18")])
def test_acclaim_kinematics_keeps_bone_lengths(subject, trial):
    skeleton = parse_asf((MOCAP / f"amc/{subject}/{subject}.asf").read_text())
    _, channels = parse_amc((MOCAP / f"amc/{subject}/{trial}.amc").read_text(), skeleton)
    lengths = skeleton.lengths[1:]
    assert np.allclose(_bone_lengths(acclaim_positions(skeleton, channels), skeleton.parents), lengths, atol=1e-9)
    angles = np.random.default_rng(0).uniform(-180, 180, (50, channels.shape[1]))
    assert np.allclose(_bone_lengths(acclaim_positions(skeleton, angles), skeleton.parents), lengths, atol=1e-9)
    rest = acclaim_positions(skeleton, np.zeros((1, channels.shape[1])))[0]
    tibia = skeleton.names.index("ltibia")  # at rest every bone points along its ASF direction
    assert np.allclose(rest[tibia], sum(skeleton.directions[b] * skeleton.lengths[b] for b in (1, 2, 3)))


@needs_mirror
def test_bvh_and_acclaim_kinematics_agree_on_the_same_capture():
    """cgspeed's 35_01.bvh and CMU's 35_01.amc: independent formats, same legs and spine to 4-decimal rounding."""
    skeleton = parse_asf((MOCAP / "amc/35/35.asf").read_text())
    _, channels = parse_amc((MOCAP / "amc/35/35_01.amc").read_text(), skeleton)
    acclaim = acclaim_positions(skeleton, channels)
    motion = _bvh("35_01")
    bvh = joint_positions(motion.skeleton, motion.frames[1:])
    same = {"Hips": "root", "LeftUpLeg": "lhipjoint", "LeftLeg": "lfemur", "LeftFoot": "ltibia",
            "LeftToeBase": "lfoot", "LeftToeBase_End": "ltoes", "RightLeg": "rfemur", "RightToeBase_End": "rtoes",
            "Spine": "lowerback", "Spine1": "upperback"}
    for b, a in same.items():
        assert np.abs(bvh[:, motion.skeleton.names.index(b)] - acclaim[:, skeleton.names.index(a)]).max() < 2e-4, b


@needs_mirror
def test_the_fifty_channels_are_the_varying_body_pose():
    for trial in TRIALS.values():
        motion = read_trial((MOCAP / "bvh" / f"{trial}.bvh").read_bytes(), trial)
        names = motion.skeleton.channel_names
        constant = {n for n, spread in zip(names, np.ptp(motion.frames, axis=0), strict=True) if spread == 0}
        assert constant == CONSTANT, trial
        small = ("LeftFingerBase", "RightFingerBase", "LThumb", "RThumb", "LeftToeBase", "RightToeBase", "Hips")
        left_out = {n for n in names if n.split(".")[0] in small} | constant
        assert set(FEATURES) == set(names) - left_out and len(FEATURES) == 50


@needs_mirror
def test_mocap_dataset(root):
    s = datasets.load("mocap", root, ARGS)
    meta = load_meta(root, ARGS)
    assert s.image_shape == (50,) and s.data_dim == 50 and meta.motions == list(TRIALS)
    assert meta.features == FEATURES and len(set(meta.groups)) == 5 and list(dict.fromkeys(meta.groups)) == list(GROUPS)
    assert abs(s.train.mean(0)).max() < 1e-5 and np.allclose(s.train.double().std(0, correction=0), 1, atol=1e-5)
    counts = {m: len(_bvh(t).frames[1::4]) for m, t in TRIALS.items()}
    assert {m: len(x) for m, x in meta.sequences.items()} == counts == {
        "walk": 90, "jog": 42, "kick": 82, "punch": 204, "jump_balance": 121}
    assert sum(len(getattr(s, k)) for k in ("train", "valid", "test")) == sum(counts.values())
    for split in ("train", "valid", "test"):
        assert np.bincount(s.labels[split], minlength=5).min() > 0
    assert [int(x) for x in np.bincount(s.labels["test"])] == [int(0.1 * n) for n in counts.values()]
    assert meta.frame_time == pytest.approx(4 / 120, rel=1e-4)


@needs_mirror
def test_sequences_are_the_unwrapped_file_channels(root):
    meta = load_meta(root, ARGS)
    raw = _bvh("74_06").frames
    names = meta.skeleton.channel_names
    column = names.index("RightFoot.Xrotation")
    k = 41  # kept frame 41 = file frame 1 + 4 * 41 = 165, after RightFoot.Xrotation wrapped past 180
    channels = meta.to_channels(meta.sequences["kick"])
    assert channels[k, column] == pytest.approx(raw[1 + 4 * k, column] + 360, abs=1e-9)
    others = [c for c in meta.columns if c != column]
    assert np.allclose(channels[k, others], raw[1 + 4 * k, others], atol=1e-9)
    walk = meta.to_channels(meta.sequences["walk"])
    assert np.allclose(walk[:, meta.columns], _bvh("35_01").frames[1::4][:, meta.columns], atol=1e-9)
    assert np.array_equal(walk[:, list(meta.skeleton.columns[0])], np.zeros((len(walk), 6)))


@needs_mirror
def test_positions_and_channels_round_trip(root):
    meta = load_meta(root, ARGS)
    features = meta.sequences["punch"]
    assert np.allclose((meta.to_channels(features)[:, meta.columns] - meta.mean) / meta.std, features, atol=1e-12)
    p = meta.positions(features)
    assert p.shape == (len(features), 38, 3) and np.array_equal(p[:, 0], np.zeros((len(features), 3)))
    head, foot = meta.skeleton.names.index("Head_End"), meta.skeleton.names.index("LeftToeBase_End")
    assert (p[:, head, 1] > p[:, foot, 1] + 20).all()  # upright: y is up, the head well above the feet
    assert all(0 <= a < b < 38 for a, b in meta.skeleton.bones) and len(meta.skeleton.bones) == 37
    assert parse_hierarchy((MOCAP / "bvh/143_23.bvh").read_text()).offsets.tolist() != meta.skeleton.offsets.tolist()


@needs_mirror
def test_prepare_is_deterministic_and_args_are_checked(root, tmp_path):
    datasets.prepare("mocap", tmp_path, ARGS)
    assert (tmp_path / "mocap/mocap.npz").read_bytes() == (root / "mocap/mocap.npz").read_bytes()
    with pytest.raises(DataError, match=r"prepared with frame_step=4 \(now 2\)"):
        datasets.load("mocap", root, {**ARGS, "frame_step": 2})
    with pytest.raises(DataError, match="quote them in YAML"):
        datasets.prepare("mocap", tmp_path, {**ARGS, "trials": {**TRIALS, "walk": 3501}})
    with pytest.raises(DataError, match="args.split must be"):
        datasets.prepare("mocap", tmp_path, {**ARGS, "split": {"valid": 0.6, "test": 0.5}})


@pytest.mark.fault("data")
@needs_mirror
def test_corrupt_bvh_is_refused_with_its_name(tmp_path):
    mirror = tmp_path / "mirror" / "cmu_mocap" / "bvh"
    shutil.copytree(MOCAP / "bvh", mirror)
    data = bytearray((mirror / "35_17.bvh").read_bytes())
    data[len(data) // 2] = ord("7") if data[len(data) // 2] != ord("7") else ord("8")
    (mirror / "35_17.bvh").chmod(0o644)
    (mirror / "35_17.bvh").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"cmu_mocap/bvh/35_17.bvh from the mirror .* does not match its pinned"):
        datasets.prepare("mocap", tmp_path / "data", {**ARGS, "mirror": str(tmp_path / "mirror")})
    assert not (tmp_path / "data/mocap/manifest.json").exists()


@pytest.mark.fault("data")
@needs_mirror
def test_lf_pin_accepts_crlf_and_refuses_a_change(tmp_path):
    lf = (MOCAP / "bvh/35_17.bvh").read_bytes()
    crlf = lf.replace(b"\n", b"\r\n")
    mirror = tmp_path / "crlf" / "cmu_mocap" / "bvh"
    mirror.mkdir(parents=True)
    (mirror / "35_17.bvh").write_bytes(crlf)
    assert fetch("cmu_mocap", "bvh/35_17.bvh", tmp_path / "a", tmp_path / "crlf") == lf
    assert (tmp_path / "a/cmu_mocap/raw/bvh/35_17.bvh").read_bytes() == crlf
    (mirror / "35_17.bvh").write_bytes(crlf.replace(b"Frame Time: .0083333", b"Frame Time: .0083334"))
    with pytest.raises(DataError, match=r"bvh/35_17.bvh from the mirror .* expected CRLF-to-LF sha256"):
        fetch("cmu_mocap", "bvh/35_17.bvh", tmp_path / "b", tmp_path / "crlf")


def test_mocap_pins_cover_the_trials_and_acclaim_files():
    pins = checksums()
    for file in raw_files(ARGS):
        pin = pins["cmu_mocap", file]
        assert pin.sha256_of == "lf" and len(bytes.fromhex(pin.sha256)) == 32
        assert pin.url.startswith("https://raw.githubusercontent.com/una-dinosauria/cmu-mocap/")
        assert pin.url.endswith(file.removeprefix("bvh/"))
    acclaim = [f for source, f in pins if source == "cmu_mocap" and f.startswith("amc/")]
    assert sorted(acclaim) == ["amc/35/35.asf", "amc/35/35_01.amc", "amc/49/49.asf", "amc/49/49_18.amc",
                               "amc/49/49_19.amc", "amc/49/49_20.amc"]
    if MOCAP.is_dir():
        for source, file in pins:
            if source == "cmu_mocap":
                digest = hashlib.sha256((MOCAP / file).read_bytes().replace(b"\r\n", b"\n")
                                        if pins[source, file].sha256_of == "lf" else (MOCAP / file).read_bytes())
                assert digest.hexdigest() == pins[source, file].sha256, file


def _smoothness_file(folder: Path, name: str, factors: list, normalised: list, reconstruction_mse: list) -> str:
    path = folder / f"{name}.npz"
    np.savez(path, factors=np.array(factors), normalised=np.array(normalised),
             reconstruction_mse=np.array(reconstruction_mse), mean_pose_mse=np.array([1.0, 4.0]))
    return str(path)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")  # method B, seed 3 never moves
def test_smoothness_table_and_points_aggregate_runs_as_stated(tmp_path):
    """Two methods x two seeds of two paths over two features: the table pools paths over seeds (normalised
    values of still paths left out and counted) and reconstruction MSEs over seeds; a point is one seed."""
    nan = float("nan")
    files = [_smoothness_file(tmp_path, "a1", [[1, 2], [3, 4]], [[0.5, nan], [1.5, 1.0]], [0.25, 1.0]),
             _smoothness_file(tmp_path, "a2", [[5, 6], [7, 8]], [[1.0, 0.2], [1.0, 0.4]], [0.75, 1.0]),
             _smoothness_file(tmp_path, "b1", [[0, 0], [0, 0]], [[nan, nan], [nan, nan]], [1.0, 4.0]),
             _smoothness_file(tmp_path, "b2", [[1, 1], [1, 1]], [[0.0, 0.0], [0.0, 0.0]], [1.0, 4.0])]
    runs = smoothness_runs(files, ["A", "B"], [3, 7])
    assert runs == {"A": {3: files[0], 7: files[1]}, "B": {3: files[2], 7: files[3]}}
    with pytest.raises(ValueError, match="4 smoothness files for 3 methods x 2 seeds"):
        smoothness_runs(files, ["A", "B", "C"], [3, 7])
    meta = SimpleNamespace(features=["f0", "f1"], groups=["left leg", "right arm"])
    table = smoothness_table(runs, meta).set_index(["method", "feature"])
    a0, a1 = table.loc[("A", "f0")], table.loc[("A", "f1")]
    assert a0["n_interpolations"] == 4 and a0["mean"] == 4.0 and a0["std"] == pytest.approx(np.sqrt(5))
    assert a0["normalised_mean"] == 1.0 and a0["normalised_undefined"] == 0
    assert a1["normalised_mean"] == pytest.approx(1.6 / 3) and a1["normalised_undefined"] == 1
    assert a0["reconstruction_rms"] == pytest.approx(np.sqrt(0.5)) and a1["reconstruction_rms"] == 1.0
    assert a0["mean_pose_rms"] == 1.0 and a1["mean_pose_rms"] == 2.0
    assert table.loc[("B", "f0"), "normalised_undefined"] == 2 and table.loc[("B", "f0"), "normalised_mean"] == 0
    points = smoothness_points(runs).set_index(["method", "seed"])
    assert points.loc[("A", 3)].to_dict() == pytest.approx(
        {"factor": 2.5, "normalised": 1.0, "reconstruction_rms": np.sqrt(0.625), "mean_pose_rms": np.sqrt(2.5)})
    mean_pose_decoder = points.loc[("B", 3)]  # still paths, the mean pose's error
    assert mean_pose_decoder["factor"] == 0 and np.isnan(mean_pose_decoder["normalised"])
    assert mean_pose_decoder["reconstruction_rms"] == mean_pose_decoder["mean_pose_rms"]
    markdown = smoothness_markdown(smoothness_table(runs, meta), smoothness_points(runs))
    assert "| A | 4.0000 | 5.0000 | 4.5000 |" in markdown and "| A | 1.0000 | 0.5333 | 0.7667 |" in markdown
    assert "| A | 7 | 6.5000 | 0.6500 | 0.9354 |" in markdown and "mean pose has error 1.581" in markdown
    figure = tradeoff_figure(smoothness_points(runs))
    assert [len(ax.collections) for ax in figure.axes] == [3, 2]
