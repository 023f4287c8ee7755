"""CNNH: Supervised Hashing via Image Representation Learning (Xia, Pan, Lai, Liu & Yan, AAAI 2014).

Stage 1 (Sec. 3.1): approximate codes H in [-1, 1]^{n x K} for the n training images minimise
||S - H H^T / K||_F^2, S_ij = +1 for images sharing a label and -1 otherwise, by coordinate
descent: each entry H_ik is set to the exact minimiser of the quartic objective in that entry on
[-1, 1] (``n_sweeps`` passes over all entries, random order, from uniform random H); the targets
are sgn(H). Stage 2 (Sec. 3.2): the network is trained to predict the targets, here by the squared
error between tanh(z) and the target codes. Codes h = sgn(z).
Simplified: stage 2 learns the codes only (CNNH's variant that also predicts the class labels,
CNNH+, is not implemented).
"""

import numpy as np
from numba import njit

from hashbench.base import require_int, sign
from hashbench.deep.base import DeepHashMethod
from hashbench.shallow import similar


@njit(cache=True)
def coordinate_descent(S, H, order, n_sweeps):
    """Minimise ||S - H H^T / K||^2 over H in [-1, 1]^{n x K} entry by entry; returns the objective per sweep."""
    n, k = H.shape
    R = S - H @ H.T / k
    history = np.empty(n_sweeps)
    for sweep in range(n_sweeps):
        for flat in order[sweep]:
            i, b = flat // k, flat % k
            x0 = H[i, b]
            a = 0.0
            sq = 0.0
            for j in range(n):
                if j != i:
                    a += R[i, j] * H[j, b]
                    sq += H[j, b] ** 2
            c = R[i, i]
            # change of the objective for H[i, b] = x0 + d is a quartic in d; minimise on [-1-x0, 1-x0]
            q4, q3 = 1.0 / k**2, 4.0 * x0 / k**2
            q2 = 2.0 * sq / k**2 - 2.0 * c / k + 4.0 * x0**2 / k**2
            q1 = -4.0 * a / k - 4.0 * c * x0 / k
            roots = np.roots(np.array([4.0 * q4, 3.0 * q3, 2.0 * q2, q1], dtype=np.complex128))
            best_d, best = 0.0, 0.0
            for cand in np.concatenate((roots.real, np.array([-1.0 - x0, 1.0 - x0]))):
                d = min(max(cand, -1.0 - x0), 1.0 - x0)
                value = ((q4 * d + q3) * d + q2) * d * d + q1 * d
                if value < best:
                    best, best_d = value, d
            if best_d != 0.0:
                for j in range(n):
                    if j != i:
                        R[i, j] -= best_d * H[j, b] / k
                        R[j, i] = R[i, j]
                R[i, i] -= (2 * best_d * x0 + best_d**2) / k
                H[i, b] = x0 + best_d
        history[sweep] = np.sum(R**2)
    return history


class CNNH(DeepHashMethod):
    name = "CNNH"
    supervised = True

    def __init__(self, n_bits=32, seed=0, n_sweeps=3, **training):
        super().__init__(n_bits, seed, **training)
        self.n_sweeps = n_sweeps

    def prepare(self, Y, rng):
        import torch

        require_int("n_sweeps", self.n_sweeps, 1)
        S = np.where(similar(Y, Y), 1.0, -1.0)
        H = rng.uniform(-1, 1, (Y.shape[0], self.n_bits))
        order = np.stack([rng.permutation(H.size) for _ in range(self.n_sweeps)])
        self.stage1_objective_ = coordinate_descent(S, H, order, self.n_sweeps).tolist()
        self.targets_ = torch.from_numpy(sign(H).astype(np.float32))

    def loss(self, codes, labels, index):
        return ((codes - self.targets_.to(codes.device)[index]) ** 2).mean()
