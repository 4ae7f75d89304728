"""Real dataset loaders on the local mirror: splits, known counts from MANIFEST.md, and checksum refusals."""
import gzip
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vhp_core import datasets
from vhp_core.datasets import DataError, mnist, omniglot
from vhp_core.datasets.fetch import MIRROR_ENV, checksums, fetch
from vhp_core.io import sha256_file

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"the local data mirror {MIRROR} is absent")

ARGS = {
    "dynamic_mnist": {"binarize_seed": 7, "mirror": str(MIRROR)},
    "fashion_mnist": {"binarize_seed": 7, "mirror": str(MIRROR)},
    "static_mnist": {"mirror": str(MIRROR)},
    "omniglot_small": {"binarize_seed": 7, "split_seed": 0, "mirror": str(MIRROR)},
}
LABELS = "t10k-labels-idx1-ubyte.gz"  # the smallest MNIST file, for the fetch tests


@pytest.fixture(scope="session")
def root(tmp_path_factory) -> Path:
    """Every mirrored dataset prepared once per session."""
    root = tmp_path_factory.mktemp("real_data")
    for name, args in ARGS.items():
        datasets.prepare(name, root, args)
    return root


@pytest.fixture(autouse=True)
def no_mirror_env(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)


def _binary(x) -> bool:
    return bool(((x == 0) | (x == 1)).all())


@pytest.mark.parametrize("name", ["dynamic_mnist", "fashion_mnist"])
def test_grey_mnist_splits(root, name):
    s = datasets.load(name, root, ARGS[name])
    assert (len(s.train), len(s.valid), len(s.test)) == (50_000, 10_000, 10_000)
    assert s.data_dim == 784 and s.image_shape == (28, 28) and s.dynamic_binarization
    assert 0 <= s.train.min() and s.train.max() <= 1 and not _binary(s.train)
    assert _binary(s.valid) and _binary(s.test)
    assert {k: len(v) for k, v in s.labels.items()} == {"train": 50_000, "valid": 10_000, "test": 10_000}


