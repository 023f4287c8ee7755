"""The CPU threads a job may use: Snakemake gives each job ``threads`` cores, and the job's numerical
libraries (BLAS and OpenMP pools behind numpy, scipy and scikit-learn; numba's parallel loops) are
held to that many, so that jobs running side by side do not oversubscribe the machine. Torch's
threads are set by the deep base class, which imports torch."""

from __future__ import annotations


def limit(threads: int | None) -> None:
    """Hold this process's BLAS/OpenMP pools and numba to ``threads`` (None: leave them as they are)."""
    if not threads:
        return
    import numba
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
