"""The plugin in the workflow, as a user runs it: DPSH appears in Table 1, and its training job,
killed with Snakemake, resumes from its checkpoint when the same command is run again."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parents[1]  # the hashbench checkout this example lives in
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (ROOT / "Snakefile").exists(), reason="needs the hashbench repository around it")]


def snakemake(workdir, *extra):
    command = [str(Path(sys.executable).parent / "snakemake"), "--cores", "1", "--directory", str(workdir),
               "--configfile", str(HERE / "tiny.yaml"), *extra]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # jobs' python
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_dpsh_in_table1_and_resumed_after_a_kill(tmp_path):
    run = tmp_path / "results/runs/digits/DPSH/16bits/seed0"
    first = snakemake(tmp_path)
    deadline = time.time() + 300
    log = tmp_path / "logs/train/digits/DPSH/16bits/seed0.log"
    # the loss line of iteration 50 comes after the checkpoint of iteration 25 (tiny.yaml: every 25)
    while not (log.exists() and "iteration 50 " in log.read_text()) and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert (run / "checkpoint.pt").exists(), "DPSH's training never checkpointed"
    os.killpg(first.pid, signal.SIGKILL)  # Snakemake and its job, as a lost session would
    first.wait()
    assert not (run / "codes.npz").exists()
    assert snakemake(tmp_path, "--unlock").wait() == 0
    assert snakemake(tmp_path).wait() == 0
    resumed = re.search(r"resuming from \S+ at iteration (\d+)", log.read_text())
    assert resumed and int(resumed.group(1)) >= 25, log.read_text()[-2000:]
    table = (tmp_path / "results/dpsh/table1.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| DPSH"))
    assert "—" not in row and "nan" not in row, table