def test_mnist_labels_match_the_manifest(root):
    s = datasets.load("dynamic_mnist", root, ARGS["dynamic_mnist"])
    assert s.labels["train"][:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(s.labels["test"]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    train_counts = np.bincount(np.concatenate([s.labels["train"], s.labels["valid"]]))
    assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(float(s.train.double().sum()) - 5133683) < 1  # MANIFEST: sum of train[:50k] / 255
    fashion = datasets.load("fashion_mnist", root, ARGS["fashion_mnist"])
    assert fashion.labels["train"][:5].tolist() == [9, 0, 0, 3, 0]
    assert np.bincount(fashion.labels["test"]).tolist() == [1000] * 10


def test_static_mnist_counts_of_ones(root):
    s = datasets.load("static_mnist", root, ARGS["static_mnist"])
    assert (len(s.train), len(s.valid), len(s.test)) == (50_000, 10_000, 10_000)
    assert not s.dynamic_binarization and s.labels is None and s.image_shape == (28, 28)
    assert all(_binary(x) for x in (s.train, s.valid, s.test))
    assert [int(x.sum()) for x in (s.train, s.valid, s.test)] == [5118041, 1028036, 1038896]


def test_evaluation_binarisation_is_fixed(root, tmp_path):
    args = ARGS["dynamic_mnist"]
    a, b = datasets.load("dynamic_mnist", root, args), datasets.load("dynamic_mnist", root, args)
    assert a.valid.equal(b.valid) and a.test.equal(b.test)
    datasets.prepare("dynamic_mnist", tmp_path, args)  # a second preparation gives the same bytes
    assert sha256_file(tmp_path / "dynamic_mnist/dynamic_mnist.npz") == sha256_file(
        root / "dynamic_mnist/dynamic_mnist.npz")
    with pytest.raises(DataError, match=r"prepared with binarize_seed=7 \(now 8\) by"):
        datasets.load("dynamic_mnist", root, {**args, "binarize_seed": 8})


def test_omniglot_small_images_and_split(root, tmp_path):
    s = datasets.load("omniglot_small", root, ARGS["omniglot_small"])
    assert (len(s.train), len(s.valid), len(s.test)) == (242 * 14, 242, 242 * 5)
    assert s.image_shape == (28, 28) and s.dynamic_binarization and _binary(s.valid) and _binary(s.test)
    images = s.train.reshape(-1, 28, 28)
    assert 0.03 < images.mean() < 0.2  # ink = 1 is the sparse part
    assert images[:, [0, -1], :].mean() < images[:, 10:18, 10:18].mean() / 10  # background at the border
    assert all(set(s.labels[k].tolist()) == set(range(8)) for k in ("train", "valid", "test"))
    meta = json.loads((root / "omniglot_small/manifest.json").read_text())
    assert len(meta["drawings"]["test"]) == 5 and len(meta["drawings"]["valid"]) == 1
    datasets.prepare("omniglot_small", tmp_path, ARGS["omniglot_small"])
    assert json.loads((tmp_path / "omniglot_small/manifest.json").read_text()) == meta


def test_area_matrix_is_exact_area_averaging():
    a = omniglot.area_matrix(105, 28)
    assert np.allclose(a.sum(axis=1), 1) and np.allclose(a.sum(axis=0), 28 / 105)
    image = np.random.default_rng(0).random((105, 105))
    fine = image.repeat(4, 0).repeat(4, 1)  # 420 = 4 x 105 = 15 x 28: 15x15 blocks are the output pixels
    assert np.allclose(a @ image @ a.T, fine.reshape(28, 15, 28, 15).mean(axis=(1, 3)))


def test_checksum_table_covers_every_requested_file():
    requested = {(source, f) for raw in (mnist.RAW, omniglot.RAW) for source, files in raw.values() for f in files}
    pins = checksums()
    assert requested == {key for key in pins if key[0] != "cmu_mocap"}  # mocap: tests/test_mocap.py
    for key, pin in pins.items():
        digest_bytes = 20 if pin.sha256_of == "git_blob" else 32  # chardata.mat's git blob id: test_omniglot_pin.py
        assert pin.url.startswith("http") and len(bytes.fromhex(pin.sha256)) == digest_bytes, key


def _mirror_with(tmp_path: Path, source: str, file: str, data: bytes) -> Path:
    (tmp_path / "mirror" / source).mkdir(parents=True)
    (tmp_path / "mirror" / source / file).write_bytes(data)
    return tmp_path / "mirror"


def _flip(data: bytes) -> bytes:
    return data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]


@pytest.mark.fault("data")
@pytest.mark.parametrize("corrupt", [lambda d: d[:len(d) // 2], _flip], ids=["truncated", "flipped_byte"])
def test_corrupt_mirror_file_is_refused_and_not_cached(tmp_path, corrupt):
    mirror = _mirror_with(tmp_path, "mnist", LABELS, corrupt((MIRROR / "mnist" / LABELS).read_bytes()))
    with pytest.raises(DataError, match=rf"mnist/{LABELS} from the mirror {mirror}.*expected decompressed sha256 "
                                        f"{checksums()['mnist', LABELS].sha256}"):
        fetch("mnist", LABELS, tmp_path / "data", mirror)
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


@pytest.mark.fault("data")
def test_prepare_stops_at_a_corrupt_file_without_a_manifest(tmp_path):
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    for f in mnist.IDX:
        (mirror / f).symlink_to(MIRROR / "mnist" / f)
    (mirror / LABELS).unlink()
    (mirror / LABELS).write_bytes((MIRROR / "mnist" / LABELS).read_bytes()[:-100])
    with pytest.raises(DataError, match=LABELS):
        datasets.prepare("dynamic_mnist", tmp_path / "data", {"binarize_seed": 1, "mirror": str(mirror.parent)})
    assert not (tmp_path / "data/dynamic_mnist/manifest.json").exists()
    assert not (tmp_path / "data/mnist/raw" / LABELS).exists()


@pytest.mark.fault("data")
def test_corrupt_cache_is_replaced_from_the_mirror(tmp_path):
    cached = tmp_path / "data/mnist/raw" / LABELS
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a gzip file")
    content = fetch("mnist", LABELS, tmp_path / "data", MIRROR)
    assert cached.read_bytes() == (MIRROR / "mnist" / LABELS).read_bytes()
    assert content == gzip.decompress(cached.read_bytes())


def test_mirror_argument_beats_the_environment(tmp_path, monkeypatch):
    bad = _mirror_with(tmp_path, "mnist", LABELS, b"junk")
    monkeypatch.setenv(MIRROR_ENV, str(bad))
    fetch("mnist", LABELS, tmp_path / "a", MIRROR)
    with pytest.raises(DataError, match=f"from the mirror {bad}"):
        fetch("mnist", LABELS, tmp_path / "b")


def test_plain_amat_is_accepted_as_well_as_its_gz(tmp_path):
    file = "binarized_mnist_valid.amat"
    plain = gzip.decompress((MIRROR / "binarized_mnist" / f"{file}.gz").read_bytes())
    mirror = _mirror_with(tmp_path, "binarized_mnist", file, plain)
    assert fetch("binarized_mnist", file, tmp_path / "data", mirror) == plain
    assert (tmp_path / "data/binarized_mnist/raw" / file).read_bytes() == plain


class _Response(io.BytesIO):
    headers = {}


@pytest.mark.parametrize("good", [True, False])
def test_download_is_verified_before_it_is_cached(tmp_path, monkeypatch, good):
    data = (MIRROR / "mnist" / LABELS).read_bytes()
    served = data if good else _flip(data)
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: _Response(served))
    cached = tmp_path / "mnist/raw" / LABELS
    if good:
        fetch("mnist", LABELS, tmp_path)
        assert cached.read_bytes() == data
    else:
        with pytest.raises(DataError, match=f"from the download {checksums()['mnist', LABELS].url}"):
            fetch("mnist", LABELS, tmp_path)
        assert not cached.exists()


@pytest.mark.fault("data")
def test_missing_or_corrupt_processed_files_are_named(root, tmp_path):
    with pytest.raises(DataError, match="static_mnist.npz .* is missing; prepare it"):
        datasets.load("static_mnist", tmp_path, {})
    shutil.copytree(root / "omniglot_small", tmp_path / "omniglot_small", ignore=shutil.ignore_patterns("raw"))
    npz = tmp_path / "omniglot_small/omniglot_small.npz"
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(DataError, match="omniglot_small.npz does not match the sha256"):
        datasets.load("omniglot_small", tmp_path, ARGS["omniglot_small"])


def test_seeds_are_required(tmp_path):
    with pytest.raises(DataError, match="dynamic_mnist: args.binarize_seed must be an integer"):
        datasets.prepare("dynamic_mnist", tmp_path, {"mirror": str(MIRROR)})
