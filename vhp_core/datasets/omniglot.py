"""OMNIGLOT datasets: Burda et al.'s 28x28 chardata (the paper's column) and a small real stand-in.

- `omniglot`: chardata.mat of Burda et al. (IWAE), loaded as their `datasets.py` does: each column
  is a 28x28 image stored column-major (transposed here to row-major), the 24,345 training images are
  shuffled with numpy RandomState(123) and the last 1,345 of them are the validation set; the 8,070
  test images are kept in order. Grey levels in [0, 1]; train is re-binarised every minibatch, valid
  and test once (seed `binarize_seed`). Labels: the alphabet index (argmax of `target`).
  The file's sha256 is not known here, so it is refused unless `chardata_sha256` is set (fetch.py).
- `omniglot_small`: Lake's images_background_small1/2 archives (8 distinct alphabets, 242 characters,
  4,840 drawings: Greek and Latin are in both archives and are taken once). The 105x105 1-bit PNGs
  (black ink on white) are inverted (ink = 1) and area-averaged to 28x28 (output pixel = mean over the
  3.75x3.75 input square it covers, fractional pixels weighted by overlap). The split is by drawing
  index: every character has drawings _01.._20; a permutation of the 20 indices seeded `split_seed`
  gives 5 test, 1 valid and 14 train indices, so every character is in every split and the model is
  tested on new drawings of seen characters, in about chardata's 3:1 train:test proportion.
  Labels: the alphabet index (alphabets sorted by name, listed in the manifest). This is a small
  subset with its own split: its numbers are NOT comparable to the paper's OMNIGLOT column.

Dataset args (workflow config `datasets.<name>.args`):
- `binarize_seed` (int, both): seed of the one-off valid/test binarisation (valid first).
- `split_seed` (int, omniglot_small): seed of the permutation of drawing indices.
- `chardata_sha256` (str, omniglot, optional): sha256 of chardata.mat, checked by you against a source
  you trust; without it the file is refused (no hash is pinned in data/checksums.tsv).
- `mirror` (str, optional, both): folder laid out like /work/shared/data to take the raw files from.
"""
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from PIL import Image  # installed with matplotlib

from vhp_core.datasets.base import DATASETS, DataError, DatasetSpec, Splits
from vhp_core.datasets.fetch import (
    binarize_once,
    fetch,
    load_processed,
    pinned,
    processed_files,
    required_arg,
    save_processed,
    start_prepare,
    to_splits,
)

RAW = {"omniglot": ("omniglot", ["chardata.mat"]),
       "omniglot_small": ("omniglot_small", ["images_background_small1.zip", "images_background_small2.zip"])}
"""The raw files each dataset fetches: dataset -> (source folder, files)."""
N_VALID, BURDA_SHUFFLE_SEED = 1345, 123
N_DRAWINGS, TEST_DRAWINGS, VALID_DRAWINGS = 20, 5, 1


def prepare_chardata(root: Path, args: dict[str, Any]) -> None:
    seed = required_arg(args, "binarize_seed", "omniglot")
    start_prepare(root, "omniglot")
    source, (file,) = RAW["omniglot"]
    sha256 = args.get("chardata_sha256")
    mat = scipy.io.loadmat(io.BytesIO(fetch(source, file, root, args.get("mirror"), sha256,
                                            sha256_key="datasets.omniglot.args.chardata_sha256")))
    missing = {"data", "testdata", "target", "testtarget"} - set(mat)
    if missing:
        raise DataError(f"{file} lacks the variables {sorted(missing)} of Burda et al.'s chardata.mat")
    x, x_test = (_row_major(mat[k]) for k in ("data", "testdata"))
    if (len(x), len(x_test)) != (24_345, 8_070):
        raise DataError(f"{file}: expected 24,345 train and 8,070 test images, got {len(x)} and {len(x_test)}")
    if min(x.min(), x_test.min()) < 0 or max(x.max(), x_test.max()) > 1:
        raise DataError(f"{file}: expected grey levels in [0, 1]")
    order = np.random.RandomState(BURDA_SHUFFLE_SEED).permutation(len(x))
    x, y = x[order], mat["target"].argmax(axis=0)[order]
    valid, test = binarize_once([x[-N_VALID:], x_test], seed)
    save_processed(root, "omniglot", {
        "train": x[:-N_VALID], "valid": valid, "test": test,
        "labels_train": y[:-N_VALID], "labels_valid": y[-N_VALID:], "labels_test": mat["testtarget"].argmax(axis=0),
    }, {"binarize_seed": seed, "sources": pinned(source, [file], sha256)})


