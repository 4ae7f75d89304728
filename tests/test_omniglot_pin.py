"""Burda et al.'s chardata.mat pinned by its git blob id: the id, the accept/refuse of a copy, and the loader
on a small synthetic chardata.mat with one alphabet of 19 drawings per character (as in the real file)."""
import functools
import hashlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from vhp_core import datasets
from vhp_core.datasets import DataError
from vhp_core.datasets import fetch as fetch_module
from vhp_core.datasets.fetch import CHECKSUMS, MIRROR_ENV, checksums, fetch, git_blob_id
from vhp_core.runs.config import load_config

PINNED = "016a3536ffe5e1d38e42563a18d7a78bfaf643ec"  # the blob yburda/iwae lists as datasets/OMNIGLOT/chardata.mat
URL = "https://github.com/yburda/iwae/raw/master/datasets/OMNIGLOT/chardata.mat"
ALPHABETS = [(40, 20), (40, 19), (40, 20)]  # (characters, drawings of each): the second one short, as Burda's
TRAIN_DRAWINGS = 15  # of each character; its other drawings are test images
CONFIGS = Path(__file__).resolve().parent.parent / "workflow" / "config"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No mirror from the environment and no network: a download attempt fails at once."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)

    def no_network(url, timeout):
        raise OSError("no network in the tests")
    monkeypatch.setattr("urllib.request.urlopen", no_network)


@functools.cache
def synthetic_chardata() -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """A small chardata.mat (Burda's variables, 28x28 images stored column-major) and, for every drawing in
    the order the file lists train then test, its image (row-major), its alphabet and whether it is train."""
    labels = [(a, c + 1, d) for a, (characters, n) in enumerate(ALPHABETS) for c in range(characters) for d in range(n)]
    alphabet, character, drawing = np.array(labels).T
    images = np.random.default_rng(0).integers(0, 4, (len(labels), 28, 28)) / 4
    images[:, 0, :] = 1.0  # a bar along the top row: an image read transposed has it in column 0
    train = drawing < TRAIN_DRAWINGS
    mat = {}
    for prefix, part in (("", train), ("test", ~train)):
        mat[f"{prefix}data"] = images[part].reshape(part.sum(), -1, order="F").T
        mat[f"{prefix}target"] = np.eye(len(ALPHABETS))[alphabet[part]].T
        mat[f"{prefix}targetchar"] = character[part][None, :]
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, mat, do_compression=True)
    order = np.concatenate([np.flatnonzero(train), np.flatnonzero(~train)])
    return buffer.getvalue(), images[order], alphabet[order], train[order]


def pin_chardata(monkeypatch, tmp_path: Path, blob: str) -> None:
    """Use a copy of vhp_core/datasets/checksums.tsv in which chardata.mat's git blob id is `blob`."""
    table = tmp_path / "checksums.tsv"
    table.write_text(CHECKSUMS.read_text().replace(PINNED, blob))
    monkeypatch.setattr(fetch_module, "CHECKSUMS", table)


def mirror_with(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "mirror" / "omniglot").mkdir(parents=True)
    (tmp_path / "mirror" / "omniglot" / "chardata.mat").write_bytes(data)
    return tmp_path / "mirror"


def flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


def test_git_blob_id_of_known_contents():
    assert git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git's empty blob
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("data", [bytes(range(256)) * 3 + b"a\r\nb\r\n\x00", synthetic_chardata()[0]],
                         ids=["bytes_with_crlf_and_nul", "synthetic_chardata"])
def test_git_blob_id_agrees_with_git_hash_object(tmp_path, data):
    (tmp_path / "file").write_bytes(data)
    git = subprocess.run(["git", "hash-object", "--no-filters", "file"], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert git_blob_id(data) == git.stdout.strip()


def test_the_table_pins_burdas_chardata_by_its_git_blob_id():
    pin = checksums()["omniglot", "chardata.mat"]
    assert (pin.sha256_of, pin.sha256, pin.url) == ("git_blob", PINNED, URL)


@pytest.mark.parametrize(("kind", "pin", "error"), [
    ("git_blob", "ab" * 32, "a git_blob pin is 40 lowercase hex digits"),
    ("stored", "ab" * 20, "a stored pin is 64 lowercase hex digits"),
    ("git_blob", "", "a git_blob pin is 40"),
    ("git_blob", "AB" * 20, "a git_blob pin is 40 lowercase hex digits"),
    ("sha1", "ab" * 20, "sha256_of='sha1'; expected one of"),
])
def test_a_pin_of_the_wrong_kind_or_length_is_refused(tmp_path, kind, pin, error):
    table = tmp_path / "checksums.tsv"
    table.write_text(f"dataset\tfile\tsha256_of\tsha256\turl\nomniglot\tchardata.mat\t{kind}\t{pin}\t{URL}\n")
    with pytest.raises(DataError, match=re.escape(f"{table}: omniglot/chardata.mat has ") + ".*" + re.escape(error)):
        checksums(table)


class _Response(io.BytesIO):
    headers = {}


def provide(origin: str, data: bytes, folder: Path, monkeypatch) -> Path | None:
    """Offer `data` in a mirror under `folder` (returned) or as what the canonical URL serves (None)."""
    if origin == "download":
        monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: _Response(data))
        return None
    return mirror_with(folder, data)


