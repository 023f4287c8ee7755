"""Small image folders and list files in the released format (``<path> <0/1 labels>``), made by tests."""

from pathlib import Path

import numpy as np
from PIL import Image

PREFIX = "/home/author/dataset/toy"  # stands in for the authors' absolute dataset folder


def write_images(root: Path, n_classes: int = 3, per_class: int = 12, size=(48, 40), seed: int = 0):
    """Per class, images of one dominant colour with noise (JPEG and PNG); returns [(relative path, class)]."""
    rng = np.random.default_rng(seed)
    items = []
    for c in range(n_classes):
        colour = np.zeros(3)
        colour[c % 3] = 200
        for i in range(per_class):
            pixels = np.clip(colour + rng.normal(0, 40, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
            rel = f"class{c}/img{i:03d}.{'jpg' if i % 2 else 'png'}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / rel)
            items.append((rel, c))
    return items


def line(path: str, label: int, n_classes: int) -> str:
    return path + " " + " ".join("1" if k == label else "0" for k in range(n_classes))


def write_list(path: Path, items, n_classes: int = 3, prefix: str = PREFIX) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line(f"{prefix}/{rel}", c, n_classes) + "\n" for rel, c in items))
    return path


def released_lists(root: Path, n_classes: int = 3, per_class: int = 12) -> dict:
    """Images under root/images and query/database/train lists under root/lists with absolute paths
    under PREFIX: per class, 2 queries, the rest database, half of the database also in train."""
    items = write_images(root / "images", n_classes, per_class)
    query = [it for it in items if int(it[0].split("img")[1][:3]) < 2]
    database = [it for it in items if it not in query]
    train = database[::2]
    return {name: str(write_list(root / "lists" / f"{name}.txt", part, n_classes))
            for name, part in (("query", query), ("database", database), ("train", train))}


def write_cifar10(root: Path, per_batch: int = 60, seed: int = 0) -> Path:
    """torchvision's CIFAR-10 folder (``cifar-10-batches-py``: five training batches and a test batch,
    each a pickled dict of ``data`` (N, 3072) uint8 channel-major and ``labels``) with ``per_batch``
    images a batch, the classes in turn; a class is a colour ramp plus noise. Returns the folder."""
    import pickle

    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 1, 32)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [i % 10 for i in range(per_batch)]
        images = np.empty((per_batch, 3, 32, 32))
        for row, c in enumerate(labels):
            direction = ramp[:, None] if c % 2 else ramp[None, :]
            for channel in range(3):
                images[row, channel] = 255 * ((c // 2 + channel) % 5) / 4 * direction
        images = np.clip(images + rng.normal(0, 30, images.shape), 0, 255).astype(np.uint8)
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": images.reshape(per_batch, -1), "labels": labels, "batch_label": name}, fh)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{c}" for c in range(10)]}))
    return folder
