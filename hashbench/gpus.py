"""How many CUDA GPUs this machine shows, without importing torch: the workflow asks while it builds
its job graph, so that deep jobs hold a ``gpu`` resource only where a GPU will run them; and
``nvidia_smi``, which that and a CUDA run's machine record (its driver) ask."""

from __future__ import annotations

import os
import shutil
import subprocess


def visible() -> int:
    """The CUDA GPUs a job started here may use: those ``nvidia-smi -L`` lists (none without
    nvidia-smi, or when it fails), at most as many as ``CUDA_VISIBLE_DEVICES`` names when it is set
    (empty or -1: none)."""
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    if mask is not None and (not mask.strip() or mask.strip().startswith("-1")):
        return 0
    listed = nvidia_smi("-L")
    if listed is None:
        return 0
    count = sum(line.startswith("GPU ") for line in listed.splitlines())
    return count if mask is None else min(count, len(mask.split(",")))


def nvidia_smi(*args: str) -> str | None:
    """What ``nvidia-smi ARGS`` prints, or None without nvidia-smi or when it fails."""
    path = shutil.which("nvidia-smi")
    if path is None:
        return None
    try:
        out = subprocess.run([path, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None