@pytest.mark.fault("data")
@pytest.mark.parametrize("origin", ["mirror", "download"])
def test_a_copy_is_accepted_by_its_blob_id_and_refused_when_a_byte_flips(tmp_path, monkeypatch, origin):
    raw = synthetic_chardata()[0]
    blob, flipped = git_blob_id(raw), flip(raw)
    pin_chardata(monkeypatch, tmp_path, blob)
    mirror = provide(origin, raw, tmp_path / "a", monkeypatch)
    assert fetch("omniglot", "chardata.mat", tmp_path / "data", mirror) == raw
    assert (tmp_path / "data/omniglot/raw/chardata.mat").read_bytes() == raw
    mirror = provide(origin, flipped, tmp_path / "b", monkeypatch)
    where = f"the mirror {mirror / 'omniglot/chardata.mat'}" if mirror else f"the download {URL}"
    with pytest.raises(DataError, match=re.escape(f"omniglot/chardata.mat from {where} does not match its pinned git "
                                                  f"blob id: expected git blob id {blob}, got {git_blob_id(flipped)}")):
        fetch("omniglot", "chardata.mat", tmp_path / "other", mirror)
    assert not (tmp_path / "other/omniglot/raw/chardata.mat").exists()


def test_without_a_copy_the_error_names_the_file_and_its_url(tmp_path):
    with pytest.raises(DataError, match=r"chardata.mat is not available here .* and downloading "
                                        + re.escape(URL) + " failed: no network"):
        datasets.prepare("omniglot", tmp_path / "data", {"binarize_seed": 1, "mirror": str(tmp_path / "mirror")})
    assert not (tmp_path / "data/omniglot/manifest.json").exists()


def test_synthetic_chardata_through_prepare_and_load(tmp_path, monkeypatch):
    """Burda's split and orientation, an alphabet of 19 drawings per character, and the manifest's record."""
    raw, images, alphabet, train = synthetic_chardata()
    pin_chardata(monkeypatch, tmp_path, git_blob_id(raw))
    args = {"binarize_seed": 1, "mirror": str(mirror_with(tmp_path, raw))}
    datasets.prepare("omniglot", tmp_path / "data", args)
    s = datasets.load("omniglot", tmp_path / "data", args)
    n_train = int(train.sum())
    assert (len(s.train), len(s.valid), len(s.test)) == (n_train - 1345, 1345, len(train) - n_train)
    assert s.dynamic_binarization and s.image_shape == (28, 28)
    order = np.random.RandomState(123).permutation(n_train)
    assert np.array_equal(s.train.numpy().reshape(-1, 28, 28), images[:n_train][order[:-1345]].astype(np.float32))
    assert np.array_equal(s.labels["valid"], alphabet[:n_train][order[-1345:]])
    assert np.array_equal(s.labels["test"], alphabet[n_train:])
    manifest = json.loads((tmp_path / "data/omniglot/manifest.json").read_text())
    assert manifest["sources"] == {"omniglot/chardata.mat": git_blob_id(raw)}
    assert manifest["sources_sha256"] == {"omniglot/chardata.mat": hashlib.sha256(raw).hexdigest()}
    assert manifest["drawings_per_character"] == {str(a): {str(n): characters}
                                                  for a, (characters, n) in enumerate(ALPHABETS)}
    pin_chardata(monkeypatch, tmp_path, "0" * 40)
    with pytest.raises(DataError, match="prepared with sources=.*prepare it again"):
        datasets.load("omniglot", tmp_path / "data", args)


def test_table2_has_omniglot_by_default_and_the_smoke_scale_leaves_it_out():
    default = load_config(CONFIGS / "config.yaml")
    assert {"omniglot", "omniglot_small"} <= set(default["tables"]["table2"]["datasets"])
    assert default["datasets"]["omniglot"]["args"] == {"binarize_seed": 1}
    smoke = load_config(CONFIGS / "config.yaml", CONFIGS / "smoke.yaml")
    assert "omniglot" not in smoke["tables"]["table2"]["datasets"]
    quick = load_config(CONFIGS / "config.yaml", CONFIGS / "quick.yaml")
    assert quick["datasets"]["omniglot"]["training"]["epochs"] == 65
