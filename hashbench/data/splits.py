"""Shared splits: computed once per protocol, stored with their seed and checksum, read by every run.

In ``data/<protocol>/`` (file names: ``hashbench.layout``):
  dataset.npz        labels (N, C) 0/1 uint8 and either images (N, H, W[, 3]) uint8 or, for image-file
                     sources, paths (N,) str, as the source gives them; composed sources add parts
                     (N, slots): each item's source images (``hashbench.data.composed``)
  split.npz          query, database, train: int64 indices into the dataset, each in a seeded random
                     order (never grouped by class: index-stable tie-breaking would see the classes)
  split.json         protocol, seed, sizes, the held-out classes of an unseen-class split, the listed
                     images a copy lacks (missing: drop; their count and names), and the sha256
                     checksum of the split arrays and labels
The features and the image cache beside them are written by ``hashbench.stages.features``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench import io, settings
from hashbench.data.sources import SOURCES
from hashbench.errors import HashbenchError
from hashbench.layout import DATASET, SPLIT, SPLIT_META, features_file, image_cache_file

log = logging.getLogger("hashbench")
SPLITS = ("query", "database", "train")


def _draw(rng, pool: np.ndarray, labels: np.ndarray, part: dict, field: str, classes=None) -> np.ndarray:
    """Draw indices from ``pool``: ``{per_class: n}`` per class (single-label; of ``classes``, default
    every class) or ``{total: n}``."""
    if "total" in part:
        if part["total"] > pool.size:
            raise HashbenchError(f"{field}.total: asks for {part['total']} items but only {pool.size} are available")
        return rng.choice(pool, part["total"], replace=False)
    if (labels[pool].sum(axis=1) != 1).any():
        raise HashbenchError(f"{field}.per_class: needs single-label data; use 'total' for multi-label data")
    item_class = labels[pool].argmax(axis=1)
    drawn = []
    for c in range(labels.shape[1]) if classes is None else classes:
        members = pool[item_class == c]
        if members.size < part["per_class"]:
            raise HashbenchError(f"{field}.per_class: class {c} has only {members.size} items, "
                                 f"fewer than {part['per_class']}")
        drawn.append(rng.choice(members, part["per_class"], replace=False))
    return np.concatenate(drawn)


def unseen_classes(labels: np.ndarray, unseen: dict, rng: np.random.Generator, field: str) -> np.ndarray:
    """The held-out classes of the unseen-class protocol: ``{classes: [c, ...]}`` or a seeded draw of
    ``{count: n}`` of them."""
    n_classes = labels.shape[1]
    if (labels.sum(axis=1) != 1).any():
        raise HashbenchError(f"{field}: the unseen-class split needs single-label data")
    if "classes" in unseen:
        held = np.unique(np.asarray(unseen["classes"], dtype=np.int64))
        if held.size != len(unseen["classes"]) or held.min() < 0 or held.max() >= n_classes:
            raise HashbenchError(f"{field}.classes: expected distinct classes in 0..{n_classes - 1}, "
                                 f"got {unseen['classes']}")
    else:
        held = np.sort(rng.choice(n_classes, unseen["count"], replace=False))
    if not 0 < held.size < n_classes:
        raise HashbenchError(f"{field}: hold out between 1 and {n_classes - 1} of the {n_classes} classes, "
                             f"got {held.size}")
    return held


def make_split(labels: np.ndarray, split: dict, seed: int, field: str = "split") -> dict[str, np.ndarray]:
    """Queries from all items, the training set from the rest; the database is every non-query item
    (``train_in_database``, default, HashNet's protocols) or every item in neither set (CIFAR-10's).
    With ``unseen`` (single-label data), classes are held out: queries and database come from the
    held-out classes only, the training set from the others only (Sablayrolles et al., ICASSP 2017)."""
    rng = np.random.default_rng(seed)
    everything = np.arange(labels.shape[0])
    if "unseen" in split:
        held = unseen_classes(labels, split["unseen"], rng, f"{field}.unseen")
        is_held = np.isin(labels.argmax(axis=1), held)
        query = _draw(rng, everything[is_held], labels, split["query"], f"{field}.query", held)
        database = np.setdiff1d(everything[is_held], query)
        seen = np.setdiff1d(np.arange(labels.shape[1]), held)
        train = _draw(rng, everything[~is_held], labels, split["train"], f"{field}.train", seen)
    else:
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
    else:  # the source fixes the membership; each set is stored in a seeded random order all the same
        rng = np.random.default_rng(spec["seed"])
        fixed = dict(loaded.split)
        if "train" not in fixed:  # composed sources fix query and database: training from the database
            fixed["train"] = _draw(rng, fixed["database"], labels, spec["split"]["train"],
                                   f"protocol_defs.{protocol}.split.train")
        split = {name: rng.permutation(fixed[name]).astype(np.int64) for name in SPLITS}
    if loaded.dropped:
        log.warning("protocol_defs.%s: %d listed image(s) not found, dropped from every split (missing: drop), e.g. %s",
                    protocol, len(loaded.dropped), loaded.dropped[0])
    paths = loaded.items if source.files else None
    stored = {"paths": paths} if source.files else {"images": loaded.items}
    if loaded.parts is not None:
        stored["parts"] = loaded.parts
    io.save_npz(out_dir / DATASET, labels=labels, **stored)
    io.save_npz(out_dir / SPLIT, **split)
    # the held-out classes are those of the query and database items: every held-out item is one of them
    held = ({"unseen_classes": np.flatnonzero(labels[np.concatenate([split["query"], split["database"]])]
                                              .any(axis=0)).tolist()}
            if "unseen" in spec.get("split", {}) else {})
    io.write_json(out_dir / SPLIT_META, {
        "protocol": protocol,
        "source": spec["source"],
        "seed": spec["seed"],
        "sizes": {name: int(split[name].size) for name in SPLITS},
        "n_labels": int(labels.shape[1]),
        **held,
        **({"missing_dropped": {"count": len(loaded.dropped), "images": loaded.dropped}} if loaded.dropped else {}),
        "checksum": _checksum(split, labels, paths),
    })


@dataclass
class ProtocolData:
    """A prepared protocol: its labels, split indices, verified checksum and split.json (``meta``)."""

    directory: Path
    source: str
    labels: np.ndarray
    split: dict[str, np.ndarray]
    checksum: str
    meta: dict

    @property
    def protocol(self) -> str:
        return self.meta["protocol"]

    @property
    def files(self) -> bool:
        """True for sources of image files (their items are paths)."""
        return SOURCES[self.source].files

    def items(self) -> np.ndarray:
        """The stored items: image paths (image files) or the (N, H, W[, 3]) uint8 images."""
        key = "paths" if self.files else "images"
        return io.load_npz(self.directory / DATASET, (key,))[key]

    def deep_input(self, protocol_def: dict, threads: int | None = None, workers: int | None = None):
        """What the deep methods train on: the protocol's image pipeline when it names one or reads
        image files, else its in-memory images as they are (``hashbench.deep.images``)."""
        if self.files or protocol_def.get("pipeline") is not None:
            return self.pipeline_images(protocol_def.get("pipeline"), threads, workers)
        return self.array_images()

    def array_images(self):
        """The in-memory images as float32 (N, C, H, W) scaled to [0, 1]."""
        from hashbench.deep.images import ArrayImages  # torch: only for deep methods

        if self.files:
            raise HashbenchError(f"{self.directory}: source '{self.source}' is image files; they need a pipeline")
        return ArrayImages(self.items(), SOURCES[self.source].pixel_max)

    def pipeline_images(self, pipeline: dict | None, threads: int | None = None, workers: int | None = None):
        """The images through the pipeline ``pipeline`` (defaults filled in: resize, crop, normalise)
        with ``workers`` loader processes (execution.workers), by default one per thread
        (``hashbench.settings.loader_workers``); image files are read from the protocol's
        image cache when the pipeline's ``cache`` is on and the cache is built."""
        from hashbench.deep.images import ImageCache, PipelineImages  # torch: only for deep methods

        spec = settings.pipeline_spec(pipeline)
        spec["workers"] = settings.loader_workers(workers, threads)
        items = self.items()
        cache = self.directory / image_cache_file(spec["resize"])
        if self.files and spec["cache"]:
            if cache.exists():
                items = ImageCache(cache)
                if len(items) != len(self.labels):
                    raise HashbenchError(f"{cache}: holds {len(items)} images, the protocol {len(self.labels)}; "
                                         "delete it and re-run to rebuild it")
            else:
                log.warning("%s not built: decoding the image files (run the workflow's image_cache rule once)",
                            cache)
        return PipelineImages(items, spec)

    def features(self, kind: str) -> np.ndarray:
        path = self.directory / features_file(kind)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise HashbenchError(f"{path}: file not found; run the workflow's features rule first") from None
        except ValueError as exc:
            raise HashbenchError(f"{path}: not a readable .npy file ({exc})") from None


def load(directory) -> ProtocolData:
    directory = Path(directory)
    meta = io.read_json(directory / SPLIT_META)
    split = io.load_npz(directory / SPLIT, SPLITS)
    files = SOURCES[meta["source"]].files
    dataset = io.load_npz(directory / DATASET, ("labels", "paths") if files else ("labels",))
    labels = dataset["labels"]
    actual = _checksum(split, labels, dataset.get("paths"))
    if actual != meta.get("checksum"):
        raise HashbenchError(f"{directory / SPLIT}: checksum {actual[:12]}... does not match split.json "
                             f"({str(meta.get('checksum'))[:12]}...); delete {directory} and re-run to rebuild it")
    return ProtocolData(directory, meta["source"], labels, split, actual, meta)
