import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from hashbench import config, settings
from hashbench.errors import HashbenchError


def test_default_config_is_valid(default_config):
    cfg = config.validate(default_config)
    assert cfg["evaluation"]["no_relevant"] == "zero"


@pytest.mark.parametrize("change, message", [
    ({"methods": ["ITQ", "FOO"]}, "config field 'methods[1]': unknown method 'FOO'; available: "),
    ({"protocols": ["imagenet"]}, "config field 'protocols[0]': unknown protocol 'imagenet'; defined: digits, fashion, fashion-unseen, mnist-multi, mnist-pairs, mnist5k, mnist5k-unseen"),
    ({"bits": [16, 200]}, "config field 'bits[1]': 200 is greater than the maximum of 128; expected an integer in 1..128"),
    ({"bits": [0]}, "config field 'bits[0]': 0 is less than the minimum of 1"),
    ({"bits": 16}, "config field 'bits': 16 is not of type 'array'"),
    ({"seeds": ["a"]}, "config field 'seeds[0]': 'a' is not of type 'integer'"),
    ({"method_params": {"ITQ": {"iterations": 3}}}, "method_params.ITQ: method 'ITQ' has no hyperparameter 'iterations'"),
    ({"evaluation": {"no_relevant": "skip"}}, "config field 'evaluation.no_relevant': 'skip' is not one of"),
    ({"colour": "red"}, "config field 'colour': not a config key; expected one of protocols, methods"),
    ({"selection": {"grid": {"FOO": {"lr": [0.1]}}}}, "config field 'selection.grid.FOO': unknown method 'FOO'"),
    ({"selection": {"grid": {"DHN": {"rate": [0.1]}}}}, "selection.grid.DHN.rate[0]: method 'DHN' has no hyperparameter 'rate'"),
    ({"selection": {"grid": {"DHN": {"lr": []}}}}, "config field 'selection.grid.DHN.lr': [] should be non-empty"),
    ({"selection": {"validation": 1.5}}, "config field 'selection.validation': 1.5 is greater than or equal to the maximum"),
    ({"selection": {"bits": 24}}, "config field 'selection.bits': 24 is not among bits"),
    ({"bits": [16, 16]}, "config field 'bits': [16, 16] has non-unique elements"),
    ({"seeds": [0, 1, 0]}, "config field 'seeds': [0, 1, 0] has non-unique elements"),
    ({"methods": ["ITQ", "LSH", "ITQ"]}, "config field 'methods': ['ITQ', 'LSH', 'ITQ'] has non-unique elements"),
    ({"protocols": ["digits", "digits"]}, "config field 'protocols': ['digits', 'digits'] has non-unique elements"),
    ({"evaluation": {"precision_at": [10, 10]}}, "config field 'evaluation.precision_at': [10, 10] has non-unique"),
    ({"method_params": {"HashNet": {"lr": "fast"}}}, "method_params.HashNet: method 'HashNet': lr: expected a positive number or null, got 'fast'"),
    ({"method_params": {"HashNet": {"lr": -0.1}}}, "method_params.HashNet: method 'HashNet': lr: expected a positive number or null, got -0.1"),
    ({"method_params": {"DHN": {"iterations": 2.5}}}, "method 'DHN': iterations: expected an integer, got 2.5"),
    ({"method_params": {"HashNet": {"nesterov": "yes"}}}, "nesterov: expected true or false or null, got 'yes'"),
    ({"training": {"recipe": "mine"}}, "config field 'training': recipe: expected one of released, shared, got 'mine'"),
    ({"method_params": {"CSQ": {"optimizer": "lbfgs"}}}, "method 'CSQ': optimizer: expected one of sgd, adam, rmsprop"),
    ({"method_params": {"OrthoHash": {"betas": [0.9]}}}, "method 'OrthoHash': betas: expected two numbers in [0, 1)"),
    ({"method_params": {"DCH": {"lr_gamma": 2}}}, "method 'DCH': lr_gamma: expected a number in (0, 1] or null, got 2"),
    ({"tuning": 3}, "config field 'tuning'"),
    ({"method_params": {"ITQ": {"n_iter": True}}}, "method_params.ITQ: method 'ITQ': n_iter: expected an integer, got True"),
    ({"method_params": {"SH-BDNN": {"validation": 1.5}}}, "validation: expected a number in (0, 1), got 1.5"),
    ({"selection": {"grid": {"DHN": {"lr": [0.01, "x"]}}}}, "selection.grid.DHN.lr[1]: method 'DHN': lr: expected a positive number or null, got 'x'"),
])
def test_bad_config_names_the_field(default_config, change, message):
    with pytest.raises(HashbenchError) as info:
        config.validate({**default_config, **change})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_protocol_definition(default_config):
    bad = yaml.safe_load(yaml.safe_dump(default_config))
    bad["protocol_defs"]["digits"]["topk"] = "all"
    with pytest.raises(HashbenchError, match=r"config field 'protocol_defs.digits.topk': 'all' is not of type 'integer'"):
        config.validate(bad)
    bad["protocol_defs"]["digits"]["topk"] = 10
    bad["protocol_defs"]["digits"]["source"] = "cifar"
    with pytest.raises(HashbenchError, match=r"'protocol_defs.digits.source': unknown source 'cifar'"):
        config.validate(bad)


