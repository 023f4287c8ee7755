"""Atomic writes: nothing half-written, and files readable as the user's umask says."""

import errno
import json
import os
import stat
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from hashbench import io
from hashbench.errors import HashbenchError


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


@pytest.mark.parametrize("where, error", [
    ("write", OSError(errno.ENOSPC, "No space left on device")),   # the disk fills while writing
    ("create", OSError(errno.EROFS, "Read-only file system")),     # the folder cannot take a new file
])
def test_a_write_that_fails_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, monkeypatch, where, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(np if where == "write" else tempfile, "savez" if where == "write" else "mkstemp", fail)
    with pytest.raises(HashbenchError) as raised:
        io.save_codes(tmp_path / "run" / "codes.npz", np.ones((2, 8)), np.ones((3, 8)))
    assert str(raised.value) == f"{tmp_path / 'run' / 'codes.npz'}: cannot write it ({error.strerror})"
    assert list((tmp_path / "run").iterdir()) == []


def test_a_checkpoint_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from hashbench.deep import trainer

    def full_disk(*args, **kwargs):  # what torch's writer raises on a full disk
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 2048 vs 1984\nmore")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(HashbenchError, match=r"checkpoint.pt: cannot write it \(\[enforce fail at inline_container.cc:626\] "
                                             r"\. unexpected pos 2048 vs 1984\)$"):
        trainer._save_checkpoint(tmp_path / "checkpoint.pt", {})
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_names_a_file_it_cannot_write_in_one_line(digits_dir, cli_env):
    spec = json.dumps({"protocol": "digits", "method": "LSH", "bits": 8, "seed": 0, "params": {},
                       "protocol_def": {"features": "pixels"}})
    out = subprocess.run([sys.executable, "-m", "hashbench", "train", "--spec", spec, "--data", str(digits_dir),
                          "--out", "/proc/hashbench-run"], capture_output=True, text=True, env=cli_env)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["hashbench: error: /proc/hashbench-run/codes.npz: cannot write it (No such file or directory)"]
