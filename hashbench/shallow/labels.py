"""Label similarity: items are similar when they share a label."""

from __future__ import annotations

import numpy as np


def similar(Y1: np.ndarray, Y2: np.ndarray) -> np.ndarray:
    """Boolean (n1, n2) matrix: True where two items share at least one label."""
    return (np.asarray(Y1, dtype=np.float32) @ np.asarray(Y2, dtype=np.float32).T) > 0


class LabelSimilarity:
    """The m x m matrix S_ij = +1 for items sharing a label, -1 otherwise, as an operator ``S @ B``.

    For single-label data S = 2 Y Y^T - 1 1^T is applied in O(m C) per column without forming it;
    multi-label data uses the dense matrix.
    """

    def __init__(self, Y: np.ndarray):
        self.Y = np.asarray(Y, dtype=np.float64)
        single = bool((self.Y.sum(axis=1) == 1).all())
        self.dense = None if single else np.where(similar(Y, Y), 1.0, -1.0)

    def __matmul__(self, B: np.ndarray) -> np.ndarray:
        if self.dense is not None:
            return self.dense @ B
        return 2 * self.Y @ (self.Y.T @ B) - B.sum(axis=0)
