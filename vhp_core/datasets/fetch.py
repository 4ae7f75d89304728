"""Verified data files: raw files pinned in vhp_core/datasets/checksums.tsv, and the processed splits.

`fetch` resolves a raw file from, in order, the data cache `root/<source>/raw/<file>`, a mirror folder
laid out like the cache without `raw/` (`<mirror>/<source>/<file>`, from the `mirror` argument or else
the environment variable VHP_DATA_MIRROR) and the canonical URL. Every copy is hashed before use; only
bytes that matched are written to the cache (atomically), so nothing corrupt is cached or trained on.

`sha256_of` in the table says what a pin is: the sha256 of `stored` (the file's bytes), `gunzip` (its
decompressed bytes: mirrors recompress .gz files, which changes their bytes but not their content) or
`lf` (its bytes with every CRLF replaced by LF: text files whose upstream copy has CRLF line endings
and whose mirror copy LF; the content returned is the LF text); or `git_blob`: the file's git blob id
(sha1 of b"blob <size>\\0" + its bytes), the id its upstream git repository lists it under, for a file
whose bytes could not be hashed here but whose repository tree could be read.
A `stored` pin of a plain file also accepts `<file>.gz` from a cache or mirror holding the same bytes.
Every row carries a pin of its kind's length (64 hex digits, 40 for `git_blob`), checked on reading.

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

CHECKSUMS = Path(__file__).with_name("checksums.tsv")
MIRROR_ENV = "VHP_DATA_MIRROR"
TIMEOUT = 60  # seconds without data before a download gives up
PIN_HEX_DIGITS = {"stored": 64, "gunzip": 64, "lf": 64, "git_blob": 40}
"""The kinds of pin (column `sha256_of`) and the length of each one's hex digest."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pin:
    """One row of vhp_core/datasets/checksums.tsv."""

    source: str
    file: str
    sha256_of: str
    sha256: str
    url: str


def checksums(path: Path | None = None) -> dict[tuple[str, str], Pin]:
    """The pinned files by (source, file) of `path` (default CHECKSUMS); lines starting with '#' are comments."""
    path = path or CHECKSUMS
    if not path.exists():
        raise DataError(f"the checksum table {path} is missing; it ships with the repository (git checkout it)")
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    pins = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        pin = Pin(row["dataset"], row["file"], row["sha256_of"], row["sha256"] or "", row["url"])
        _check_pin(path, pin)
        pins[pin.source, pin.file] = pin
    return pins


def _check_pin(path: Path, pin: Pin) -> None:
    """DataError unless the row names a known kind of pin and carries a hex digest of that kind's length."""
    where = f"{path}: {pin.source}/{pin.file}"
    if pin.sha256_of not in PIN_HEX_DIGITS:
        raise DataError(f"{where} has sha256_of={pin.sha256_of!r}; "
                        f"expected one of {', '.join(map(repr, PIN_HEX_DIGITS))}")
    digits = PIN_HEX_DIGITS[pin.sha256_of]
    if len(pin.sha256) != digits or not all(c in "0123456789abcdef" for c in pin.sha256):
        raise DataError(f"{where} has the pin {pin.sha256!r}; a {pin.sha256_of} pin is {digits} lowercase hex digits")


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes: sha1 of b"blob <size>\\0" followed by the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def fetch(source: str, file: str, root: Path, mirror: str | Path | None = None) -> bytes:
    """The verified content of a pinned file (decompressed when the pin is of the gunzipped bytes)."""
    pin = checksums().get((source, file))
    if pin is None:
        raise DataError(f"{source}/{file} has no row in {CHECKSUMS}; add its pin and canonical URL there")
    if mirror is None and os.environ.get(MIRROR_ENV):
        mirror = os.environ[MIRROR_ENV]
    places = [root / source / "raw"] + ([Path(mirror) / source] if mirror else [])
    names = [file] + ([f"{file}.gz"] if pin.sha256_of == "stored" and not file.endswith(".gz") else [])
    cache = places[0]
    for name in names:
        if (cache / name).exists():
            try:
                return _verified(pin, name, (cache / name).read_bytes(), f"the cache {cache / name}")
            except DataError as err:
                log.warning("%s; fetching it again", err)
    for place in places[1:]:
        for name in names:
            if (place / name).exists():
                data = (place / name).read_bytes()
                content = _verified(pin, name, data, f"the mirror {place / name}")
                _write(cache / name, data)
                return content
    data = _download(pin.url, file, places)
    content = _verified(pin, file, data, f"the download {pin.url}")
    _write(cache / file, data)
    return content


def _listed(places: list[Path]) -> str:
    return " and ".join(map(str, places)) + ("" if len(places) > 1 else f"; no mirror is set ({MIRROR_ENV})")


def pinned(source: str, files: list[str]) -> dict[str, str]:
    """{"source/file": its pin}, for a manifest: what each raw file was verified against."""
    pins = checksums()
    return {f"{source}/{f}": pins[source, f].sha256 for f in files}


def _verified(pin: Pin, name: str, data: bytes, origin: str) -> bytes:
    """The content `data` stands for, if it matches the pin; else DataError naming file, origin and both hashes."""
    content = _content(pin, name, data, origin)
    kind, actual = (("git blob id", git_blob_id(data)) if pin.sha256_of == "git_blob"
                    else ("sha256", hashlib.sha256(content).hexdigest()))
    if actual != pin.sha256:
        what = "CRLF-to-LF " if pin.sha256_of == "lf" else "decompressed " if content is not data else ""
        raise DataError(f"{pin.source}/{name} from {origin} does not match its pinned {kind}: expected {what}"
                        f"{kind} {pin.sha256}, got {actual}. Replace or remove that copy")
    return content


def _content(pin: Pin, name: str, data: bytes, origin: str) -> bytes:
    """What the pin is the sha256 of: the LF text (`lf`), the gunzipped bytes (`gunzip`, `<file>.gz`) or `data`."""
    if pin.sha256_of == "lf":
        return data.replace(b"\r\n", b"\n")
    if pin.sha256_of != "gunzip" and name == pin.file:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{pin.source}/{name} from {origin} is not a valid gzip file (truncated or corrupt: "
                        f"{err}); expected decompressed sha256 {pin.sha256}. Replace or remove that copy") from err


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
                        f"`vhp-bench prepare --dataset {name}` or the workflow rule prepare_data")
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
