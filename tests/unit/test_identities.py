"""What each output depends on (hashbench.config's *_spec functions): execution settings in none,
the trainer's settings written once, each output's determinants and nothing else."""

import numpy as np
import pytest
import torch
import yaml
from snakemake.utils import update_config

from conftest import ROOT
from hashbench import config, registry
from hashbench.errors import HashbenchError

PAPER_METHODS = ("HashNet", "HashNet-W", "HashNet-C", "DHN", "DNNH", "CNNH")


def paper(*merged):
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    for extra in merged:
        update_config(cfg, extra)
    return config.validate(cfg)


def identities(cfg, protocol="imagenet100"):
    out = {"split": config.split_spec(cfg, protocol), "cache": config.cache_spec(cfg, protocol),
           "features": config.features_spec(cfg, protocol)}
    for method in cfg["methods"]:
        out[method] = config.run_spec(cfg, protocol, method, 64, 0)
        out[f"select {method}"] = config.selection_spec(cfg, protocol, method)
    return out


def test_execution_settings_change_no_identity():
    before = identities(paper())
    after = paper({"execution": {"device": "cpu", "checkpoint_every": 7, "history_every": 3, "workers": 2},
                   "protocol_defs": {"imagenet100": {"pipeline": {"cache": False}}}})
    assert identities(after) == before
    assert after["execution"] == {"device": "cpu", "checkpoint_every": 7, "history_every": 3, "workers": 2}


def test_the_pytorch_solver_changes_the_deep_runs_and_the_features_only():
    """solver-pytorch.yaml: its lr, Nesterov and batch reach the six deep methods through the training
    block; its random-resized crops the deep runs; its ten-crop encoding the fc7 features and so the
    shallow runs; the split and the cache stay."""
    before = identities(paper())
    after = identities(paper(yaml.safe_load((ROOT / "config" / "solver-pytorch.yaml").read_text())))
    assert [k for k in before if before[k] == after[k]] == ["split", "cache"] + [
        f"select {m}" for m in paper()["methods"] if paper()["selection"]["grid"].get(m) is None]
    train_crop_only = identities(paper({"protocol_defs": {"imagenet100": {"pipeline": {"train_crop": "random-resized"}}}}))
    changed = {k for k in before if before[k] != train_crop_only[k]}
    assert changed == set(PAPER_METHODS) | {"select DHN", "select DNNH", "select CNNH"}  # not features, not shallow


def test_the_training_block_is_every_deep_methods_trainer_once():
    """The budget and backbone reach every deep method; the Caffe solver's two settings HashNet and its
    ablations only: the other methods fine-tune with their own released recipes."""
    cfg = paper()
    for method in PAPER_METHODS:
        params = config.method_params(cfg, "imagenet100", method)
        assert (params["backbone"], params["batch_size"], params["iterations"]) == ("alexnet", 512, 10000)
        caffe = {"lr": 0.0002, "nesterov": False} if method.startswith("HashNet") else {}
        assert {k: params[k] for k in ("lr", "nesterov") if k in params} == caffe
    assert config.method_params(cfg, "imagenet100", "ITQ") == {}  # shallow methods have no trainer
    assert config.method_params(cfg, "imagenet100", "HashNet-W")["weighting"] == "none"
    assert config.method_params(cfg, "imagenet100", "HashNet")["similar_weight"] == 100  # the protocol's, on top


def test_the_default_configs_run_identities_are_unchanged_by_the_blocks(default_config):
    """The shipped reference's config hashes (tests/unit/test_reproducibility) stay valid: empty
    training and default execution add nothing to a run's spec."""
    cfg = config.validate(default_config)
    spec = config.run_spec(cfg, "mnist5k", "HashNet", 64, 0)
    assert set(spec["protocol_def"]) == {"source", "features", "labels", "seed", "split"}
    tuned = config.tuned_params("shipped", "mnist5k", registry.get("HashNet"), {})
    assert spec["params"] == {**tuned, **default_config["protocol_defs"]["mnist5k"]["method_params"]["HashNet"]}


