"""OMNIGLOT datasets: Burda et al.'s 28x28 chardata (the paper's column) and a small real stand-in.

- `omniglot`: chardata.mat of Burda et al. (IWAE), from their repository yburda/iwae, accepted only with
  the git blob id pinned in vhp_core/datasets/checksums.tsv; the manifest records its sha256 (`sources_sha256`), so a
  run states which bytes it used. Loaded as their `datasets.py` does: each column is a 28x28 image stored
  column-major (transposed here to row-major), the training images are shuffled with numpy
  RandomState(123) and the last 1,345 of them are the validation set; the test images are kept in order.
  Grey levels in [0, 1]; train is re-binarised every minibatch, valid and test once (seed
  `binarize_seed`). Labels: the alphabet index (argmax of `target`, 0-based).
  The file holds 24,345 training and 8,070 test images (23,000 / 1,345 / 8,070 after the split), 32,415
  drawings: 45 short of 20 for each of Omniglot's 1,623 characters, because every character of one
  alphabet (row 19 of `target`, label 18 here; Glagolitic, reported in yburda/iwae issue #3) has 19.
  So nothing here assumes a number of drawings per character: the counts come from the file, and the
  manifest lists them as `drawings_per_character` ({alphabet: {drawings: characters}}, counted from
  `target` and `targetchar` over train and test together).
- `omniglot_small`: Lake's images_background_small1/2 archives (8 distinct alphabets, 242 characters,
  4,840 drawings: Greek and Latin are in both archives and are taken once). The 105x105 1-bit PNGs
  (black ink on white) are inverted (ink = 1) and area-averaged to 28x28 (output pixel = mean over the
  3.75x3.75 input square it covers, fractional pixels weighted by overlap). The split is by drawing
  index: every character has drawings _01.._20; a permutation of the drawing indices seeded `split_seed`
  gives 5 test, 1 valid and the other (14) train indices, so every character is in every split and the
  model is tested on new drawings of seen characters, in about chardata's 3:1 train:test proportion.
  Labels: the alphabet index (alphabets sorted by name, listed in the manifest). This is a small
  subset with its own split: its numbers are NOT comparable to the paper's OMNIGLOT column.

Dataset args (workflow config `datasets.<name>.args`):
- `binarize_seed` (int, both): seed of the one-off valid/test binarisation (valid first).
- `split_seed` (int, omniglot_small): seed of the permutation of drawing indices.
- `mirror` (str, optional, both): a mirror folder of the raw files, `<mirror>/<source>/<file>`.
"""
import hashlib
import io
import zipfile
from collections import Counter
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
    required_arg,
    save_processed,
    start_prepare,
    to_splits,
)

RAW = {"omniglot": ("omniglot", ["chardata.mat"]),
       "omniglot_small": ("omniglot_small", ["images_background_small1.zip", "images_background_small2.zip"])}
"""The raw files each dataset fetches: dataset -> (source folder, files)."""
N_VALID, BURDA_SHUFFLE_SEED = 1345, 123
TEST_DRAWINGS, VALID_DRAWINGS = 5, 1
CHARDATA_PARTS = {"train": ("data", "target", "targetchar"), "test": ("testdata", "testtarget", "testtargetchar")}
"""The variables of chardata.mat the loader reads: (images, one-hot alphabet, character index) per part."""


def prepare_chardata(root: Path, args: dict[str, Any]) -> None:
    """Verify chardata.mat, split it as Burda et al. do, save it with its sha256 and drawing counts."""
    seed = required_arg(args, "binarize_seed", "omniglot")
    start_prepare(root, "omniglot")
    source, (file,) = RAW["omniglot"]
    raw = fetch(source, file, root, args.get("mirror"))
    (x, y, character), (x_test, y_test, character_test) = read_chardata(raw, file)
    if len(x) <= N_VALID:
        raise DataError(f"{file}: {len(x)} training images, not more than the {N_VALID} held out for validation")
    order = np.random.RandomState(BURDA_SHUFFLE_SEED).permutation(len(x))
    drawings = drawings_per_character(np.concatenate([y, y_test]), np.concatenate([character, character_test]))
    x, y = x[order], y[order]
    valid, test = binarize_once([x[-N_VALID:], x_test], seed)
    save_processed(root, "omniglot", {
        "train": x[:-N_VALID], "valid": valid, "test": test,
        "labels_train": y[:-N_VALID], "labels_valid": y[-N_VALID:], "labels_test": y_test,
    }, {"binarize_seed": seed, "sources": pinned(source, [file]),
        "sources_sha256": {f"{source}/{file}": hashlib.sha256(raw).hexdigest()},
        "drawings_per_character": drawings})


def read_chardata(raw: bytes, file: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(row-major images, alphabet index, character index) of chardata.mat's train and test parts."""
    mat = scipy.io.loadmat(io.BytesIO(raw))
    missing = {k for keys in CHARDATA_PARTS.values() for k in keys} - set(mat)
    if missing:
        raise DataError(f"{file} lacks the variables {sorted(missing)} of Burda et al.'s chardata.mat")
    parts = []
    for part, (images, target, targetchar) in CHARDATA_PARTS.items():
        n = mat[images].shape[1]
        if mat[images].shape[0] != 784 or mat[target].shape[1] != n or mat[targetchar].size != n:
            raise DataError(f"{file}: {part} needs {images} (784, n), {target} (alphabets, n) and {targetchar} "
                            f"(n); got {mat[images].shape}, {mat[target].shape} and {mat[targetchar].shape}")
        x = _row_major(mat[images])
        if x.min() < 0 or x.max() > 1:
            raise DataError(f"{file}: expected grey levels in [0, 1] in {images}")
        parts.append((x, mat[target].argmax(axis=0), mat[targetchar].ravel().astype(np.int64)))
    return parts


def drawings_per_character(alphabet: np.ndarray, character: np.ndarray) -> dict[str, dict[str, int]]:
    """{alphabet: {drawings: how many of its characters have that many}}: counted, as chardata's vary."""
    pairs, drawings = np.unique(np.stack([alphabet, character]), axis=1, return_counts=True)
    table: dict[str, dict[str, int]] = {}
    for (a, n), characters in sorted(Counter(zip(pairs[0].tolist(), drawings.tolist(), strict=True)).items()):
        table.setdefault(str(a), {})[str(n)] = characters
    return table


def _row_major(columns: np.ndarray) -> np.ndarray:
    """(784, N) column-major 28x28 images -> (N, 784) float32 row-major (Burda's reshape with order='F')."""
    return columns.T.reshape(-1, 28, 28).transpose(0, 2, 1).reshape(-1, 784).astype(np.float32)


def load_chardata(root: Path, args: dict[str, Any]) -> Splits:
    identity = {"binarize_seed": required_arg(args, "binarize_seed", "omniglot"), "sources": pinned(*RAW["omniglot"])}
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
    order = np.random.default_rng(split_seed).permutation(np.unique(index))
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


DATASETS.register("omniglot")(DatasetSpec(prepare=prepare_chardata, load=load_chardata,
                                   args={"binarize_seed": None, "mirror": None},
                                   shape=lambda args: (24_345 - N_VALID, 8_070, 28 * 28)))
DATASETS.register("omniglot_small")(DatasetSpec(prepare=prepare_small, load=load_small,
                                         args={"binarize_seed": None, "split_seed": None, "mirror": None},
                                         shape=lambda args: (242 * (20 - TEST_DRAWINGS - VALID_DRAWINGS),
                                                             242 * TEST_DRAWINGS, 28 * 28)))
