"""File helpers at the edges: atomic writes (a kill never leaves a half-written result) and hashes."""
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class DiskFullError(OSError):
    """No space was left for a file; the message names it, says the previous version is intact and how much
    space the write needed."""


@contextmanager
def atomic_path(path: str | Path, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path` with the mode a plain
    open() would give (0666 less the umask: collaborators can read results), else delete it, so `path`
    is the old file or the new one, never part of one. `size`: bytes to be written, for the message of a
    full disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        kept = f"the previous {path.name} is intact" if path.exists() else f"no earlier {path.name} existed"
        needed = f"it needs about {size / 1e6:.1f} MB free" if size else "free some space"
        raise DiskFullError(errno.ENOSPC, f"no space left on the device while writing {path}: {kept}; "
                                          f"{needed} in {path.parent}, then rerun") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class NotWritableError(OSError):
    """A folder a job writes to refuses writes; raised before the job's work, so nothing computed is lost."""


def require_writable(folder: str | Path, what: str) -> None:
    """Create `folder` if needed and write and delete a file in it, so a read-only or full results folder
    stops a job before its work instead of at its last write; root ignores permission bits, so only a
    real write tells."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise NotWritableError(exc.errno, f"{folder} is not writable ({exc.strerror}): {what} writes there; make "
                                          f"it writable or free space there, then rerun; nothing was computed "
                                          f"or changed") from exc


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def publish_copy(source: str | Path, target: str | Path) -> None:
    """Copy a finished file to where readers look for it, atomically: `target` is the old file or the new one."""
    with atomic_path(target, size=Path(source).stat().st_size) as tmp:
        shutil.copyfile(source, tmp)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
