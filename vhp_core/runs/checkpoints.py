"""Checkpoint and model files that prove their own integrity: each carries a sha256 of its content (every
tensor's bytes, dtype and shape, and every other value), written with it and checked when it is read, so
flipped bytes inside tensor data, which torch loads without complaint, stop the run with the file named."""
import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from vhp_core.io import atomic_path

DIGEST = "sha256"


class CheckpointError(RuntimeError):
    """A checkpoint or model file is missing, unreadable or not what was written."""


def content_digest(state: Any) -> str:
    """sha256 of a nested structure of dicts, lists, tensors and plain values, independent of the device."""
    h = hashlib.sha256()

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            h.update(b"{")
            for key in sorted(value, key=repr):
                h.update(repr(key).encode())
                walk(value[key])
            h.update(b"}")
        elif isinstance(value, list | tuple):
            h.update(b"[")
            for item in value:
                walk(item)
            h.update(b"]")
        else:
            h.update(repr(value).encode())

    walk(state)
    return h.hexdigest()


def save(state: dict[str, Any], path: str | Path) -> None:
    """Write `state` with its digest, atomically. Serialised in memory first, so that a full disk raises
    the atomic writer's clear error rather than torch's, and the previous file stays intact."""
    buffer = io.BytesIO()
    torch.save({**state, DIGEST: content_digest(state)}, buffer)
    with atomic_path(path, size=buffer.getbuffer().nbytes) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def load(path: str | Path, device: str | torch.device, redo: str) -> dict[str, Any]:
    """Read a file written by `save` onto `device` and check its digest; `redo` says how to recover
    (named in the error). Files from before digests were stored are read unchecked."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing; {redo}")
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged zip
        raise CheckpointError(f"{path} is not a readable checkpoint ({exc}); {redo}") from exc
    stored = state.pop(DIGEST, None)
    if stored is not None and stored != content_digest(state):
        raise CheckpointError(f"{path} does not hold what was written (its content no longer matches the sha256 "
                              f"stored in it: the file is corrupt); {redo}")
    return state
