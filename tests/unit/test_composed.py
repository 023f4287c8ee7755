"""The protocols beyond the paper: composed MNIST items (pairs, multi-label) and unseen classes."""

import copy

import numpy as np
import pytest

from hashbench import config, io
from hashbench.data import composed, splits
from hashbench.data.sources import SOURCES
from hashbench.errors import HashbenchError


def _small(default_config, protocol, **compose):
    spec = copy.deepcopy(config.split_spec(default_config, protocol))
    spec["compose"].update(compose)
    return spec


def _prepared(default_config, tmp_path_factory, protocol, database, split):
    out = tmp_path_factory.mktemp(protocol)
    spec = _small(default_config, protocol, database=database)
    spec["split"] = split
    splits.prepare(protocol, spec, out)
    return out


@pytest.fixture(scope="module")
def pairs_dir(default_config, tmp_path_factory):
    return _prepared(default_config, tmp_path_factory, "mnist-pairs", {"per_class": 6},
                     {"query": {"per_class": 2}, "train": {"per_class": 3}})


@pytest.fixture(scope="module")
def multi_dir(default_config, tmp_path_factory):
    return _prepared(default_config, tmp_path_factory, "mnist-multi", {"total": 1500},
                     {"query": {"total": 300}, "train": {"total": 600}})


def _parts(directory):
    data = splits.load(directory)
    return data, io.load_npz(directory / "dataset.npz", ("parts", "images"))


@pytest.mark.parametrize("which", ["pairs", "multi"])
def test_no_query_shares_a_source_image_with_database_or_training_items(which, pairs_dir, multi_dir):
    data, stored = _parts(pairs_dir if which == "pairs" else multi_dir)
    parts = stored["parts"]
    query_sources = set(parts[data.split["query"]].ravel()) - {-1}
    for other in ("database", "train"):
        assert not query_sources & (set(parts[data.split[other]].ravel()) - {-1}), other
    assert np.isin(data.split["train"], data.split["database"]).all()
    assert not np.intersect1d(data.split["query"], data.split["database"]).size


def test_pairs_are_an_ordered_pair_of_digits_side_by_side(pairs_dir):
    data, stored = _parts(pairs_dir)
    images, digits = composed.mnist_digits()
    labels = data.labels
    assert labels.shape[1] == 100 and (labels.sum(axis=1) == 1).all()
    classes = labels.argmax(axis=1)
    np.testing.assert_array_equal(classes, 10 * digits[stored["parts"][:, 0]] + digits[stored["parts"][:, 1]])
    assert stored["images"].shape[1:] == (28, 56)
    i = data.split["query"][0]
    np.testing.assert_array_equal(stored["images"][i, :, 28:], images[stored["parts"][i, 1]])
    # every class equally often in each set: 2 queries, 6 database items and 3 training items a class
    for name, n in (("query", 2), ("database", 6), ("train", 3)):
        assert (np.bincount(classes[data.split[name]], minlength=100) == n).all(), name
    assert composed.pair_ratio(labels[data.split["train"]]) == pytest.approx((300 - 3) / 2, rel=1e-12)


def test_multi_items_hold_two_or_three_distinct_digits_and_carry_their_labels(multi_dir):
    data, stored = _parts(multi_dir)
    _, digits = composed.mnist_digits()
    parts, labels = stored["parts"], data.labels
    assert labels.shape[1] == 10 and set(labels.sum(axis=1)) == {2, 3}
    for row, label in zip(parts, labels):
        present = digits[row[row >= 0]]
        assert len(set(present)) == present.size  # distinct digits
        np.testing.assert_array_equal(np.flatnonzero(label), np.sort(present))
    assert stored["images"].shape[1:] == (28, 84)
    blank = parts[:, 0] < 0
    assert blank.any() and not stored["images"][blank][:, :, :28].any()
    # two random 2- or 3-subsets of 10 digits share one with probability ~0.54: ratio ~0.85
    assert 0.6 < composed.pair_ratio(labels[data.split["train"]]) < 1.1


def test_pair_ratio_by_hand():
    labels = np.array([[1, 0], [1, 0], [0, 1], [1, 1]])
    # pairs: (0,1) sim, (0,2) dis, (0,3) sim, (1,2) dis, (1,3) sim, (2,3) sim -> 2 : 4
    assert composed.pair_ratio(labels) == 0.5
    assert composed.pair_ratio(labels, block=1) == 0.5