def test_an_explicit_precision_at_beyond_a_declared_database_is_refused(default_config):
    bad = yaml.safe_load(yaml.safe_dump(default_config))
    bad["protocol_defs"]["digits"] = {"source": "image-lists", "lists": {"query": "q", "database": "d", "train": "t"},
                                      "features": "alexnet-fc7", "labels": "single", "topk": 100, "seed": 0,
                                      "sizes": {"database": 250}}
    bad["protocols"] = ["digits"]
    assert config.validate(bad)["evaluation"]["precision_at"] is None  # the default: capped to the database
    bad["evaluation"] = {"precision_at": [100, 300]}
    with pytest.raises(HashbenchError, match=r"'evaluation.precision_at': N = 300 exceeds the 250 database items of "
                                             r"protocol 'digits' \(its sizes.database\)"):
        config.validate(bad)


def test_command_line_values_are_read_as_yaml(default_config):
    """What Snakemake passes for --config 'bits=[8,16]' 'training={"iterations": 100}' 'tables={"partial": true}'."""
    given = {"bits": ["8", "16"], "training": {"iterations": "100"}, "tables": {"partial": "true"},
             "selection": {"seed": "null"}, "methods": ["ITQ", "LSH"]}
    cfg = config.validate(config.typed_overrides(config.merge(default_config, given), given))
    assert cfg["bits"] == [8, 16] and cfg["training"]["iterations"] == 100 and cfg["tables"]["partial"] is True
    assert cfg["selection"]["seed"] is None and cfg["methods"] == ["ITQ", "LSH"]
    assert cfg["tables"]["alpha"] == default_config["tables"]["alpha"]  # merged into the block, not replacing it


def test_an_unknown_top_level_key_names_the_nearest(default_config):
    with pytest.raises(HashbenchError, match=r"config field 'seed': not a config key; did you mean 'seeds'\?"):
        config.validate({**default_config, "seed": [0]})


@pytest.mark.parametrize("names", [["quick"], ["later"], ["unseen"], ["imbalance"], ["tune"], ["paper"],
                                   ["paper", "solver-pytorch"]])
def test_every_shipped_override_file_checks_merged_over_the_default(names):
    files = [f"config/{name}.yaml" for name in names]
    out = subprocess.run([sys.executable, "-m", "hashbench", "check-config", *files], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"config/config.yaml + {' + '.join(files)}: ok"


def test_check_config_command(tmp_path, default_config):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**default_config, "bits": [300]}))
    out = subprocess.run([sys.executable, "-m", "hashbench", "check-config", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == ("hashbench: error: config field 'bits[0]': 300 is greater than the maximum of 128; "
                                  "expected an integer in 1..128")


def test_run_spec_leaves_evaluation_out(default_config):
    cfg = config.validate(default_config)
    spec = config.run_spec(cfg, "digits", "ITQ", 16, 0)
    assert "topk" not in spec["protocol_def"] and config.eval_spec(cfg, "digits")["topk"] == 500
    assert settings.digest(spec) == settings.digest(config.run_spec(cfg, "digits", "ITQ", 16, 0))
    assert settings.digest(spec) != settings.digest(config.run_spec(cfg, "digits", "ITQ", 16, 1))


def test_another_configs_tables_never_go_over_the_default(default_config):
    """The default config writes results/ and figures/; any other gets a folder named after what
    differs, unless it names one; execution settings change no result and no folder."""
    default = config.validate(default_config)
    assert config.output_dirs(default, default) == ("results", "figures")
    fast = config.validate({**default_config, "execution": {"device": "cpu", "workers": 0}})
    assert config.output_dirs(fast, default) == ("results", "figures")
    mine = config.validate({**default_config, "methods": ["ITQ", "LSH"]})
    tables, figures = config.output_dirs(mine, default)
    assert tables.startswith("results/methods-") and figures == "figures/" + tables.split("/")[1]
    other = config.validate({**default_config, "methods": ["ITQ", "SH"], "seeds": [0]})
    assert config.output_dirs(other, default)[0].startswith("results/methods-seeds-")
    assert config.output_dirs(other, default) != config.output_dirs(mine, default)
    named = config.validate({**default_config, "methods": ["ITQ"], "tables": {"out": "results/mine"}})
    assert config.output_dirs(named, default)[0] == "results/mine"
