"""Atomic writes: nothing half-written, and files readable as the user's umask says."""

import os
import stat

import pytest

from hashbench import io


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        io.write_json(tmp_path / "run.json", {"a": 1})
        io.save_npz(tmp_path / "codes.npz", x=[1])
    finally:
        os.umask(old)
    for name in ("run.json", "codes.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    with pytest.raises(RuntimeError):
        with io.atomic_path(tmp_path / "table1.csv") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
