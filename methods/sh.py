"""SH: Spectral Hashing (Weiss, Torralba & Fergus, NIPS 2008, Sec. 3.1-3.2).

1. PCA: project the centred training data on its top min(K, D) principal directions.
2. Assume each projected coordinate i is uniform on [a_i, b_i] (the training range). The 1-D
   Laplacian eigenfunctions of a uniform density are Phi_k(x) = sin(pi/2 + k*pi/(b_i - a_i) (x - a_i))
   with eigenvalue lambda_ik = 1 - exp(-eps^2/2 |k*pi/(b_i - a_i)|^2), increasing in k*pi/(b_i - a_i).
3. Among all (direction i, mode k >= 1) pairs take the K with the smallest eigenvalues, i.e. the
   smallest frequencies k*pi/(b_i - a_i) (ties by direction, then mode); each gives one bit.
4. h(x) = sgn(Phi_k(x_i)), thresholding the eigenfunction at zero.
As in the authors' code, only single-direction eigenfunctions are used (the outer-product modes
have larger eigenvalues for the small eps the paper recommends).
"""

import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.shallow.projections import pca_directions


def select_modes(ranges: np.ndarray, n_bits: int) -> np.ndarray:
    """(n_bits, 2) array of (direction, mode k) with the smallest frequencies k*pi/range."""
    max_mode = np.ceil((n_bits + 1) * ranges / ranges.max()).astype(int)  # enough modes per direction
    candidates = np.array([(i, k) for i in range(ranges.size) for k in range(1, max_mode[i] + 1)])
    frequency = candidates[:, 1] * np.pi / ranges[candidates[:, 0]]
    return candidates[np.argsort(frequency, kind="stable")[:n_bits]]


class SH(HashMethod):
    name = "SH"
    STYLE = ("#ff7f0e", "*")
    CLAIM_GROUP = "shallow baseline"

    def fit(self, X, Y=None):
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        self.pca_ = pca_directions(X - self.mean_, min(self.n_bits, X.shape[1]))
        V = (X - self.mean_) @ self.pca_
        self.low_ = V.min(axis=0)
        ranges = np.maximum(V.max(axis=0) - self.low_, 1e-12)
        self.modes_ = select_modes(ranges, self.n_bits)
        self.omega_ = self.modes_[:, 1] * np.pi / ranges[self.modes_[:, 0]]
        return self

    def encode(self, X):
        V = (np.asarray(X, dtype=np.float64) - self.mean_) @ self.pca_
        return sign(np.sin(np.pi / 2 + (V[:, self.modes_[:, 0]] - self.low_[self.modes_[:, 0]]) * self.omega_))
