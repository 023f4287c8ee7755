"""A job's BLAS and numba threads are held to its Snakemake threads, whether those libraries are
loaded before the limit is set or after (listing methods no longer imports scipy or numba)."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = """
from hashbench import threads
{before}
threads.limit(1)
import numba
import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_info
from hashbench.metrics import evaluate
codes = np.where(np.arange(64).reshape(8, 8) % 3 > 0, 1, -1)
evaluate(codes, codes, np.eye(8), np.eye(8), 4, precision_at=())
print(numba.get_num_threads(), max(pool["num_threads"] for pool in threadpool_info()))
"""


@pytest.mark.parametrize("before", ["", "import numba, scipy.linalg"])
def test_numba_and_blas_keep_to_the_jobs_threads(before):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(before=before)], capture_output=True, text=True,
                         cwd=ROOT, check=True, env=env)
    assert out.stdout.split() == ["1", "1"]
