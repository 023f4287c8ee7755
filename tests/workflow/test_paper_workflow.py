"""The paper's protocols through the workflow: a dry run of config/paper.yaml, and a smoke run of the
image-list path on fixture images (tiny backbone, a few iterations)."""

import csv
import json
import re

import pytest
import torch
import torchvision
import yaml

from conftest import ROOT
from image_fixtures import PREFIX, released_lists
from test_workflow import snakemake

pytestmark = pytest.mark.slow  # the workflow as a user runs it: minutes


def test_dry_run_of_the_paper_config_lists_every_table_job(tmp_path, cli_env):
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    for protocol in paper["protocols"]:  # the user's list files; the dry run only needs them to exist
        for path in paper["protocol_defs"][protocol]["lists"].values():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).touch()
    out = snakemake(tmp_path, cli_env, "-n", "results/paper/table1.csv", config=paper)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    expected = {f"results/runs/{p}/{m}/{b}bits/seed{s}/metrics.json" for p in paper["protocols"]
                for m in paper["methods"] for b in paper["bits"] for s in paper["seeds"]}
    assert len(expected) == 3 * 14 * 4
    listed = set(re.findall(r"results/runs/[^ ,\n]+/metrics\.json", text))
    assert expected <= listed
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", text, re.M))
    assert int(stats["train"]) + int(stats["train_gpu"]) == int(stats["evaluate"]) == 168
    assert stats["train_gpu"] == str(3 * 6 * 4) and stats["cnn_features"] == "3"  # deep jobs ask for a GPU
    assert stats["image_cache"] == "3"  # each protocol's images decoded once, for every deep job
    assert stats["select_gpu"] == str(3 * 3)  # the baselines' learning rate, once per protocol, on the GPU
    # docs/workflow.md counts the jobs the PyTorch solver re-runs: every job from the features on
    remade = [stats[r] for r in ("cnn_features", "select_gpu", "train_gpu", "train", "evaluate", "tables")]
    stated = (f"{remade[0]} cnn_features, {remade[1]} select_gpu, {remade[2]} train_gpu and {remade[3]} train jobs, "
              f"so Snakemake re-makes those, {remade[4]} evaluate and {remade[5]} tables ({sum(map(int, remade))} jobs;")
    assert stated in " ".join((ROOT / "docs" / "workflow.md").read_text().split())


def test_the_pytorch_solver_file_merges_over_the_paper_config():
    """As ``snakemake --configfile config/paper.yaml config/solver-pytorch.yaml`` merges them."""
    from snakemake.utils import update_config

    from hashbench import config

    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    caffe = config.validate(paper)
    update_config(paper, yaml.safe_load((ROOT / "config" / "solver-pytorch.yaml").read_text()))
    pytorch = config.validate(paper)
    for protocol in caffe["protocols"]:
        for method in ("HashNet", "HashNet-W", "HashNet-C"):  # the two solvers' settings: HashNet's
            before, after = (config.method_params(c, protocol, method) for c in (caffe, pytorch))
            assert (before["lr"], before["batch_size"], before["nesterov"]) == (0.0002, 512, False)
            assert (after["lr"], after["batch_size"], after["nesterov"]) == (0.0003, 72, True)
            assert {k: v for k, v in after.items() if k not in ("lr", "batch_size", "nesterov")} == {
                k: v for k, v in before.items() if k not in ("lr", "batch_size", "nesterov")}
        for method in ("DHN", "DNNH", "CNNH"):  # their own recipes; the batch is the budget's
            before, after = (config.method_params(c, protocol, method) for c in (caffe, pytorch))
            assert (before["batch_size"], after["batch_size"]) == (512, 72)
            assert "lr" not in after and "nesterov" not in after
        assert caffe["protocol_defs"][protocol]["pipeline"] == {"train_crop": "random"}
        assert pytorch["protocol_defs"][protocol]["pipeline"] == {"train_crop": "random-resized", "ten_crop": True}
    assert config.method_params(pytorch, "imagenet100", "HashNet")["similar_weight"] == 100


