"""The tuning record: the same grid size for every deep method around its optimiser's usual rate
(config/tune.yaml), the shipped record's choices made on validation, and where they apply."""

import copy
import json

import pytest
import yaml

from conftest import ROOT
from hashbench import config, reference, registry
from hashbench.deep import optim
from hashbench.errors import HashbenchError
from hashbench.stages import tuning

TUNE = yaml.safe_load((ROOT / "config" / "tune.yaml").read_text())
DEEP = sorted(n for n, cls in registry.methods().items()  # the built-in ones; an installed plugin is not tuned
              if cls.is_deep and cls.__module__.startswith("hashbench.methods."))


def test_every_deep_method_is_tuned_with_a_grid_of_the_same_size_around_its_optimisers_usual_rate():
    grids = TUNE["selection"]["grid"]
    tuned = {n for n in DEEP if registry.get(n).TUNED_AS is None}
    assert set(TUNE["methods"]) == set(grids) == tuned  # the ablations read their parent's (TUNED_AS)
    for name, grid in grids.items():
        assert list(grid) == ["lr"]
        assert grid["lr"] == optim.tuning_grid(registry.get(name).recipe_of()["optimizer"]), name
    assert TUNE["tuning"] is None and TUNE["bits"] == [64] and TUNE["seeds"] == [0]


def test_the_shipped_record_chose_each_best_validation_map_on_both_embedded_protocols():
    record = tuning.load(reference.TUNING)
    assert record["recipe"] == "released"
    assert set(record["protocols"]) == {"mnist5k", "fashion"}
    for protocol, methods in record["protocols"].items():
        assert set(methods) == set(TUNE["selection"]["grid"]), protocol
        for name, entry in methods.items():
            assert entry["grid"] == TUNE["selection"]["grid"][name]
            assert [s["params"]["lr"] for s in entry["scores"]] == entry["grid"]["lr"]
            best = max(entry["scores"], key=lambda s: s["map"])
            assert entry["chosen"] == best["params"], (protocol, name)
            assert entry["bits"] == 64 and entry["seed"] == 0 and entry["validation"]["fraction"] == 0.1


@pytest.fixture
def record(tmp_path):
    selection = {"protocol": "mnist5k", "method": "HashNet", "bits": 64, "seed": 0,
                 "grid": {"lr": [0.001, 0.01]}, "validation": {"fraction": 0.1, "items": 200, "topk": 1000},
                 "scores": [{"params": {"lr": 0.001}, "map": 0.5, "seconds": 1.0},
                            {"params": {"lr": 0.01}, "map": 0.7, "seconds": 1.0}],
                 "chosen": {"lr": 0.01}}
    path = tmp_path / "HashNet.json"
    path.write_text(json.dumps(selection))
    out = tmp_path / "tuning.json"
    tuning.build([path], "released", out)
    return out


def test_a_record_is_applied_from_scratch_under_its_recipe_only(record):
    hashnet, ablation, dhn = registry.get("HashNet"), registry.get("HashNet-W"), registry.get("DHN")
    path = str(record)
    assert config.tuned_params(path, "mnist5k", hashnet, {}) == {"lr": 0.01}
    assert config.tuned_params(path, "mnist5k", ablation, {}) == {"lr": 0.01}  # its parent's
    assert config.tuned_params(path, "mnist5k", dhn, {}) == {}  # no entry
    assert config.tuned_params(path, "fashion", hashnet, {}) == {}
    assert config.tuned_params(path, "mnist5k", hashnet, {"pretrained": True}) == {}  # the released rate
    assert config.tuned_params(path, "mnist5k", hashnet, {"recipe": "shared"}) == {}
    assert config.tuned_params(None, "mnist5k", hashnet, {}) == {}


def test_a_config_lr_overrides_the_record(record, default_config):
    cfg = config.validate({**copy.deepcopy(default_config), "tuning": str(record)})
    assert config.method_params(cfg, "mnist5k", "HashNet")["lr"] == 0.01
    cfg["method_params"]["HashNet"] = {"lr": 0.003}
    assert config.method_params(cfg, "mnist5k", "HashNet")["lr"] == 0.003


def test_a_bad_record_is_one_line_naming_it(tmp_path, default_config):
    with pytest.raises(HashbenchError, match="config field 'tuning'.*no such tuning record"):
        config.validate({**default_config, "tuning": str(tmp_path / "none.json")})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"recipe": "released", "protocols": {"mnist5k": {"HashNet": {"lr": 1}}}}))
    with pytest.raises(HashbenchError, match="bad.json: protocols.mnist5k.HashNet: expected an entry with 'chosen'"):
        tuning.load(bad)
    selection = tmp_path / "selection.json"
    selection.write_text(json.dumps({"protocol": "mnist5k"}))
    with pytest.raises(HashbenchError, match="selection.json: not a selection.json"):
        tuning.build([selection], "released", tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()