def _row_major(columns: np.ndarray) -> np.ndarray:
    """(784, N) column-major 28x28 images -> (N, 784) float32 row-major (Burda's reshape with order='F')."""
    return columns.T.reshape(-1, 28, 28).transpose(0, 2, 1).reshape(-1, 784).astype(np.float32)


def load_chardata(root: Path, args: dict[str, Any]) -> Splits:
    identity = {"binarize_seed": required_arg(args, "binarize_seed", "omniglot"),
                "sources": pinned(*RAW["omniglot"], args.get("chardata_sha256"))}
    arrays = load_processed(root, "omniglot", identity)
    return to_splits(arrays, dynamic_binarization=True, labelled=True)


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: output pixel i averages input pixels j by their overlap with its span."""
    scale = n_in / n_out
    lo, hi = np.arange(n_out)[:, None] * scale, (np.arange(n_out)[:, None] + 1) * scale
    j = np.arange(n_in)[None, :]
    return np.clip(np.minimum(j + 1, hi) - np.maximum(j, lo), 0, None) / scale


def read_drawings(archives: list[bytes]) -> dict[tuple[str, str, int], np.ndarray]:
    """Ink masks (105, 105, ink = True) by (alphabet, character, drawing index), duplicates taken once."""
    drawings = {}
    for archive in archives:
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            for entry in z.namelist():
                if not entry.endswith(".png"):
                    continue
                _, alphabet, character, png = entry.split("/")
                key = (alphabet, character, int(png[-6:-4]))
                if key not in drawings:
                    drawings[key] = ~np.asarray(Image.open(io.BytesIO(z.read(entry))).convert("1"))
    return dict(sorted(drawings.items()))


def prepare_small(root: Path, args: dict[str, Any]) -> None:
    seed = required_arg(args, "binarize_seed", "omniglot_small")
    split_seed = required_arg(args, "split_seed", "omniglot_small")
    start_prepare(root, "omniglot_small")
    source, files = RAW["omniglot_small"]
    drawings = read_drawings([fetch(source, f, root, args.get("mirror")) for f in files])
    keys = list(drawings)
    ink = np.stack(list(drawings.values())).astype(np.float32)
    if ink.shape[1:] != (105, 105):
        raise DataError(f"{', '.join(files)}: expected 105x105 images, got {ink.shape[1:]}")
    a = area_matrix(105, 28)
    x = (a @ ink @ a.T).reshape(len(ink), 784)
    alphabets = sorted({k[0] for k in keys})
    y = np.array([alphabets.index(k[0]) for k in keys])
    index = np.array([k[2] for k in keys])
    order = np.random.default_rng(split_seed).permutation(np.arange(1, N_DRAWINGS + 1))
    test_idx, valid_idx = order[:TEST_DRAWINGS], order[TEST_DRAWINGS:TEST_DRAWINGS + VALID_DRAWINGS]
    parts = {"test": np.isin(index, test_idx), "valid": np.isin(index, valid_idx)}
    parts["train"] = ~(parts["test"] | parts["valid"])
    valid, test = binarize_once([x[parts["valid"]], x[parts["test"]]], seed)
    save_processed(root, "omniglot_small", {
        "train": x[parts["train"]], "valid": valid, "test": test,
        **{f"labels_{s}": y[m] for s, m in parts.items()},
    }, {"binarize_seed": seed, "split_seed": split_seed, "alphabets": alphabets,
        "drawings": {s: sorted(int(i) for i in ids) for s, ids in
                     (("test", test_idx), ("valid", valid_idx))},
        "sources": pinned(source, files)})


def load_small(root: Path, args: dict[str, Any]) -> Splits:
    identity = {k: required_arg(args, k, "omniglot_small") for k in ("binarize_seed", "split_seed")}
    identity["sources"] = pinned(*RAW["omniglot_small"])
    return to_splits(load_processed(root, "omniglot_small", identity), dynamic_binarization=True, labelled=True)


DATASETS["omniglot"] = DatasetSpec(prepare=prepare_chardata, load=load_chardata,
                                   files=lambda args: processed_files("omniglot"))
DATASETS["omniglot_small"] = DatasetSpec(prepare=prepare_small, load=load_small,
                                         files=lambda args: processed_files("omniglot_small"))
