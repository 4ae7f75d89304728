"""Verified data files: raw files pinned by sha256 in data/checksums.tsv, and the processed splits.

`fetch` resolves a raw file from, in order, the data cache `root/<source>/raw/<file>`, a mirror folder
laid out like the cache without `raw/` (`<mirror>/<source>/<file>`, from the `mirror` argument or else
the environment variable VHP_DATA_MIRROR) and the canonical URL. Every copy is hashed before use; only
bytes that matched are written to the cache (atomically), so nothing corrupt is cached or trained on.

`sha256_of` in the table says what a pin is the hash of: `stored` (the file's bytes), `gunzip` (its
decompressed bytes: mirrors recompress .gz files, which changes their bytes but not their content) or
`lf` (its bytes with every CRLF replaced by LF: text files whose upstream copy has CRLF line endings
and whose mirror copy LF; the content returned is the LF text).
A `stored` pin of a plain file also accepts `<file>.gz` from a cache or mirror holding the same bytes.
An empty pin means the hash is not known here; such a file is refused unless the caller passes one.

`save_processed` / `load_processed` keep one dataset's arrays in `root/<name>/<name>.npz` with a
manifest.json (written last: the workflow's marker) listing the npz's sha256, the sources and the args;
loading checks both against the config and the pins, so a changed pin or arg asks for a new prepare.
"""
import csv
import gzip
import hashlib
import json
import logging
import os
import sys
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhp_core.datasets.base import DataError, Splits
from vhp_core.io import atomic_path, sha256_file, write_json

CHECKSUMS = Path(__file__).resolve().parents[2] / "data" / "checksums.tsv"
MIRROR_ENV = "VHP_DATA_MIRROR"
TIMEOUT = 60  # seconds without data before a download gives up
SHA256_OF = ("stored", "gunzip", "lf")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pin:
    """One row of data/checksums.tsv."""

    source: str
    file: str
    sha256_of: str
    sha256: str
    url: str


def checksums(path: Path = CHECKSUMS) -> dict[tuple[str, str], Pin]:
    """The pinned files by (source, file); lines starting with '#' are comments."""
    if not path.exists():
        raise DataError(f"the checksum table {path} is missing; it ships with the repository (git checkout it)")
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    pins = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        pin = Pin(row["dataset"], row["file"], row["sha256_of"], row["sha256"] or "", row["url"])
        if pin.sha256_of not in SHA256_OF:
            raise DataError(f"{path}: {pin.source}/{pin.file} has sha256_of={pin.sha256_of!r}; "
                            f"expected one of {', '.join(map(repr, SHA256_OF))}")
        pins[pin.source, pin.file] = pin
    return pins


def fetch(source: str, file: str, root: Path, mirror: str | Path | None = None, sha256: str | None = None,
          sha256_key: str = "sha256") -> bytes:
    """The verified content of a pinned file (decompressed when the pin is of the gunzipped bytes).

    `sha256` supplies the hash of a file whose pin is empty (it never replaces a pin); `sha256_key` names
    where the user sets it, for the error message.
    """
    pin = checksums().get((source, file))
    if pin is None:
        raise DataError(f"{source}/{file} has no row in {CHECKSUMS}; add its sha256 and canonical URL there")
    if pin.sha256 and sha256 and sha256 != pin.sha256:
        raise DataError(f"{source}/{file}: {sha256_key}={sha256} differs from the sha256 pinned in {CHECKSUMS} "
                        f"({pin.sha256}); remove {sha256_key} or fix the table")
    expected = pin.sha256 or sha256
    if mirror is None and os.environ.get(MIRROR_ENV):
        mirror = os.environ[MIRROR_ENV]
    places = [root / source / "raw"] + ([Path(mirror) / source] if mirror else [])
    names = [file] + ([f"{file}.gz"] if pin.sha256_of == "stored" and not file.endswith(".gz") else [])
    if not expected:
        found = [str(p / n) for p in places for n in names if (p / n).exists()]
        where = f"A copy is at {found[0]}" if found else f"It is not available here (looked in {_listed(places)})"
        raise DataError(f"{source}/{file}: no sha256 is pinned in {CHECKSUMS}, so it cannot be verified and is "
                        f"refused. {where}. Get it from {pin.url}, check it against a source you trust and set "
                        f"{sha256_key} to its sha256")
    cache = places[0]
    for name in names:
        if (cache / name).exists():
            try:
                return _verified(pin, name, (cache / name).read_bytes(), expected, f"the cache {cache / name}")
            except DataError as err:
                log.warning("%s; fetching it again", err)
    for place in places[1:]:
        for name in names:
            if (place / name).exists():
                data = (place / name).read_bytes()
                content = _verified(pin, name, data, expected, f"the mirror {place / name}")
                _write(cache / name, data)
                return content
    data = _download(pin.url, file, places)
    content = _verified(pin, file, data, expected, f"the download {pin.url}")
    _write(cache / file, data)
    return content


def _listed(places: list[Path]) -> str:
    return " and ".join(map(str, places)) + ("" if len(places) > 1 else f"; no mirror is set ({MIRROR_ENV})")


