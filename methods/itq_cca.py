"""ITQ-CCA: supervised ITQ on a CCA embedding (Gong & Lazebnik, CVPR 2011 Sec. 3.2; TPAMI 2013 Sec. 5).

1. Regularised CCA between the centred features X and the label matrix Y: the directions w solve
   Cxy Cyy^-1 Cyx w = r^2 Cxx w with Cxx + reg*I and Cyy + reg*I (reg = 1e-4 as in the authors' code).
2. Keep the top-K directions and scale each by its canonical correlation r (the eigenvalue
   scaling of the paper), V = (X - mu) W diag(r).
3. Learn the ITQ rotation on V (50 iterations) and output sgn(V R).
With C label columns, at most C directions carry correlation; longer codes add near-zero
directions, which is why ITQ-CCA degrades at long codes (HashNet Table 1, NUS-WIDE/MS-COCO).
"""

import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.params import Integer, Real
from hashbench.errors import HashbenchError
from hashbench.shallow.projections import itq_rotation


def cca_directions(X: np.ndarray, Y: np.ndarray, n_components: int, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """Top canonical directions of centred X against Y, and their canonical correlations."""
    if n_components > X.shape[1]:
        raise HashbenchError(f"n_bits: {n_components} bits exceed the feature dimension {X.shape[1]}")
    Yc = Y - Y.mean(axis=0)
    n = X.shape[0] - 1
    cxx = X.T @ X / n + reg * np.eye(X.shape[1])
    cyy = Yc.T @ Yc / n + reg * np.eye(Y.shape[1])
    cxy = X.T @ Yc / n
    a = cxy @ np.linalg.solve(cyy, cxy.T)
    import scipy.linalg  # imported here: listing methods (every job, Snakemake's DAG) stays free of scipy

    eigval, eigvec = scipy.linalg.eigh((a + a.T) / 2, cxx)
    order = np.argsort(eigval)[::-1][:n_components]
    w = eigvec[:, order]
    w *= np.sign(w[np.abs(w).argmax(axis=0), np.arange(n_components)])
    return w, np.sqrt(np.clip(eigval[order], 0, None))


class ITQCCA(HashMethod):
    name = "ITQ-CCA"
    STYLE = ("#7f7f7f", ">")
    CLAIM_GROUP = "shallow baseline"
    supervised = True

    PARAMS = {"n_iter": Integer(1), "reg": Real(0, closed="neither")}

    def __init__(self, n_bits=32, seed=0, n_iter=50, reg=1e-4):
        super().__init__(n_bits, seed)
        self.n_iter = n_iter
        self.reg = reg

    def fit(self, X, Y):
        self.validate()
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        w, self.correlations_ = cca_directions(X - self.mean_, np.asarray(Y, dtype=np.float64), self.n_bits, self.reg)
        self.projection_ = w * self.correlations_
        V = (X - self.mean_) @ self.projection_
        self.rotation_, self.loss_history_ = itq_rotation(V, self.n_iter, np.random.default_rng(self.seed))
        return self

    def encode(self, X):
        return sign((np.asarray(X, dtype=np.float64) - self.mean_) @ self.projection_ @ self.rotation_)
