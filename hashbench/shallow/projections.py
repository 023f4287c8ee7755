"""PCA directions, the ITQ rotation, squared distances and RBF anchor features."""

from __future__ import annotations

import numpy as np

from hashbench.codes import sign
from hashbench.params import Integer, check
from hashbench.errors import HashbenchError


def pca_directions(X: np.ndarray, n_components: int) -> np.ndarray:
    """Top principal directions of centred X (D x n_components), each column's largest entry positive."""
    if n_components > X.shape[1]:
        raise HashbenchError(f"n_bits: {n_components} bits exceed the feature dimension {X.shape[1]}")
    eigval, eigvec = np.linalg.eigh(np.cov(X, rowvar=False))
    top = eigvec[:, np.argsort(eigval)[::-1][:n_components]]
    return top * np.sign(top[np.abs(top).argmax(axis=0), np.arange(n_components)])


def itq_rotation(V: np.ndarray, n_iter: int, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """ITQ (Gong & Lazebnik 2011): alternate B = sgn(VR) and the orthogonal Procrustes update of R.

    Returns R and the quantization loss ||B - VR||_F^2 after each iteration (never increasing).
    """
    R, _ = np.linalg.qr(rng.standard_normal((V.shape[1], V.shape[1])))
    history = []
    for _ in range(n_iter):
        B = sign(V @ R).astype(V.dtype)
        S, _, S_hat_t = np.linalg.svd(B.T @ V)
        R = S_hat_t.T @ S.T
        history.append(float(np.sum((B - V @ R) ** 2)))
    return R, history


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(len(A), len(B)) squared Euclidean distances, clipped at 0 against rounding."""
    return np.maximum((A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2 * A @ B.T, 0)


class RBFAnchors:
    """Gaussian RBF features on anchor points, k(x, a) = exp(-||x - a||^2 / (2 sigma^2)), centred.

    ``sigma`` defaults to the root mean squared distance between the training points and the
    anchors (as in KSH's code); the kernel features are centred by their training mean.
    """

    def __init__(self, X: np.ndarray, n_anchors: int, sigma: float | None, rng: np.random.Generator):
        check("n_anchors", n_anchors, Integer(1, X.shape[0]), " (the training set size)")
        self.anchors = X[rng.choice(X.shape[0], n_anchors, replace=False)]
        sq = self._sq_dist(X)
        self.sigma = float(sigma) if sigma is not None else float(np.sqrt(sq.mean()))
        self.mean = np.exp(-sq / (2 * self.sigma**2)).mean(axis=0)

    def _sq_dist(self, X):
        return squared_distances(X, self.anchors)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return np.exp(-self._sq_dist(np.asarray(X, dtype=np.float64)) / (2 * self.sigma**2)) - self.mean


def anchors_and_sample(X, n_anchors, sigma, size, default_cap: int, name: str, rng):
    """The RBF anchor kernel of a kernel method and the random training subset its objective uses.

    ``size`` None means min(default_cap, n); an explicit size must lie in 2..n (hyperparameter ``name``).
    """
    n = X.shape[0]
    size = min(default_cap, n) if size is None else size
    check(name, size, Integer(2, n), " (the training set size)")
    return RBFAnchors(X, n_anchors, sigma, rng), rng.choice(n, size, replace=False)