def pinned(source: str, files: list[str], sha256: str | None = None) -> dict[str, str]:
    """{"source/file": the sha256 it was verified against}, for a manifest (`sha256` as in `fetch`)."""
    pins = checksums()
    return {f"{source}/{f}": pins[source, f].sha256 or sha256 for f in files}


def _verified(pin: Pin, name: str, data: bytes, expected: str, origin: str) -> bytes:
    """The content `data` stands for, if its sha256 is `expected`; else DataError naming file and origin."""
    content = data.replace(b"\r\n", b"\n") if pin.sha256_of == "lf" else data
    if pin.sha256_of == "gunzip" or name != pin.file:
        try:
            content = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{pin.source}/{name} from {origin} is not a valid gzip file (truncated or corrupt: "
                            f"{err}); expected decompressed sha256 {expected}. Replace or remove that copy") from err
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        what = "CRLF-to-LF " if pin.sha256_of == "lf" else "decompressed " if content is not data else ""
        raise DataError(f"{pin.source}/{name} from {origin} does not match its pinned sha256: expected {what}"
                        f"sha256 {expected}, got {actual}. Replace or remove that copy")
    return content


def _write(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _download(url: str, file: str, places: list[Path]) -> bytes:
    """The bytes at `url`, with a progress line on stderr."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            total = int(response.headers.get("Content-Length") or 0)
            chunks, done = [], 0
            while chunk := response.read(1 << 20):
                chunks.append(chunk)
                done += len(chunk)
                print(f"\rdownloading {url}: {done / 1e6:.1f}" + (f"/{total / 1e6:.1f}" if total else "") + " MB",
                      end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
    except OSError as err:
        raise DataError(f"{file} is not available here (looked in {_listed(places)}) and downloading {url} "
                        f"failed: {err}. Put the file in one of those folders and prepare again") from err
    return b"".join(chunks)


def processed_files(name: str) -> list[str]:
    """The files `save_processed` writes under the data root for dataset `name`."""
    return [f"{name}/{name}.npz", f"{name}/manifest.json"]


def start_prepare(root: Path, name: str) -> None:
    """Remove the old marker first, so that a prepare that fails half-way leaves no manifest behind."""
    (root / name / "manifest.json").unlink(missing_ok=True)


def save_processed(root: Path, name: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write the arrays to root/<name>/<name>.npz, then the manifest (arrays' sha256 + `meta`) last."""
    npz, manifest = (root / f for f in processed_files(name))
    with atomic_path(npz) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    write_json(manifest, {**meta, "dataset": name, "files": {npz.name: sha256_file(npz)}})


def load_processed(root: Path, name: str, identity: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of root/<name>/<name>.npz after checking its sha256 and that it was made with `identity`."""
    npz, manifest = (root / f for f in processed_files(name))
    if not npz.exists() or not manifest.exists():
        raise DataError(f"{npz} (or its {manifest.name}) is missing; prepare it with "
                        f"`python -m vhp_core prepare --dataset {name}` or the workflow rule prepare_data")
    meta = json.loads(manifest.read_text())
    differ = [f"{k}={meta.get(k)} (now {v})" for k, v in identity.items() if meta.get(k) != v]
    if differ:
        raise DataError(f"{npz} was prepared with {'; '.join(differ)} by the dataset args or the pins in "
                        f"{CHECKSUMS.name}; prepare it again")
    if sha256_file(npz) != meta["files"][npz.name]:
        raise DataError(f"{npz} does not match the sha256 in {manifest} (corrupt or truncated); prepare it again")
    with np.load(npz) as f:
        return dict(f)


def binarize_once(grey: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Bernoulli(grey level) samples for each array in turn from one generator seeded `seed` (bool arrays)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.bernoulli(torch.from_numpy(_as_float(x)), generator=generator).numpy().astype(bool)
            for x in grey]


def _as_float(x: np.ndarray) -> np.ndarray:
    """float32 in [0, 1]: bool as 0/1, uint8 as grey levels / 255, float as is."""
    return (x.astype(np.float32) / 255.0) if x.dtype == np.uint8 else x.astype(np.float32)


def to_splits(arrays: dict[str, np.ndarray], dynamic_binarization: bool, labelled: bool) -> Splits:
    """Splits of 28x28 images from the arrays train/valid/test (and labels_<split> when `labelled`)."""
    names = ("train", "valid", "test")
    return Splits(*(torch.from_numpy(_as_float(arrays[s]).reshape(len(arrays[s]), 784)) for s in names),
                  image_shape=(28, 28), dynamic_binarization=dynamic_binarization,
                  labels={s: arrays[f"labels_{s}"] for s in names} if labelled else None)


def required_arg(args: dict[str, Any], key: str, dataset: str) -> int:
    """An integer dataset arg that must be present (seeds: they decide the data's bytes)."""
    if not isinstance(args.get(key), int):
        raise DataError(f"dataset {dataset}: args.{key} must be an integer (got {args.get(key)!r})")
    return args[key]
