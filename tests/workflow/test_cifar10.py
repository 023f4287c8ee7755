"""config/cifar10.yaml as a user runs it: DeepHash-pytorch's three CIFAR-10 variants, on small files in
torchvision's format (never a download); and the real files' split sizes where they are present."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT
from image_fixtures import write_cifar10
from hashbench import config as hbconfig
from hashbench.data import sources, splits
from hashbench.errors import HashbenchError

PER_BATCH = 60  # 360 images, 36 a class
SMALL = {  # merged after config/cifar10.yaml: the same variants at the files' size
    "methods": ["HashNet", "LSH"],
    "bits": [16],
    "seeds": [0],
    "method_params": {"HashNet": {"iterations": 40}},
    "tables": {"out": "results"},
    "protocol_defs": {
        "cifar10": {"topk": 230, "also_topk": [50], "split": {"query": {"per_class": 3}, "train": {"per_class": 10}}},
        "cifar10-1": {"topk": 330, "also_topk": [50], "split": {"query": {"per_class": 3}, "train": {"per_class": 10}}},
        "cifar10-2": {"topk": 300, "also_topk": [50], "split": {"query": {"per_class": 6}, "train": {"per_class": 30}}},
    },
}


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cifar10")
    write_cifar10(workdir / "data/downloads", PER_BATCH)  # root: data/downloads, as config/cifar10.yaml says
    (workdir / "small.yaml").write_text(yaml.safe_dump(SMALL))
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "2", "all",
                          "--configfile", str(ROOT / "config/cifar10.yaml"), "small.yaml"],
                         capture_output=True, text=True, cwd=workdir, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_the_three_variants_split_as_deephash_pytorch_does(cifar_run):
    n = 6 * PER_BATCH
    sets = {}
    for protocol in ("cifar10", "cifar10-1", "cifar10-2"):
        split = np.load(cifar_run / f"data/{protocol}/split.npz")
        sets[protocol] = {k: set(split[k].tolist()) for k in ("query", "database", "train")}
        assert not sets[protocol]["query"] & sets[protocol]["database"]
    assert len(sets["cifar10"]["database"]) == n - 30 - 100 and not sets["cifar10"]["train"] & sets["cifar10"]["database"]
    assert len(sets["cifar10-1"]["database"]) == n - 30 and sets["cifar10-1"]["train"] <= sets["cifar10-1"]["database"]
    assert sets["cifar10-2"]["database"] == sets["cifar10-2"]["train"] and len(sets["cifar10-2"]["query"]) == 60
    labels = np.load(cifar_run / "data/cifar10/dataset.npz")["labels"]
    assert labels.shape == (n, 10) and (labels.sum(axis=0) == n // 10).all()


@pytest.mark.slow
def test_table1_reports_map_over_the_whole_database_and_at_the_short_r(cifar_run):
    with open(cifar_run / "results/table1.csv", newline="") as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    for protocol, everything in (("cifar10", 230), ("cifar10-1", 330), ("cifar10-2", 300)):
        metrics = json.loads((cifar_run / f"results/runs/{protocol}/HashNet/16bits/seed0/metrics.json").read_text())
        assert set(metrics["map_at"]) == {str(everything), "50"}
        assert float(rows["HashNet"][f"{protocol}/16bits/map_mean"]) == pytest.approx(metrics["map"], abs=5e-5)
        assert float(rows["HashNet"][f"{protocol}@50/16bits/map_mean"]) == pytest.approx(metrics["map_at"]["50"], abs=5e-5)
        assert metrics["map"] > 0.3  # the colour ramps are learnable: far above chance (0.1)
    assert "cifar10-2@50 16 bits" in (cifar_run / "results/table1.md").read_text()


def test_a_batch_that_is_not_cifar10_is_one_line_naming_it(tmp_path):
    folder = write_cifar10(tmp_path, 20)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(HashbenchError, match=r"data_batch_3: not a CIFAR-10 batch file"):
        sources.SOURCES["cifar10"].load("cifar10", {"root": str(tmp_path)})


def test_small_files_read_in_torchvisions_order_with_a_warning(tmp_path, caplog):
    write_cifar10(tmp_path, 20)
    loaded = sources.SOURCES["cifar10"].load("cifar10", {"root": str(tmp_path)})
    assert loaded.items.shape == (120, 32, 32, 3) and loaded.items.dtype == np.uint8
    assert (loaded.labels.argmax(axis=1) == np.tile(np.arange(20) % 10, 6)).all()
    assert "not the released CIFAR-10 files (md5 differs)" in caplog.text


REAL = ROOT / "data/downloads/cifar-10-batches-py"


@pytest.mark.skipif(not (REAL / "test_batch").is_file(), reason="the real CIFAR-10 files are not in data/downloads")
def test_the_real_files_give_deephash_pytorchs_sizes(tmp_path):
    cfg = hbconfig.load(ROOT / "config/config.yaml", ROOT / "config/cifar10.yaml")
    expected = {"cifar10": (1000, 54000, 5000), "cifar10-1": (1000, 59000, 5000), "cifar10-2": (10000, 50000, 50000)}
    for protocol, sizes in expected.items():
        spec = {**cfg["protocol_defs"][protocol], "root": str(REAL.parent)}
        splits.prepare(protocol, spec, tmp_path / protocol)
        meta = json.loads((Path(tmp_path) / protocol / "split.json").read_text())
        assert (meta["sizes"]["query"], meta["sizes"]["database"], meta["sizes"]["train"]) == sizes
