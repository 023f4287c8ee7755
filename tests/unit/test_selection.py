"""Choosing hyperparameters on a validation hold-out of the training split (hashbench.stages.select)."""

import json

import numpy as np
import pytest

from hashbench import config, metrics, registry
from hashbench.data import splits

from hashbench.stages import select as selection
from hashbench.errors import HashbenchError


def test_holdout_is_a_seeded_disjoint_share_of_the_training_split():
    train = np.random.default_rng(0).permutation(1000)[:300]
    fit, val = selection.holdout(train, 0.1, 0)
    assert val.size == 30 and fit.size == 270 and set(fit) | set(val) == set(train) and not set(fit) & set(val)
    np.testing.assert_array_equal(selection.holdout(train, 0.1, 0)[1], val)
    assert not np.array_equal(selection.holdout(train, 0.1, 1)[1], val)
    with pytest.raises(HashbenchError, match="selection.validation: 0.001 of 300 training items"):
        selection.holdout(train, 0.001, 0)


def test_candidates_are_the_grid_product_in_order():
    assert selection.candidates({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


@pytest.mark.slow
def test_select_scores_each_candidate_on_the_hold_out_and_keeps_the_best(digits_dir, default_config, tmp_path):
    cfg = config.validate({**default_config, "protocols": ["digits"], "bits": [16],
                           "selection": {"grid": {"KSH": {"n_anchors": [50, 300]}}, "validation": 0.2}})
    spec = config.selection_spec(cfg, "digits", "KSH")
    assert spec["bits"] == 16 and spec["seed"] == 0 and config.selection_spec(cfg, "digits", "ITQ") is None
    record = selection.select(spec, digits_dir, tmp_path / "KSH.json")
    assert json.loads((tmp_path / "KSH.json").read_text()) == json.loads(json.dumps(record))
    data = splits.load(digits_dir)
    fit, val = selection.holdout(data.split["train"], 0.2, 0)
    x = data.features("pixels")
    for score in record["scores"]:  # each score is the MAP of that candidate trained on the rest
        method = registry.create("KSH", 16, 0, {**spec["params"], **score["params"]}).fit(x[fit], data.labels[fit])
        expected = metrics.evaluate(method.encode(x[val]), method.encode(x[fit]), data.labels[val],
                                    data.labels[fit], min(spec["topk"], fit.size), precision_at=())["map"]
        assert score["map"] == pytest.approx(expected, abs=1e-12)
    assert record["chosen"] == max(record["scores"], key=lambda s: s["map"])["params"]
    assert record["scores"][0]["map"] != record["scores"][1]["map"]


def test_a_selection_for_another_method_is_refused(tmp_path):
    from hashbench.stages.train import chosen_params

    (tmp_path / "s.json").write_text(json.dumps({"protocol": "digits", "method": "DHN", "chosen": {"lr": 0.1}}))
    spec = {"protocol": "digits", "method": "DNNH", "params": {}}
    with pytest.raises(HashbenchError, match=r"s.json: a selection for \(digits, DHN\), not \(digits, DNNH\)"):
        chosen_params(spec, tmp_path / "s.json")
    assert chosen_params({**spec, "method": "DHN", "params": {"lr": 1, "iterations": 5}}, tmp_path / "s.json")[0] == {
        "lr": 0.1, "iterations": 5}


def test_a_killed_selection_resumes_from_its_scores_and_its_checkpoint(digits_dir, default_config, tmp_path,
                                                                      monkeypatch):
    """A deep selection keeps each candidate's score and checkpoints its training in <method>.work/;
    killed during the second candidate's training it resumes there: the first is not trained again,
    the second continues from its checkpoint, and the record equals an uninterrupted selection's."""
    from hashbench.deep import trainer

    cfg = config.validate({**default_config, "protocols": ["digits"], "bits": [8],
                           "method_params": {"HashNet": {"iterations": 30, "batch_size": 16}},
                           "selection": {"grid": {"HashNet": {"lr": [0.001, 0.01]}}, "validation": 0.2}})
    spec = config.selection_spec(cfg, "digits", "HashNet")
    execution = {"device": "cpu", "checkpoint_every": 10}
    whole = selection.select(spec, digits_dir, tmp_path / "whole.json", execution=execution)

    save, calls = trainer._save_checkpoint, []

    def save_then_die(path, state):
        save(path, state)
        calls.append(path)
        if "candidate1" in str(path) and state["iteration"] == 20:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_save_checkpoint", save_then_die)
    out = tmp_path / "HashNet.json"
    with pytest.raises(KeyboardInterrupt):
        selection.select(spec, digits_dir, out, execution=execution)
    work = tmp_path / "HashNet.work"
    assert (work / "candidate0.json").is_file() and (work / "candidate1" / "checkpoint.pt").is_file()
    assert not out.exists()
    calls.clear()
    resumed = selection.select(spec, digits_dir, out, execution=execution)
    assert all("candidate1" in str(path) for path in calls)  # candidate 0 was not trained again
    assert [s["params"] for s in resumed["scores"]] == [s["params"] for s in whole["scores"]]
    assert [s["map"] for s in resumed["scores"]] == [s["map"] for s in whole["scores"]]
    assert resumed["chosen"] == whole["chosen"] and not work.exists()
    # a working folder left by another spec is not reused
    monkeypatch.setattr(trainer, "_save_checkpoint", save)
    work.mkdir()
    (work / "spec").write_text("another")
    (work / "candidate0.json").write_text(json.dumps({"params": {"lr": 0.001}, "map": 2.0, "seconds": 0}))
    assert selection.select(spec, digits_dir, out, execution=execution)["scores"][0]["map"] < 1