def test_smoke_run_of_an_image_list_protocol_gives_codes_metrics_and_a_table_row(tmp_path, cli_env):
    lists = released_lists(tmp_path / "toy")
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), tmp_path / "alexnet.pt")  # stands in for ImageNet weights
    config = {
        "protocols": ["toy"], "methods": ["HashNet", "ITQ"], "bits": [8], "seeds": [0],
        "method_params": {"HashNet": {"iterations": 12, "batch_size": 8}},
        "execution": {"checkpoint_every": 5, "workers": 1},
        "figures": {"methods": ["HashNet"], "tsne_points": 20},
        "tables": {"out": "results"},  # named: another config's tables go where it says
        "protocol_defs": {"toy": {
            "source": "image-lists", "lists": lists, "path_prefix": PREFIX, "image_root": str(tmp_path / "toy/images"),
            "pipeline": {"resize": 72, "crop": 64}, "features": "alexnet-fc7",
            "feature_weights": str(tmp_path / "alexnet.pt"), "labels": "single", "topk": 20, "seed": 0}},
    }
    out = snakemake(tmp_path, cli_env, "results/table1.csv", config=config)
    assert out.returncode == 0, out.stderr[-3000:]
    for method in ("HashNet", "ITQ"):
        run = tmp_path / f"results/runs/toy/{method}/8bits/seed0"
        metrics = json.loads((run / "metrics.json").read_text())
        assert (run / "codes.npz").is_file() and metrics["n_queries"] == 6 and 0 <= metrics["map"] <= 1
    assert json.loads((tmp_path / "results/runs/toy/ITQ/8bits/seed0/run.json").read_text())["features"] == "alexnet-fc7"
    # the default P@N list is capped to this small database (hashbench.metrics) ...
    n_database = json.loads((tmp_path / "data/toy/split.json").read_text())["sizes"]["database"]
    assert all(int(n) <= n_database for n in metrics["precision_at_n"]) and 1000 in metrics["precision_at_dropped"]
    # ... and an explicit N beyond it is refused before any job, now that the split is known
    refused = snakemake(tmp_path, cli_env, "-n", "results/table1.csv",
                        config={**config, "evaluation": {"precision_at": [5, 1000]}})
    assert refused.returncode != 0
    assert (f"config field 'evaluation.precision_at': N = 1000 exceeds the {n_database} database items of protocol "
            "'toy' (data/toy/split.json)") in refused.stdout + refused.stderr
    assert (tmp_path / "data/toy/images-72.npy").is_file()  # built once; the features and HashNet read it
    with open(tmp_path / "results/table1.csv", newline="") as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"HashNet", "ITQ"}
    for method in ("HashNet", "ITQ"):  # the table cell is the stored run's MAP
        stored_map = json.loads((tmp_path / f"results/runs/toy/{method}/8bits/seed0/metrics.json").read_text())["map"]
        assert float(rows[method]["toy/8bits/map_mean"]) == pytest.approx(stored_map, abs=5e-5)


@pytest.mark.parametrize("study, targets", [("imbalance", ["imbalance"]), ("unseen", []), ("later", ["all", "figures"])])
def test_dry_run_of_a_study_config_lists_its_protocols_runs_and_outputs(study, targets, tmp_path, cli_env):
    """config/imbalance.yaml, unseen.yaml and later.yaml merged over the default config, as the README runs them."""
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg = {"protocols": default["protocols"], **yaml.safe_load((ROOT / "config" / f"{study}.yaml").read_text())}
    out = snakemake(tmp_path, cli_env, "-n", *targets, config=cfg)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", text, re.M))
    assert stats["prepare_split"] == str(len(cfg["protocols"]))
    listed = set(re.findall(r"results/runs/[^ ,\n]+/metrics\.json", text))
    methods = ["HashNet", "HashNet-W"] if study == "imbalance" else cfg["methods"]
    expected = {f"results/runs/{p}/{m}/{b}bits/seed{s}/metrics.json" for p in cfg["protocols"] for m in methods
                for b in (16, 32, 48, 64) for s in (0, 1, 2)}
    assert expected <= listed
    if study == "imbalance":
        assert stats["imbalance"] == "1" and "figures/imbalance.png" in text
        assert len(listed) == len(expected)  # the figure needs only HashNet and HashNet-W
    else:
        assert stats["tables"] == "1" and f"results/{study}/table1.csv" in text
    if study == "later":  # its own figures folder: the default benchmark's figures are not overwritten
        figures = set(re.findall(r"figures/[^ ,\n]+\.png", text))
        assert figures == {f"figures/later/{p}/{name}.png" for p in cfg["protocols"] for name in ("precision", "search")}
