"""Shared splits: computed once per protocol, stored with their seed and checksum, read by every run.

Layout of ``data/<protocol>/``:
  dataset.npz        labels (N, C) 0/1 uint8 and either images (N, H, W[, 3]) uint8 or, for image-file
                     sources, paths (N,) str, as the source gives them
  split.npz          query, database, train: int64 indices into the dataset, each in a seeded random
                     order (never grouped by class: index-stable tie-breaking would see the classes)
  split.json         protocol, seed, sizes, and the sha256 checksum of the split arrays and labels
  features-<kind>.npy  (N, D) float32 features for the shallow methods
  images-<resize>.npy  image files only: every image decoded and resized once, uint8 (N, R, R, 3),
                     read by the deep methods' loaders instead of the files (``hashbench.images``)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench import config, io
from hashbench.datasets import SOURCES
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")
SPLITS = ("query", "database", "train")
IMAGE_CACHE = "images-{resize}.npy"


def image_cache_path(directory, pipeline: dict | None) -> Path:
    """Where a protocol's image cache lives, for its pipeline's resize size."""
    return Path(directory) / IMAGE_CACHE.format(resize=config.pipeline_spec(pipeline)["resize"])


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
    """Queries from all items, the training set from the rest; the database is every non-query item
    (``train_in_database``, default, HashNet's protocols) or every item in neither set (CIFAR-10's)."""
    rng = np.random.default_rng(seed)
    everything = np.arange(labels.shape[0])
    query = _draw(rng, everything, labels, split["query"], f"{field}.query")
    database = np.setdiff1d(everything, query)
    train = _draw(rng, database, labels, split["train"], f"{field}.train")
    if not split.get("train_in_database", True):
        database = np.setdiff1d(database, train)
    return {name: rng.permutation(idx).astype(np.int64) for name, idx in
            (("query", query), ("database", database), ("train", train))}


def _checksum(split: dict, labels: np.ndarray, paths: np.ndarray | None) -> str:
    """sha256 of the split arrays and labels (and, for image files, their paths)."""
    return io.checksum(*(split[name] for name in SPLITS), labels, *(() if paths is None else (paths,)))


def prepare(protocol: str, spec: dict, out_dir) -> None:
    """Write dataset.npz, split.npz and split.json for one protocol definition."""
    out_dir = Path(out_dir)
    source = SOURCES[spec["source"]]
    loaded = source.load(protocol, spec)
    labels = loaded.labels
    if spec["labels"] == "single" and not (labels.sum(axis=1) == 1).all():
        raise HashbenchError(f"protocol_defs.{protocol}.labels: 'single' but source '{spec['source']}' has "
                             "items with several or no labels")
    if loaded.split is None:
        split = make_split(labels, spec["split"], spec["seed"], f"protocol_defs.{protocol}.split")
    else:  # the lists fix the membership; store each set in a seeded random order all the same
        rng = np.random.default_rng(spec["seed"])
        split = {name: rng.permutation(loaded.split[name]) for name in SPLITS}
    paths = loaded.items if source.files else None
    io.save_npz(out_dir / "dataset.npz", labels=labels, **({"paths": paths} if source.files else {"images": loaded.items}))
    io.save_npz(out_dir / "split.npz", **split)
    io.write_json(out_dir / "split.json", {
        "protocol": protocol,
        "source": spec["source"],
        "seed": spec["seed"],
        "sizes": {name: int(split[name].size) for name in SPLITS},
        "n_labels": int(labels.shape[1]),
        "checksum": _checksum(split, labels, paths),
    })


@dataclass
class ProtocolData:
    """A prepared protocol: its labels, split indices and verified checksum."""

    directory: Path
    source: str
    labels: np.ndarray
    split: dict[str, np.ndarray]
    checksum: str

    def images(self, pipeline: dict | None = None, threads: int | None = None):
        """The deep methods' input, an ``hashbench.images`` image set: with ``pipeline`` (and always
        for image files) resized, cropped and normalised on the fly by loader workers (their number
        from ``threads``: ``hashbench.config.loader_workers``), image files read from the protocol's
        image cache when the pipeline's ``cache`` is on and the cache is built; otherwise the
        in-memory images as float32 (N, C, H, W) scaled to [0, 1]."""
        from hashbench import images

        source = SOURCES[self.source]
        key = "paths" if source.files else "images"
        items = io.load_npz(self.directory / "dataset.npz", (key,))[key]
        if not source.files and pipeline is None:
            return images.ArrayImages(items, source.pixel_max)
        spec = config.pipeline_spec(pipeline)
        spec["workers"] = config.loader_workers(spec, threads)
        cache = image_cache_path(self.directory, spec)
        if source.files and spec["cache"]:
            if cache.exists():
                items = images.ImageCache(cache)
                if len(items) != len(self.labels):
                    raise HashbenchError(f"{cache}: holds {len(items)} images, the protocol {len(self.labels)}; "
                                         "delete it and re-run to rebuild it")
            else:
                log.warning("%s not built: decoding the image files (run the workflow's image_cache rule once)",
                            cache)
        return images.PipelineImages(items, spec)

    def write_image_cache(self, pipeline: dict | None, threads: int | None) -> Path:
        """Decode and resize every image file of the protocol once (its pipeline's resize size)."""
        from hashbench import images

        if not SOURCES[self.source].files:
            raise HashbenchError(f"{self.directory}: source '{self.source}' holds its images in memory; "
                                 "only image files are cached")
        spec = config.pipeline_spec(pipeline)
        paths = io.load_npz(self.directory / "dataset.npz", ("paths",))["paths"]
        out = image_cache_path(self.directory, spec)
        log.info("caching %d images at %dx%d in %s", len(paths), spec["resize"], spec["resize"], out)
        images.write_cache(paths, spec["resize"], out, config.loader_workers(spec, threads))
        return out

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
    files = SOURCES[meta["source"]].files
    dataset = io.load_npz(directory / "dataset.npz", ("labels", "paths") if files else ("labels",))
    labels = dataset["labels"]
    actual = _checksum(split, labels, dataset.get("paths"))
    if actual != meta.get("checksum"):
        raise HashbenchError(f"{directory / 'split.npz'}: checksum {actual[:12]}... does not match split.json "
                             f"({str(meta.get('checksum'))[:12]}...); delete {directory} and re-run to rebuild it")
    return ProtocolData(directory, meta["source"], labels, split, actual)


def write_features(directory, spec: dict, threads: int | None = None) -> Path:
    """The shallow methods' features ``spec['features']`` of every item, zero-centred by the
    training-set mean: ``pixels`` (scaled to [0, 1]) or ``alexnet-fc7`` (4096-d fc7 activations of
    the ImageNet-pretrained AlexNet on the centre crop of the protocol's image pipeline)."""
    directory = Path(directory)
    data = load(directory)
    kind = spec["features"]
    if kind == "pixels":
        if SOURCES[data.source].files:
            raise HashbenchError(f"features: 'pixels' needs in-memory images; source '{data.source}' is image files "
                                 "of varying size: use alexnet-fc7")
        images = io.load_npz(directory / "dataset.npz", ("images",))["images"]
        x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(SOURCES[data.source].pixel_max)
    else:
        from hashbench.deep.features import alexnet_fc7

        x = alexnet_fc7(data.images(spec.get("pipeline") or {}, threads), spec.get("feature_weights"))
    x -= x[data.split["train"]].mean(axis=0)
    path = directory / f"features-{kind}.npy"
    with io.atomic_path(path) as tmp:
        np.save(tmp, x)
    return path
