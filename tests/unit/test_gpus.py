"""The workflow's GPU question (hashbench/gpus.py), with a stand-in nvidia-smi on PATH."""

import os

import pytest

from conftest import fake_nvidia_smi
from hashbench import gpus


TWO = "GPU 0: NVIDIA H100 (UUID: GPU-a)\\nGPU 1: NVIDIA H100 (UUID: GPU-b)\\n"


@pytest.mark.parametrize("mask, output, code, expected", [
    (None, TWO, 0, 2),
    ("1", TWO, 0, 1),            # CUDA_VISIBLE_DEVICES names one of them
    ("", TWO, 0, 0),             # hides them all
    ("-1", TWO, 0, 0),
    (None, "No devices were found\\n", 6, 0),
    (None, "", 0, 0),
])
def test_visible_counts_the_gpus_nvidia_smi_lists(tmp_path, monkeypatch, mask, output, code, expected):
    fake_nvidia_smi(tmp_path, output, code)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    if mask is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", mask)
    assert gpus.visible() == expected


def test_no_nvidia_smi_no_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpus.visible() == 0
