"""Atomic writes: the file appears whole or not at all, with the mode the user's umask gives."""
import os
import shutil
import stat
import subprocess
import sys

import pytest

from vhp_core.io import atomic_path, write_json, write_text


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_take_the_umask_not_mkstemp_s_0600(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.md", "x")
        write_json(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old)
    for name in ("a.md", "b.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "c.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def can_mount_a_tmpfs() -> str | None:
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, text=True) if shutil.which("unshare") else None
    if probe is None:
        return "unshare is not installed"
    return None if probe.returncode == 0 else f"cannot mount a tmpfs in a private namespace: {probe.stderr.strip()}"


@pytest.mark.fault("disk")
@pytest.mark.skipif(can_mount_a_tmpfs() is not None, reason=str(can_mount_a_tmpfs()))
def test_a_full_disk_names_the_file_keeps_the_previous_one_and_says_how_much_is_needed(tmp_path):
    """A checkpoint too big for a 256 kB tmpfs, over a small earlier one: the earlier one survives intact."""
    folder = tmp_path / "small"
    folder.mkdir()
    script = (
        "import torch\n"
        "from vhp_core.runs import checkpoints\n"
        f"path = '{folder}/checkpoint.pt'\n"
        "checkpoints.save({'w': torch.zeros(10)}, path)\n"
        "before = open(path, 'rb').read()\n"
        "try:\n"
        "    checkpoints.save({'w': torch.zeros(200_000)}, path)\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "assert open(path, 'rb').read() == before\n"
        "assert checkpoints.load(path, 'cpu', 'redo')['w'].shape == (10,)\n"
        f"import os; print(sorted(os.listdir('{folder}')))\n"
    )
    run = subprocess.run(["unshare", "--mount", "sh", "-c",
                          f"mount -t tmpfs -o size=256k tmpfs {folder} && {sys.executable} -c \"$0\"", script],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (f"DiskFullError [Errno 28] no space left on the device while writing {folder}/checkpoint.pt: the "
            f"previous checkpoint.pt is intact; it needs about 0.8 MB free in {folder}, then rerun") in run.stdout
    assert run.stdout.strip().endswith("['checkpoint.pt']")  # no temporary file left behind