@pytest.mark.parametrize("block, message", [
    ({"method_params": {"HashNet": {"checkpoint_every": 5}}},
     "config field 'method_params.HashNet.checkpoint_every': an execution setting, which no result depends on: "
     "set execution.checkpoint_every instead"),
    ({"training": {"device": "cpu"}}, "config field 'training.device': an execution setting"),
    ({"training": {"alpha": 1}}, "config field 'training.alpha': not a training setting; expected one of backbone"),
    ({"training": {"lr": -1}}, "config field 'training': lr: expected a positive number or null, got -1"),
    ({"execution": {"history_every": 0}}, "config field 'execution.history_every'"),
    ({"protocol_defs": {"coco": {"pipeline": {"workers": 2}}}}, ".pipeline.workers': an execution setting, which no "
     "result depends on: set execution.workers instead"),
])
def test_misplaced_settings_are_refused_in_one_line(block, message):
    with pytest.raises(HashbenchError) as err:
        paper(block)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_loss_history_is_recorded_every_history_every_iterations(digits_dir):
    """history_every evaluates L(h) and records a row every n iterations (and at the last); the
    codes do not depend on it."""
    from hashbench.data import splits
    from hashbench.methods.hashnet import HashNet

    data = splits.load(digits_dir)
    x, y = data.array_images()[data.split["train"]], data.labels[data.split["train"]]

    def fit(every):
        from hashbench.deep.trainer import Trainer

        return HashNet(8, 0, iterations=25, batch_size=16).fit(x, y, trainer=Trainer({"history_every": every,
                                                                                       "device": "cpu"}))

    each, sparse = fit(1), fit(10)
    assert [row[0] for row in each.loss_history_] == list(range(1, 26))
    assert [row[0] for row in sparse.loss_history_] == [10, 20, 25]
    assert [each.loss_history_[i - 1] for i in (10, 20, 25)] == sparse.loss_history_
    np.testing.assert_array_equal(each.encode(x), sparse.encode(x))


def test_the_triplet_loss_of_large_batches_is_the_same_sum_without_the_cube():
    from hashbench.deep import losses

    torch.manual_seed(0)
    for n, classes in ((40, 4), (60, 10), (12, 1)):
        codes = torch.randn(n, 12, dtype=torch.float64, requires_grad=True)
        labels = torch.nn.functional.one_hot(torch.randint(0, classes, (n,)), classes).double()
        direct = losses.triplet_ranking(codes, labels, 1.0)
        grad_direct, = torch.autograd.grad(direct, codes)
        sq = torch.cdist(codes, codes) ** 2
        s = losses.similarity(labels).bool()
        positive = s & ~torch.eye(n, dtype=torch.bool)
        count = (positive.sum(1) * (~s).sum(1)).sum()
        if count == 0:
            assert direct.item() == 0
            continue
        sorted_sum = losses._triplet_sum_sorted(sq, positive, ~s, 1.0) / count
        grad_sorted, = torch.autograd.grad(sorted_sum, codes)
        torch.testing.assert_close(sorted_sum, direct, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad_sorted, grad_direct, rtol=1e-10, atol=1e-12)
    assert 512 ** 3 > losses.TRIPLET_DIRECT_MAX >= 256 ** 3  # the paper's batch takes the sorted path


def test_every_config_key_is_in_an_identity_or_declared_execution_only():
    """A run's identity is listed by inclusion: a key added to the schema fails here until it is."""
    schema = config._schema()
    assert config.undeclared_keys(schema) == []
    schema["properties"]["protocol_defs"]["additionalProperties"]["properties"]["colour"] = {"type": "string"}
    schema["properties"]["protocol_defs"]["additionalProperties"]["properties"]["pipeline"]["properties"]["jpeg"] = {}
    schema["properties"]["verbose"] = {"type": "boolean"}
    assert config.undeclared_keys(schema) == ["verbose", "protocol_defs.<p>.colour", "protocol_defs.<p>.pipeline.jpeg"]


def test_each_execution_setting_is_a_job_option_and_a_resource():
    """Written once (hashbench.settings), they reach every job the same way (hashbench.cli)."""
    from hashbench import cli, settings

    assert set(cli.EXECUTION_OPTIONS) == set(settings.EXECUTION_DEFAULTS)
    assert set(cli.job_resources(settings.execution())) == {f"run_{k}" for k in settings.EXECUTION_DEFAULTS}
    assert cli.job_options(cli.LOADER_SETTINGS) == "--device {resources.run_device} --workers {resources.run_workers}"
