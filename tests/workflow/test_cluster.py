"""Jobs as a cluster runs them: submitted by a cluster executor from a machine without a GPU, with
the environment that started Snakemake not activated (its bin folder not on PATH)."""

import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow

SUBMIT = """#!/bin/sh
# a stand-in for sbatch: records the job's rule and gpu request, then runs the job script here
echo "$1 gpu=$2" >> submitted.txt
sh "$3"
"""


def test_a_cluster_run_asks_a_gpu_for_deep_jobs_and_runs_them_with_snakemakes_interpreter(tmp_path):
    (tmp_path / "submit.sh").write_text(SUBMIT)
    (tmp_path / "submit.sh").chmod(0o755)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "protocols": ["digits"], "methods": ["ITQ", "HashNet"], "bits": [8], "seeds": [0],
        "method_params": {"HashNet": {"iterations": 10}}, "tables": {"out": "results"}}))
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "CUDA_VISIBLE_DEVICES": ""}  # no venv, no GPU
    runs = [f"results/runs/digits/{m}/8bits/seed0/run.json" for m in ("HashNet", "ITQ")]
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--executor", "cluster-generic",
                          "--cluster-generic-submit-cmd", "./submit.sh {rule} {resources.gpu}", "--default-resources",
                          "gpu=0", "--jobs", "2", "--seconds-between-status-checks", "1", *runs, "--configfile", "c.yaml"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    submitted = dict(line.split() for line in (tmp_path / "submitted.txt").read_text().splitlines())
    assert submitted == {"prepare_split": "gpu=0", "features": "gpu=0", "train": "gpu=0", "train_gpu": "gpu=1"}
    assert all((tmp_path / run).is_file() for run in runs)
