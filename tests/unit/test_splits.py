import numpy as np
import pytest

from hashbench import io
from hashbench.data import splits
from hashbench.data.sources import SOURCES
from hashbench.errors import HashbenchError


def test_mnist5k_protocol_sizes_and_disjointness(default_config, tmp_path):
    spec = default_config["protocol_defs"]["mnist5k"]
    labels = SOURCES[spec["source"]].load("p", spec).labels
    split = splits.make_split(labels, spec["split"], spec["seed"])
    assert [split[k].size for k in ("query", "database", "train")] == [1000, 4000, 2000]
    classes = labels.argmax(axis=1)
    assert (np.bincount(classes[split["query"]]) == 100).all()
    assert (np.bincount(classes[split["train"]]) == 200).all()
    assert not np.intersect1d(split["query"], split["database"]).size
    assert np.union1d(split["query"], split["database"]).size == 5000
    assert np.isin(split["train"], split["database"]).all()


def test_splits_are_seeded_and_not_grouped_by_class(default_config):
    spec = default_config["protocol_defs"]["digits"]
    labels = SOURCES[spec["source"]].load("p", spec).labels
    a = splits.make_split(labels, spec["split"], 3)
    b = splits.make_split(labels, spec["split"], 3)
    c = splits.make_split(labels, spec["split"], 4)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        classes = labels[a[name]].argmax(axis=1)
        # a class-grouped order changes class at most 9 times; a random order about 90% of the time
        assert (np.diff(classes) != 0).mean() > 0.7
        assert not np.array_equal(np.sort(a[name]), a[name])
    assert not np.array_equal(a["query"], c["query"])


def test_total_sampling_for_multilabel():
    rng = np.random.default_rng(0)
    labels = (rng.random((300, 5)) < 0.3).astype(np.uint8)
    split = splits.make_split(labels, {"query": {"total": 30}, "train": {"total": 100}}, 0)
    assert split["query"].size == 30 and split["database"].size == 270 and split["train"].size == 100
    with pytest.raises(HashbenchError, match="per_class: needs single-label data"):
        splits.make_split(labels, {"query": {"per_class": 3}, "train": {"total": 10}}, 0)
    with pytest.raises(HashbenchError, match=r"split.train.total: asks for 500 items but only 270"):
        splits.make_split(labels, {"query": {"total": 30}, "train": {"total": 500}}, 0)


def test_prepared_split_checksum_is_verified(digits_dir, tmp_path):
    data = splits.load(digits_dir)
    meta = io.read_json(digits_dir / "split.json")
    assert data.checksum == meta["checksum"] and len(data.checksum) == 64
    assert meta["sizes"] == {"query": 100, "database": 1697, "train": 500}
    tampered = tmp_path / "digits"
    tampered.mkdir()
    for name in ("dataset.npz", "split.json"):
        (tampered / name).write_bytes((digits_dir / name).read_bytes())
    swapped = dict(data.split)
    swapped["query"] = swapped["query"][::-1]
    io.save_npz(tampered / "split.npz", **swapped)
    with pytest.raises(HashbenchError, match=r"split.npz: checksum .* does not match split.json"):
        splits.load(tampered)
    (tampered / "split.npz").write_bytes(b"not a zip file")
    with pytest.raises(HashbenchError, match=r"split.npz: not a readable .npz file \(not a zip archive\)"):
        splits.load(tampered)
    (tampered / "split.npz").unlink()
    with pytest.raises(HashbenchError, match=r"split.npz: file not found"):
        splits.load(tampered)


def test_pixel_features_are_centred_on_the_training_set(digits_dir):
    data = splits.load(digits_dir)
    x = data.features("pixels")
    assert x.shape == (1797, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x[data.split["train"]].mean(axis=0), 0, atol=1e-6)
    assert (x.max(axis=0) - x.min(axis=0) <= 1.0 + 1e-6).all()  # each pixel scaled to [0, 1], then shifted
