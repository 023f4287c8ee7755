"""The CPU threads a job may use: Snakemake gives each job ``threads`` cores, and the job's numerical
libraries (BLAS and OpenMP pools behind numpy, scipy and scikit-learn; numba's parallel loops) are
held to that many, so that jobs running side by side do not oversubscribe the machine. Torch's
threads are set by the deep base class, which imports torch."""

from __future__ import annotations

import os
import sys

# read by each library when it loads: numba, scipy's OpenBLAS and OpenMP runtimes are imported only
# where a job needs them (listing methods imports neither), often after the limit is set
_POOL_SIZE_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                        "NUMBA_NUM_THREADS")


def limit(threads: int | None) -> None:
    """Hold this process's BLAS/OpenMP pools and numba to ``threads`` (None: leave them as they are):
    those already loaded through threadpoolctl and numba, those loaded later by the environment
    variables they read when they load."""
    if not threads:
        return
    from threadpoolctl import threadpool_limits

    for name in _POOL_SIZE_VARIABLES:
        current = os.environ.get(name, "")
        os.environ[name] = str(min(threads, int(current)) if current.isdigit() and int(current) > 0 else threads)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # may load its OpenMP pool
    threadpool_limits(limits=threads)
