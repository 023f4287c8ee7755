"""Shared splits: computed once per protocol, stored with their seed and checksum, read by every run.

Layout of ``data/<protocol>/``:
  dataset.npz        images (N, H, W) uint8 and labels (N, C) 0/1 uint8, as the source gives them
  split.npz          query, database, train: int64 indices into the dataset, each in a seeded random
                     order (never grouped by class: index-stable tie-breaking would see the classes)
  split.json         protocol, seed, sizes, and the sha256 checksum of the split arrays and labels
  features-<kind>.npy  (N, D) float32 features for the shallow methods
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench import io
from hashbench.datasets import SOURCES
from hashbench.errors import HashbenchError

SPLITS = ("query", "database", "train")


def _draw(rng, pool: np.ndarray, labels: np.ndarray, part: dict, field: str) -> np.ndarray:
    """Draw indices from ``pool``: ``{per_class: n}`` per class (single-label) or ``{total: n}``."""
    if "total" in part:
        if part["total"] > pool.size:
            raise HashbenchError(f"{field}.total: asks for {part['total']} items but only {pool.size} are available")
        return rng.choice(pool, part["total"], replace=False)
    if (labels[pool].sum(axis=1) != 1).any():
        raise HashbenchError(f"{field}.per_class: needs single-label data; use 'total' for multi-label data")
    classes = labels[pool].argmax(axis=1)
    drawn = []
    for c in range(labels.shape[1]):
        members = pool[classes == c]
        if members.size < part["per_class"]:
            raise HashbenchError(f"{field}.per_class: class {c} has only {members.size} items, "
                                 f"fewer than {part['per_class']}")
        drawn.append(rng.choice(members, part["per_class"], replace=False))
    return np.concatenate(drawn)


def make_split(labels: np.ndarray, split: dict, seed: int, field: str = "split") -> dict[str, np.ndarray]:
    """Queries from all items, database = the rest, training set drawn from the database."""
    rng = np.random.default_rng(seed)
    everything = np.arange(labels.shape[0])
    query = _draw(rng, everything, labels, split["query"], f"{field}.query")
    database = np.setdiff1d(everything, query)
    train = _draw(rng, database, labels, split["train"], f"{field}.train")
    return {name: rng.permutation(idx).astype(np.int64) for name, idx in
            (("query", query), ("database", database), ("train", train))}


def prepare(protocol: str, spec: dict, out_dir) -> None:
    """Write dataset.npz, split.npz and split.json for one protocol definition."""
    out_dir = Path(out_dir)
    images, labels = SOURCES[spec["source"]].load()
    is_single = bool((labels.sum(axis=1) == 1).all())
    if spec["labels"] == "single" and not is_single:
        raise HashbenchError(f"protocol_defs.{protocol}.labels: 'single' but source '{spec['source']}' has "
                             "items with several or no labels")
    split = make_split(labels, spec["split"], spec["seed"], f"protocol_defs.{protocol}.split")
    io.save_npz(out_dir / "dataset.npz", images=images, labels=labels)
    io.save_npz(out_dir / "split.npz", **split)
    io.write_json(out_dir / "split.json", {
        "protocol": protocol,
        "source": spec["source"],
        "seed": spec["seed"],
        "sizes": {name: int(split[name].size) for name in SPLITS},
        "n_labels": int(labels.shape[1]),
        "checksum": io.checksum(*(split[name] for name in SPLITS), labels),
    })


@dataclass
class ProtocolData:
    """A prepared protocol: its labels, split indices and verified checksum."""

    directory: Path
    source: str
    labels: np.ndarray
    split: dict[str, np.ndarray]
    checksum: str

    def images(self) -> np.ndarray:
        """Images as float32 (N, C, H, W) scaled to [0, 1], the input of the deep methods."""
        images = io.load_npz(self.directory / "dataset.npz", ("images",))["images"].astype(np.float32)
        images /= np.float32(SOURCES[self.source].pixel_max)
        return images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)

    def features(self, kind: str) -> np.ndarray:
        path = self.directory / f"features-{kind}.npy"
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise HashbenchError(f"{path}: file not found; run the workflow's features rule first") from None
        except ValueError as exc:
            raise HashbenchError(f"{path}: not a readable .npy file ({exc})") from None


def load(directory) -> ProtocolData:
    directory = Path(directory)
    meta = io.read_json(directory / "split.json")
    split = io.load_npz(directory / "split.npz", SPLITS)
    labels = io.load_npz(directory / "dataset.npz", ("labels",))["labels"]
    actual = io.checksum(*(split[name] for name in SPLITS), labels)
    if actual != meta.get("checksum"):
        raise HashbenchError(f"{directory / 'split.npz'}: checksum {actual[:12]}... does not match split.json "
                             f"({str(meta.get('checksum'))[:12]}...); delete {directory} and re-run to rebuild it")
    return ProtocolData(directory, meta["source"], labels, split, actual)


def write_pixel_features(directory, source: str) -> None:
    """Pixels scaled to [0, 1] and zero-centred by the training-set mean."""
    directory = Path(directory)
    data = load(directory)
    images = io.load_npz(directory / "dataset.npz", ("images",))["images"]
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(SOURCES[source].pixel_max)
    x -= x[data.split["train"]].mean(axis=0)
    with io.atomic_path(directory / "features-pixels.npy") as tmp:
        np.save(tmp, x)
