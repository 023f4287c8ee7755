"""ITQ: Iterative Quantization (Gong & Lazebnik, CVPR 2011, Sec. 2; TPAMI 2013).

Centre the data, project on the top-K principal directions (V = (X - mu) W_pca), then minimise the
quantization loss Q(B, R) = ||B - V R||_F^2 over codes B in {-1,+1}^{n x K} and an orthogonal
K x K rotation R, alternating for ``n_iter`` (50) iterations from a random orthogonal R:
  fix R: B = sgn(V R);
  fix B: the orthogonal Procrustes problem, SVD  B^T V = S Omega S_hat^T,  R = S_hat S^T.
Each step cannot increase Q; ``loss_history_`` records Q after every iteration. Codes are
sgn((x - mu) W_pca R). K must not exceed the feature dimension.
"""

import numpy as np

from hashbench.base import HashMethod, sign
from hashbench.errors import HashbenchError


def pca_directions(X: np.ndarray, n_components: int) -> np.ndarray:
    """Top principal directions (D x n_components), sign fixed so each column's largest entry is positive."""
    if n_components > X.shape[1]:
        raise HashbenchError(f"n_bits: {n_components} bits exceed the feature dimension {X.shape[1]}")
    eigval, eigvec = np.linalg.eigh(np.cov(X, rowvar=False))
    top = eigvec[:, np.argsort(eigval)[::-1][:n_components]]
    return top * np.sign(top[np.abs(top).argmax(axis=0), np.arange(n_components)])


def itq_rotation(V: np.ndarray, n_iter: int, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """Alternate B = sgn(VR) and the Procrustes update of R; return R and the loss after each iteration."""
    R, _ = np.linalg.qr(rng.standard_normal((V.shape[1], V.shape[1])))
    history = []
    for _ in range(n_iter):
        B = sign(V @ R).astype(V.dtype)
        S, _, S_hat_t = np.linalg.svd(B.T @ V)
        R = S_hat_t.T @ S.T
        history.append(float(np.sum((B - V @ R) ** 2)))
    return R, history


class ITQ(HashMethod):
    name = "ITQ"

    def __init__(self, n_bits=32, seed=0, n_iter=50):
        super().__init__(n_bits, seed)
        self.n_iter = n_iter

    def fit(self, X, Y=None):
        if not isinstance(self.n_iter, int) or self.n_iter < 1:
            raise HashbenchError(f"n_iter: expected a positive integer, got {self.n_iter!r}")
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        self.pca_ = pca_directions(X - self.mean_, self.n_bits)
        V = (X - self.mean_) @ self.pca_
        self.rotation_, self.loss_history_ = itq_rotation(V, self.n_iter, np.random.default_rng(self.seed))
        return self

    def encode(self, X):
        return sign((np.asarray(X, dtype=np.float64) - self.mean_) @ self.pca_ @ self.rotation_)
