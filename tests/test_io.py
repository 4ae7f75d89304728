"""Atomic writes: the file appears whole or not at all, with the mode the user's umask gives."""
import os
import stat

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