def test_composition_is_seeded(default_config):
    spec = _small(default_config, "mnist-multi", database={"total": 50})
    spec["split"]["query"] = {"total": 20}
    a, b = SOURCES["mnist-multi"].load("m", spec), SOURCES["mnist-multi"].load("m", spec)
    np.testing.assert_array_equal(a.parts, b.parts)
    spec["seed"] = 1
    assert not np.array_equal(a.parts, SOURCES["mnist-multi"].load("m", spec).parts)


def test_composition_errors_name_the_field(default_config):
    spec = _small(default_config, "mnist-pairs", query_pool=500)
    with pytest.raises(HashbenchError, match=r"protocol_defs.p.compose.query_pool: digit class 0 has 500"):
        SOURCES["mnist-pairs"].load("p", spec)
    spec = _small(default_config, "mnist-pairs", database={"total": 10})
    with pytest.raises(HashbenchError, match=r"protocol_defs.p.compose.database: expected \{per_class: N\}"):
        SOURCES["mnist-pairs"].load("p", spec)
    cfg = copy.deepcopy(default_config)
    del cfg["protocol_defs"]["mnist-multi"]["compose"]
    with pytest.raises(HashbenchError, match=r"protocol_defs.mnist-multi.compose': source 'mnist-multi' needs it"):
        config.validate(cfg)
    cfg = copy.deepcopy(default_config)
    cfg["protocol_defs"]["mnist5k"]["compose"] = {"query_pool": 1, "database": {"total": 5}}
    with pytest.raises(HashbenchError, match=r"mnist5k.compose': only composed sources take it"):
        config.validate(cfg)


def test_unseen_split_keeps_held_out_classes_out_of_training(default_config):
    spec = default_config["protocol_defs"]["mnist5k-unseen"]
    labels = SOURCES[spec["source"]].load("p", spec).labels
    split = splits.make_split(labels, spec["split"], spec["seed"])
    classes = labels.argmax(axis=1)
    held = np.unique(classes[split["query"]])
    assert held.size == 3
    assert not np.isin(classes[split["train"]], held).any()
    assert np.isin(classes[split["database"]], held).all()
    assert np.union1d(split["query"], split["database"]).size == 3 * 500
    assert (np.bincount(classes[split["train"]], minlength=10)[np.setdiff1d(np.arange(10), held)] == 200).all()
    assert [split[k].size for k in ("query", "database", "train")] == [300, 1200, 1400]
    again = splits.make_split(labels, spec["split"], spec["seed"])
    np.testing.assert_array_equal(again["train"], split["train"])  # the held-out classes are seeded
    listed = splits.make_split(labels, {**spec["split"], "unseen": {"classes": [0, 4]}}, 0)
    assert set(np.unique(classes[listed["query"]])) == {0, 4}
    assert not np.isin(classes[listed["train"]], [0, 4]).any()


def test_unseen_split_errors():
    labels = np.eye(4, dtype=np.uint8)[np.arange(40) % 4]
    base = {"query": {"per_class": 2}, "train": {"per_class": 2}}
    with pytest.raises(HashbenchError, match=r"split.unseen.classes: expected distinct classes in 0..3"):
        splits.make_split(labels, {**base, "unseen": {"classes": [1, 7]}}, 0)
    with pytest.raises(HashbenchError, match=r"split.unseen: hold out between 1 and 3 of the 4 classes, got 4"):
        splits.make_split(labels, {**base, "unseen": {"count": 4}}, 0)
    multi = labels.copy()
    multi[0, 1] = 1
    with pytest.raises(HashbenchError, match=r"split.unseen: the unseen-class split needs single-label data"):
        splits.make_split(multi, {**base, "unseen": {"count": 1}}, 0)


def test_held_out_classes_are_recorded_even_when_queries_miss_one(default_config, tmp_path):
    spec = copy.deepcopy(config.split_spec(default_config, "digits"))
    spec["split"] = {"unseen": {"classes": [2, 5, 7]}, "query": {"total": 1}, "train": {"per_class": 20}}
    splits.prepare("held", spec, tmp_path)
    assert io.read_json(tmp_path / "split.json")["unseen_classes"] == [2, 5, 7]


def test_prepared_unseen_protocol_records_its_held_out_classes(default_config, tmp_path):
    splits.prepare("mnist5k-unseen", config.split_spec(default_config, "mnist5k-unseen"), tmp_path)
    meta = io.read_json(tmp_path / "split.json")
    data = splits.load(tmp_path)
    assert meta["unseen_classes"] == sorted(np.unique(data.labels[data.split["query"]].argmax(axis=1)).tolist())
    assert not np.isin(data.labels[data.split["train"]].argmax(axis=1), meta["unseen_classes"]).any()
