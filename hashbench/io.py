"""Atomic file writing and the on-disk formats of runs: nothing is half-written on failure."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from hashbench.errors import HashbenchError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cannot_write(path, exc: BaseException) -> HashbenchError:
    """One line naming the file a write failed on and why (read-only, disk full, ...)."""
    text = str(exc).strip()
    cause = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else type(exc).__name__)
    return HashbenchError(f"{path}: cannot write it ({cause})")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds, with
    the permissions the user's umask gives a new file (the temporary file itself is private). A
    write that fails (read-only folder, disk full) is one error naming ``path`` and the cause, and
    leaves neither file behind."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HashbenchError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HashbenchError(f"{path}: not valid JSON ({exc})") from None


def save_npz(path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_npz(path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays of an .npz file, with a clear error if it is missing or corrupt."""
    if os.path.exists(path) and not zipfile.is_zipfile(path):
        raise HashbenchError(f"{path}: not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise HashbenchError(f"{path}: missing array(s) {', '.join(missing)}; expected {', '.join(keys)}")
            return {k: data[k] for k in keys}
    except FileNotFoundError:
        raise HashbenchError(f"{path}: file not found") from None
    except HashbenchError:
        raise
    except Exception as exc:  # zipfile/pickle/format errors all mean the same to the user
        raise HashbenchError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None


def checksum(*arrays: np.ndarray) -> str:
    """sha256 over the dtype, shape and bytes of each array, in order."""
    digest = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        digest.update(f"{arr.dtype.str}{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def save_codes(path, query: np.ndarray, database: np.ndarray) -> None:
    """Store {-1,+1} codes bit-packed (bit set = +1)."""
    save_npz(path, query=np.packbits(query > 0, axis=1), database=np.packbits(database > 0, axis=1),
             n_bits=np.array(query.shape[1]))


def load_codes(path) -> tuple[np.ndarray, np.ndarray]:
    data = load_npz(path, ("query", "database", "n_bits"))
    n_bits = int(data["n_bits"])

    def unpack(packed):
        return np.where(np.unpackbits(packed, axis=1, count=n_bits) > 0, 1, -1).astype(np.int8)

    return unpack(data["query"]), unpack(data["database"])


def file_sha256(path) -> str:
    """sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
