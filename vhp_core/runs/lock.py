"""One training at a time per run folder: a lock file naming its holder (PID, host, start), refreshed while
the holder trains. A second training of the same run stops with the holder named; a lock left by a process
that died (same host, PID gone) or that has not been refreshed for STALE_SECONDS (another host) is taken over."""
import json
import os
import socket
import time
from pathlib import Path

STALE_SECONDS = 1800
"""A lock not refreshed for this long is stale: the holder refreshes it at every log point
(an epoch's checkpoint follows its last log point)."""


class RunLockedError(RuntimeError):
    """Another process holds the run folder's lock; the message names it."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """The lock of one run folder, held from `acquire` to `release` (`refresh` keeps it fresh)."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / "work" / "lock"
        self.me = {"pid": os.getpid(), "host": socket.gethostname()}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({**self.me, "since": time.strftime("%Y-%m-%d %H:%M:%S")}, f)
            return
        raise RunLockedError(f"{self.path} could not be taken")

    def _take_over_if_stale(self) -> None:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return  # released meanwhile: try again
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            holder = {}
        if not holder and age < 10:  # created a moment ago and not yet written: held
            raise RunLockedError(f"{self.path.parent.parent} is being locked by another process right now; "
                                 f"retry in a moment (or delete {self.path} if no training of it runs)")
        same_host = holder.get("host") == self.me["host"]
        if holder and ((same_host and _alive(int(holder["pid"]))) or (not same_host and age < STALE_SECONDS)):
            raise RunLockedError(
                f"{self.path.parent.parent} is being trained by PID {holder['pid']} on {holder['host']} (since "
                f"{holder.get('since', '?')}); wait for it to finish or stop it. If that process is gone, delete "
                f"{self.path}")
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def refresh(self) -> None:
        try:
            os.utime(self.path)
        except FileNotFoundError:  # deleted by hand: write it again rather than stop the training
            self.path.write_text(json.dumps({**self.me, "since": time.strftime("%Y-%m-%d %H:%M:%S")}))

    def release(self) -> None:
        try:
            if json.loads(self.path.read_text()).get("pid") == self.me["pid"]:
                self.path.unlink()
        except (OSError, ValueError):
            pass
