"""A rehearsal of the paper's GPU path on a CPU (``make rehearsal``): real JPEG files in the released
list format with the authors' path prefix, AlexNet at 256 / 224 with the Caffe solver's setting
(random crop and mirror), ImageNet weights resolved once from torchvision's cache by rule
pretrained_weights (a saved torchvision state_dict stands in for them: no download), the image
cache, fc7 features, the learning-rate selection, every method of config/paper.yaml at one length,
Tables 1 and 2 with the paper's columns. Then what must not re-run: nothing after a finished run,
nothing after changing only execution settings, and only the deep training and what depends on
it after switching to the released PyTorch solver."""

import csv
import hashlib
import json
import os
import re
import time

import numpy as np
import pytest
import torch
import torchvision
import yaml

from conftest import ROOT
from image_fixtures import PREFIX, write_list
from test_workflow import snakemake

pytestmark = [pytest.mark.slow, pytest.mark.rehearsal]  # make rehearsal; not in make test (CI's time)

CLASSES, PER_CLASS = 10, 16


def write_photos(root):
    """sklearn's 8 x 8 digits enlarged to 500 x 375 RGB JPEGs, tinted per class; [(path, class)]."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    items = []
    for c in range(CLASSES):
        members = np.flatnonzero(digits.target == c)[:PER_CLASS]
        tint = np.array([0.5 + 0.5 * ((c >> k) & 1) for k in range(3)])
        for i, k in enumerate(members):
            grey = np.kron(digits.images[k] / 16.0, np.ones((47, 63)))[:375, :500]
            pixels = np.clip(255 * grey[..., None] * tint + rng.normal(0, 10, (375, 500, 3)), 0, 255).astype(np.uint8)
            rel = f"val_image/{c}/{i:03d}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / rel, quality=90)
            items.append((rel, c))
    return items


def rehearsal_config(tmp_path):
    items = write_photos(tmp_path / "images")
    query = [it for it in items if int(it[0].rsplit("/", 1)[1][:3]) < 5]   # 50 queries
    database = [it for it in items if it not in query]                      # 110
    train = database[::2]                                                   # 55, in the database as released
    lists = {name: str(write_list(tmp_path / "lists" / f"{name}.txt", part, CLASSES, PREFIX).relative_to(tmp_path))
             for name, part in (("query", query), ("database", database), ("train", train))}
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    protocol = {**cfg["protocol_defs"]["imagenet100"], "lists": lists, "path_prefix": PREFIX,
                "image_root": "images", "sizes": {"query": 50, "train": 55}, "topk": 100}
    cfg.update({"protocols": ["rehearsal"], "bits": [16], "protocol_defs": {"rehearsal": protocol}})
    cfg["training"].update({"iterations": 4, "batch_size": 8})  # a rehearsal of the path, not of the training
    cfg["method_params"].update({"KSH": {"n_anchors": 50},       # at most the 55 training items
                                 "SH-BDNN": {"lbfgs_iter": 5, "max_rounds": 2}})  # 4,096-d features, 2 cores
    cfg["selection"]["grid"] = {m: {"lr": [1.0e-4, 1.0e-3]} for m in cfg["selection"]["grid"]}
    cfg["execution"].update({"checkpoint_every": 2, "history_every": 2})
    return cfg


def job_counts(text):
    block = text.split("Job stats:")[1] if "Job stats:" in text else ""
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", block, re.M) if rule != "total"}


def test_the_paper_path_runs_end_to_end_on_a_cpu_and_re_runs_only_what_changed(tmp_path, cli_env):
    cfg = rehearsal_config(tmp_path)
    env = {**cli_env, "TORCH_HOME": str(tmp_path / "torch"), "CUDA_VISIBLE_DEVICES": ""}
    cached = tmp_path / "torch/hub/checkpoints" / os.path.basename(torchvision.models.AlexNet_Weights.DEFAULT.url)
    cached.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), cached)  # stands in for the ImageNet weights

    start = time.perf_counter()
    out = snakemake(tmp_path, env, "results/paper/table1.csv", config=cfg)
    wall = time.perf_counter() - start
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    print(f"rehearsal: {wall:.0f} s for {sum(job_counts(out.stdout + out.stderr).values())} jobs")

    # the weights: fetched once into data/weights/, an input of every job that reads them, by sha256
    weights = tmp_path / "data/weights/alexnet-imagenet.pt"
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert torch.load(weights, weights_only=True).keys() == torch.load(cached, weights_only=True).keys()
    features = json.loads((tmp_path / "data/rehearsal/features-alexnet-fc7.json").read_text())
    assert features["weights"] == {"file": "data/weights/alexnet-imagenet.pt", "sha256": sha}
    assert features["shape"] == [160, 4096] and features["pipeline"] == {"resize": 256, "crop": 224,
                                                                         "ten_crop": False}
    for method in ("HashNet", "DHN", "DNNH", "CNNH", "HashNet-W", "HashNet-C"):
        run = json.loads((tmp_path / f"results/runs/rehearsal/{method}/16bits/seed0/run.json").read_text())
        assert run["weights"] == {"file": "data/weights/alexnet-imagenet.pt", "sha256": sha}
        assert run["execution"] == {"device": "auto", "checkpoint_every": 2, "history_every": 2, "workers": None}
        assert run["precision"] == "fp32" and run["device"] == "cpu"
        assert [row[0] for row in run["loss_history"]] == [2, 4]
        assert "augment" not in run["spec"]["protocol_def"]["pipeline"]  # the default, device, as declared: not set
    chosen = json.loads((tmp_path / "results/selection/rehearsal/DHN.json").read_text())
    assert len(chosen["scores"]) == 2 and not (tmp_path / "results/selection/rehearsal/DHN.work").exists()

    # Tables 1 and 2 with the paper's columns; every cell is its stored run
    for table, methods in (("table1", cfg["methods"][:12]), ("table2", ["HashNet", "HashNet-W", "HashNet-C"])):
        with open(tmp_path / f"results/paper/{table}.csv", newline="") as fh:
            rows = {r["method"]: r for r in csv.DictReader(fh)}
        assert set(methods) <= set(rows)
        for method in methods:
            stored = json.loads((tmp_path / f"results/runs/rehearsal/{method}/16bits/seed0/metrics.json").read_text())
            assert float(rows[method]["rehearsal/16bits/map_mean"]) == pytest.approx(stored["map"], abs=5e-5)
        assert float(rows["HashNet"]["rehearsal/16bits/paper"]) == pytest.approx(0.4420)

    def dry_run(config):
        out = snakemake(tmp_path, env, "-n", "results/paper/table1.csv", config=config)
        assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        return out.stdout + out.stderr

    assert "Nothing to be done" in dry_run(cfg)
    execution_only = yaml.safe_load(yaml.safe_dump(cfg))
    execution_only["execution"] = {"device": "cpu", "workers": 1, "checkpoint_every": 3, "history_every": 1}
    assert "Nothing to be done" in dry_run(execution_only)

    pytorch = yaml.safe_load(yaml.safe_dump(cfg))  # config/solver-pytorch.yaml, merged as Snakemake merges it
    solver = yaml.safe_load((ROOT / "config" / "solver-pytorch.yaml").read_text())
    pytorch["training"].update(solver["training"])
    pytorch["training"]["batch_size"] = 8  # this rehearsal's batch, so only the solver's lr and Nesterov differ
    pytorch["protocol_defs"]["rehearsal"]["pipeline"] = dict(solver["protocol_defs"]["imagenet100"]["pipeline"])
    counts = job_counts(dry_run(pytorch))
    deep, shallow = 6, len(cfg["methods"]) - 6
    assert counts == {"cnn_features": 1, "select_gpu": 3, "train_gpu": deep, "train": shallow,
                      "evaluate": deep + shallow, "tables": 1}, counts
