"""The suite's sgn, and one fact about label matrices, shared by methods and their building blocks."""

from __future__ import annotations

import numpy as np


def sign(x: np.ndarray) -> np.ndarray:
    """sgn with sgn(0) = +1 (HashNet Eq. 5), as int8."""
    return np.where(np.asarray(x) >= 0, 1, -1).astype(np.int8)


def multi_label(Y) -> bool:
    """Whether a 0/1 label matrix is multi-label: some item has other than exactly one label."""
    return bool((np.asarray(Y).sum(axis=1) != 1).any())
