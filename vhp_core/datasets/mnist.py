"""MNIST-family datasets of the paper's Table 2: dynamic MNIST, Fashion-MNIST and static MNIST.

- `dynamic_mnist`, `fashion_mnist`: grey levels / 255 from the IDX files. Train = the first 50,000 of
  the 60,000 training images (re-binarised every minibatch by the training loop), valid = the last
  10,000, test = the 10,000 test images; valid and test are binarised once (torch.bernoulli, one
  generator seeded `binarize_seed`, valid first) so that evaluation is deterministic. Labels kept.
- `static_mnist`: Larochelle & Murray's binarised .amat files, 50,000 / 10,000 / 10,000, used as they
  are (no labels exist; the rows are not in MNIST order).

Dataset args (workflow config `datasets.<name>.args`):
- `binarize_seed` (int, dynamic_mnist and fashion_mnist): seed of the one-off valid/test binarisation.
- `mirror` (str, optional, all): a mirror folder of the raw files, `<mirror>/<source>/<file>`;
  else the environment variable VHP_DATA_MIRROR, else the canonical URLs (see fetch.py).
"""
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

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

IDX = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
       "t10k-labels-idx1-ubyte.gz"]
AMAT = [f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test")]
RAW = {"dynamic_mnist": ("mnist", IDX), "fashion_mnist": ("fashion_mnist", IDX),
       "static_mnist": ("binarized_mnist", AMAT)}
"""The raw files each dataset fetches: dataset -> (source folder, files)."""
N_TRAIN = 50_000


def parse_idx(content: bytes, name: str) -> np.ndarray:
    """An IDX file (uint8 data) as an array of the shape its header gives."""
    if content[:3] != b"\x00\x00\x08":
        raise DataError(f"{name} is not an IDX file of unsigned bytes (header {content[:4].hex()})")
    ndim = content[3]
    shape = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(content, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def parse_amat(content: bytes, name: str) -> np.ndarray:
    """A Larochelle .amat file (rows of 784 digits 0/1 separated by single spaces) as a bool array (N, 784)."""
    rows = np.frombuffer(content, np.uint8).reshape(-1, 2 * 784)
    if not ((rows[:, 1:-1:2] == ord(" ")).all() and (rows[:, -1] == ord("\n")).all()
            and ((rows[:, ::2] | 1) == ord("1")).all()):  # '0' or '1'
        raise DataError(f"{name} is not in the .amat layout of 784 space-separated 0/1 digits per line")
    return rows[:, ::2] == ord("1")


def prepare_grey(root: Path, args: dict[str, Any], name: str) -> None:
    """dynamic_mnist / fashion_mnist: grey train, valid/test binarised once, labels."""
    source, files = RAW[name]
    seed = required_arg(args, "binarize_seed", name)
    start_prepare(root, name)
    x, y, x_test, y_test = (parse_idx(fetch(source, f, root, args.get("mirror")), f) for f in files)
    if x.shape != (60_000, 28, 28) or x_test.shape != (10_000, 28, 28):
        raise DataError(f"{source}: expected 60,000 + 10,000 images of 28x28, got {x.shape} and {x_test.shape}")
    valid, test = binarize_once([x[N_TRAIN:], x_test], seed)
    y, y_test = y.astype(np.int64), y_test.astype(np.int64)
    save_processed(root, name, {
        "train": x[:N_TRAIN], "valid": valid, "test": test,
        "labels_train": y[:N_TRAIN], "labels_valid": y[N_TRAIN:], "labels_test": y_test,
    }, {"binarize_seed": seed, "sources": pinned(source, files)})


def load_grey(root: Path, args: dict[str, Any], name: str) -> Splits:
    identity = {"binarize_seed": required_arg(args, "binarize_seed", name), "sources": pinned(*RAW[name])}
    arrays = load_processed(root, name, identity)
    return to_splits(arrays, dynamic_binarization=True, labelled=True)


def prepare_static(root: Path, args: dict[str, Any]) -> None:
    source, files = RAW["static_mnist"]
    start_prepare(root, "static_mnist")
    train, valid, test = (parse_amat(fetch(source, f, root, args.get("mirror")), f) for f in files)
    if (len(train), len(valid), len(test)) != (50_000, 10_000, 10_000):
        raise DataError(f"{source}: expected 50,000 / 10,000 / 10,000 rows, got {len(train)} / {len(valid)} / "
                        f"{len(test)}")
    save_processed(root, "static_mnist", {"train": train, "valid": valid, "test": test},
                   {"sources": pinned(source, files)})


def load_static(root: Path, args: dict[str, Any]) -> Splits:
    arrays = load_processed(root, "static_mnist", {"sources": pinned(*RAW["static_mnist"])})
    return to_splits(arrays, dynamic_binarization=False, labelled=False)


for _name in ("dynamic_mnist", "fashion_mnist"):
    DATASETS.register(_name)(DatasetSpec(prepare=partial(prepare_grey, name=_name), load=partial(load_grey, name=_name),
                                  args={"binarize_seed": None, "mirror": None},
                                  shape=lambda args: (N_TRAIN, 10_000, 784)))
DATASETS.register("static_mnist")(DatasetSpec(prepare=prepare_static, load=load_static, args={"mirror": None},
                                       shape=lambda args: (N_TRAIN, 10_000, 784)))
