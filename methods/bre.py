"""BRE: Binary Reconstructive Embedding (Kulis & Darrell, NIPS 2009, Sec. 2-3).

Hash functions h_p(x) = sgn(sum_q W_pq kbar(x_q, x)) over kernel expansions on anchor points x_q
(a Gaussian RBF kernel, centred by its training mean; the anchors are shared by all bits).
On n training points BRE minimises the reconstruction error
    O(W) = sum_{i<j} (d(x_i, x_j) - dH(x_i, x_j) / K)^2,
with supervised input distances d = 0 for pairs sharing a label and 1 otherwise (Sec. 3.2) and dH
the Hamming distance. Coordinate descent (Sec. 2.2): one weight W_pq at a time is set to its exact
minimiser. As W_pq moves, point i's bit p flips only at w = -c_i / kbar_iq, so O is piecewise
constant in W_pq; sorting those breakpoints and sweeping them, each flip updating O in O(n), finds
the best interval in O(n^2). The current value is always a candidate, so O never increases.
One sweep updates one random weight of every bit; ``loss_history_`` records O / #pairs after each.
``n_points`` None uses min(1000, training set size) points; W starts as N(0, 1) from the seed.
"""

import numpy as np
from numba import njit

from hashbench.base import HashMethod, require_int, sign
from hashbench.shallow import anchors_and_sample, similar


@njit(cache=True)
def _line_search(hamming, target, bits, c, k, n_bits):
    """Best value of one weight: returns (w, objective there, objective now); see the module docstring."""
    n = bits.shape[0]
    work = hamming.copy()
    start = np.empty(n, np.int8)  # bits as w -> -infinity
    for i in range(n):
        start[i] = -1 if k[i] > 0 else (1 if k[i] < 0 else (1 if c[i] >= 0 else -1))
    now = 0.0
    obj = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            now += (target[i, j] - work[i, j] / n_bits) ** 2
            work[i, j] += (start[i] != start[j]) - (bits[i] != bits[j])
            work[j, i] = work[i, j]
            obj += (target[i, j] - work[i, j] / n_bits) ** 2
    events = np.array([i for i in range(n) if k[i] != 0], np.int64)
    if events.size == 0:
        return 0.0, now, now
    breaks = -c[events] / k[events]
    order = np.argsort(breaks)
    best = obj
    best_w = breaks[order[0]] - 1.0
    for e in range(order.size):
        i = events[order[e]]
        for j in range(n):
            if j != i:
                delta = 1 if start[i] == start[j] else -1
                old = (target[i, j] - work[i, j] / n_bits) ** 2
                work[i, j] += delta
                work[j, i] = work[i, j]
                obj += (target[i, j] - work[i, j] / n_bits) ** 2 - old
        start[i] = -start[i]
        t = breaks[order[e]]
        if e + 1 < order.size and breaks[order[e + 1]] == t:
            continue  # flip every point at this breakpoint before scoring the interval after it
        if obj < best:
            best = obj
            best_w = (t + breaks[order[e + 1]]) / 2 if e + 1 < order.size else t + 1.0
    return best_w, best, now


class BRE(HashMethod):
    name = "BRE"
    supervised = True

    def __init__(self, n_bits=32, seed=0, n_anchors=300, n_points=None, sigma=None, n_sweeps=30):
        super().__init__(n_bits, seed)
        self.n_anchors = n_anchors
        self.n_points = n_points
        self.sigma = sigma
        self.n_sweeps = n_sweeps

    def fit(self, X, Y):
        require_int("n_sweeps", self.n_sweeps, 0)
        X = np.asarray(X, dtype=np.float64)
        rng = np.random.default_rng(self.seed)
        self.kernel_, points = anchors_and_sample(X, self.n_anchors, self.sigma, self.n_points, 1000, "n_points", rng)
        K = self.kernel_(X[points])
        target = np.where(similar(Y[points], Y[points]), 0.0, 1.0)
        W = rng.standard_normal((self.n_bits, K.shape[1]))
        B = sign(K @ W.T)
        hamming = (B[:, None, :] != B[None, :, :]).sum(axis=2).astype(np.int32)
        n_pairs = points.size * (points.size - 1) / 2
        self.loss_history_ = [self._objective(hamming, target) / n_pairs]
        for _ in range(self.n_sweeps):
            for p in rng.permutation(self.n_bits):
                q = rng.integers(K.shape[1])
                c = K @ W[p] - W[p, q] * K[:, q]
                w, best, now = _line_search(hamming, target, B[:, p], c, K[:, q], self.n_bits)
                if best < now:
                    W[p, q] = w
                    new = sign(c + w * K[:, q])
                    changed = np.flatnonzero(new != B[:, p])
                    hamming[changed] += np.where(new[changed, None] != new[None, :], 1, 0) - \
                        np.where(B[changed, p, None] != B[None, :, p], 1, 0)
                    hamming[:, changed] = hamming[changed].T
                    B[:, p] = new
            self.loss_history_.append(self._objective(hamming, target) / n_pairs)
        self.weights_ = W
        return self

    def _objective(self, hamming, target):
        upper = np.triu_indices(target.shape[0], 1)
        return float(np.sum((target[upper] - hamming[upper] / self.n_bits) ** 2))

    def encode(self, X):
        return sign(self.kernel_(X) @ self.weights_.T)
