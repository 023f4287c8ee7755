"""The fashion-mnist source, on tiny IDX files written here (never the real data)."""

import gzip
import struct

import numpy as np
import pytest

from hashbench.data import sources, splits
from hashbench.errors import HashbenchError


def write_idx(path, array, compress=True):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    with (gzip.open if compress else open)(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def fake_fashion(folder, n_train=40, n_test=20, compress=True, seed=0):
    """IDX files in the originals' names: images whose first pixel counts the item, labels cycling
    through the 10 classes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for part, n, offset in (("train", n_train, 0), ("test", n_test, n_train)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = (np.arange(n) + offset) % 256
        labels = (np.arange(n) + offset) % 10
        image_name, label_name = sources.FASHION_FILES[part]
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{image_name}{suffix}", images, compress)
        write_idx(folder / f"{label_name}{suffix}", labels, compress)
        made[part] = images, labels
    return made


@pytest.mark.parametrize("compress", [True, False])
def test_reads_the_training_file_then_the_test_file(tmp_path, compress):
    made = fake_fashion(tmp_path / "f", compress=compress)
    loaded = sources.SOURCES["fashion-mnist"].load("fashion", {"root": str(tmp_path / "f")})
    assert loaded.items.shape == (60, 28, 28) and loaded.items.dtype == np.uint8
    np.testing.assert_array_equal(loaded.items, np.concatenate([made["train"][0], made["test"][0]]))
    np.testing.assert_array_equal(loaded.labels.argmax(axis=1), np.arange(60) % 10)
    assert loaded.labels.shape == (60, 10) and (loaded.labels.sum(axis=1) == 1).all()


def test_torchvision_download_folder_is_found(tmp_path):
    fake_fashion(tmp_path / "FashionMNIST" / "raw")
    assert sources.SOURCES["fashion-mnist"].load("fashion", {"root": str(tmp_path)}).items.shape[0] == 60


def test_fashion_protocol_shape(tmp_path):
    """The protocol's shape, scaled down: queries and training items per class, the database every
    non-query item, the training set drawn from it."""
    fake_fashion(tmp_path / "f", n_train=300, n_test=100)
    spec = {"source": "fashion-mnist", "root": str(tmp_path / "f"), "features": "pixels", "labels": "single",
            "topk": 10, "seed": 0, "split": {"query": {"per_class": 4}, "train": {"per_class": 10}}}
    splits.prepare("fashion", spec, tmp_path / "out")
    data = splits.load(tmp_path / "out")
    classes = data.labels.argmax(axis=1)
    assert {k: v.size for k, v in data.split.items()} == {"query": 40, "database": 360, "train": 100}
    assert (np.bincount(classes[data.split["query"]]) == 4).all()
    assert (np.bincount(classes[data.split["train"]]) == 10).all()
    assert np.isin(data.split["train"], data.split["database"]).all()
    assert not np.isin(data.split["query"], data.split["database"]).any()


def test_missing_files_in_an_explicit_root_say_what_to_put_there(tmp_path):
    """An explicit root is never downloaded to: the message says so, not "run once online"."""
    with pytest.raises(HashbenchError) as err:
        sources.SOURCES["fashion-mnist"].load("fashion", {"root": str(tmp_path)})
    message = str(err.value)
    assert message.startswith("protocol_defs.fashion.root: Fashion-MNIST's train-images-idx3-ubyte")
    assert "put the four IDX files there, or remove root" in message and "online" not in message
    assert "\n" not in message


def test_a_truncated_or_foreign_file_is_named(tmp_path):
    fake_fashion(tmp_path / "f")
    image_name, _ = sources.FASHION_FILES["test"]
    with gzip.open(tmp_path / "f" / f"{image_name}.gz", "wb") as fh:
        fh.write(struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">3i", 20, 28, 28) + b"\0" * 100)
    with pytest.raises(HashbenchError, match=r"t10k-images-idx3-ubyte.gz: the header says \(20, 28, 28\)"):
        sources.SOURCES["fashion-mnist"].load("fashion", {"root": str(tmp_path / "f")})
    with gzip.open(tmp_path / "f" / f"{image_name}.gz", "wb") as fh:
        fh.write(b"PK\3\4 not an idx file")
    with pytest.raises(HashbenchError, match="not an IDX file"):
        sources.SOURCES["fashion-mnist"].load("fashion", {"root": str(tmp_path / "f")})


def test_without_the_package_it_tries_torchvision_then_names_both_ways(tmp_path, monkeypatch):
    import torchvision.datasets

    tried = []

    def offline(root, train, download):
        tried.append((root, train, download))
        raise OSError("no network")

    monkeypatch.setattr(sources, "FASHION_DEBIAN", tmp_path / "no-such-package")
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", offline)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HashbenchError, match=r"is not in data/downloads; install it \(apt-get install"):
        sources.SOURCES["fashion-mnist"].load("fashion", {})
    assert tried == [(sources.Path("data/downloads"), True, True)]
