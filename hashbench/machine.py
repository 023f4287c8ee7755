"""Where a run ran: the machine record stored in run.json and its short key in metrics.csv.

Codes are bit-identical only for the same CPU instruction set, thread count and library versions
(docs/metrics.md: Reproducibility): kernels differ between AVX2, AVX-512 and ARM, and training amplifies the
last-bit differences. ``record`` writes down what decides that:

  cpu           the CPU model (``/proc/cpuinfo``; else ``platform.processor()``) and architecture
  isa           the kernel level torch's CPU dispatch picks on this CPU ("AVX512", "AVX2",
                "DEFAULT"; ARM: the architecture), from the CPU's flags and ``ATEN_CPU_CAPABILITY``,
                read without importing torch (shallow jobs never load it)
  torch_cpu_capability   ``torch.backends.cpu.get_cpu_capability()``, where torch was loaded
  env           the variables that change which kernels run (DNNL_MAX_CPU_ISA, ATEN_CPU_CAPABILITY,
                OPENBLAS_CORETYPE, MKL_ENABLE_INSTRUCTIONS, CUBLAS_WORKSPACE_CONFIG), where set
  threads       the job's CPU threads
  versions      python, torch, torchvision, numpy, scipy, scikit-learn, numba (None: not installed)
  blas          the BLAS libraries numpy and scipy loaded (threadpoolctl: library, version, kernel)
  cuda          on a CUDA device: its name and compute capability, the driver, CUDA and cuDNN
                versions, TF32 and determinism flags, the ops without a deterministic kernel that
                ran (``hashbench.deep.trainer``); absent on CPU
  key           8 hex digits over cpu, isa, env, threads, versions and cuda's device and versions:
                runs with the same key ran where codes are expected to be bit-identical
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from hashbench.settings import digest

PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "numba")
KERNEL_VARIABLES = ("DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "MKL_ENABLE_INSTRUCTIONS",
                    "CUBLAS_WORKSPACE_CONFIG")
# torch's x86 dispatch levels (aten/src/ATen/native/DispatchStub.cpp) and the CPU flags each needs
_ISA_FLAGS = (("AVX512", {"avx512f", "avx512bw", "avx512vl", "avx512dq"}), ("AVX2", {"avx2", "fma"}))


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    info = _cpuinfo()
    return info.get("model name") or info.get("Model") or platform.processor() or platform.machine()


def isa() -> str:
    """The CPU kernel level torch dispatches to here (see the module docstring)."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return machine
    flags = set(_cpuinfo().get("flags", "").split())
    levels = [name for name, needed in _ISA_FLAGS if needed <= flags] + ["DEFAULT"]
    forced = os.environ.get("ATEN_CPU_CAPABILITY", "").upper()
    order = [name for name, _ in _ISA_FLAGS] + ["DEFAULT"]
    if forced in order:  # torch honours a lower level than the CPU offers, never a higher one
        levels = [name for name in levels if order.index(name) >= order.index(forced)]
    return levels[0]


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def blas() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [{k: pool.get(k) for k in ("internal_api", "version", "architecture")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def cuda(device: str, nondeterministic: list[str] | None = None) -> dict | None:
    """The CUDA part of the record for a run on ``device`` (None unless it is a CUDA device)."""
    if not str(device).startswith("cuda") or "torch" not in sys.modules:
        return None
    import torch

    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    return {
        "device_name": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "driver": _driver_version(index),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "nondeterministic_ops": sorted(nondeterministic or []),
    }


def _driver_version(index: int) -> str | None:
    from hashbench.gpus import nvidia_smi

    out = nvidia_smi("--query-gpu=driver_version", "--format=csv,noheader", "-i", str(index))
    return (out.strip() or None) if out is not None else None


def record(device: str = "cpu", threads: int | None = None, nondeterministic: list[str] | None = None) -> dict:
    """The machine record of a run on ``device`` with ``threads`` CPU threads (module docstring)."""
    out = {"cpu": cpu_model(), "arch": platform.machine(), "isa": isa(),
           "env": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ},
           "threads": threads, "versions": versions(), "blas": blas()}
    if "torch" in sys.modules:
        import torch

        out["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    cuda_record = cuda(device, nondeterministic)
    if cuda_record is not None:
        out["cuda"] = cuda_record
    out["key"] = key(out)
    return out


def key(rec: dict) -> str:
    """8 hex digits over what decides bit-identical codes (module docstring)."""
    gpu = rec.get("cuda") or {}
    decisive = {k: rec.get(k) for k in ("cpu", "arch", "isa", "env", "threads", "versions")}
    decisive["cuda"] = {k: gpu.get(k) for k in ("device_name", "driver", "cuda", "cudnn", "tf32_matmul", "tf32_cudnn")}
    return digest(decisive)[:8]
