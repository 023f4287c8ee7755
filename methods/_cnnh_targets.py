"""CNNH's stage 1, the target codes, by exact coordinate descent (described in ``methods/cnnh.py``).
Apart from the method so that listing methods does not import numba; CNNH imports it to train."""

import numpy as np
from numba import njit

from hashbench.shallow.labels import similar

BLOCK = 1024  # rows of S converted to float at a time when computing S H


@njit(cache=True)
def _sweep(S, H, PT, G, order):
    """One pass of exact coordinate minimisation over the entries of H in ``order``, with PT = (S H)^T
    and G = H^T H given and kept up to date."""
    n, k = H.shape
    for flat in order:
        i, b = flat // k, flat % k
        x0 = H[i, b]
        row_sq, hg = 0.0, 0.0
        for m in range(k):
            row_sq += H[i, m] ** 2
            hg += H[i, m] * G[m, b]
        sii = np.float64(S[i, i])
        c = sii - row_sq / k                                    # R_ii
        a = (PT[b, i] - sii * x0) - (hg - row_sq * x0) / k      # sum_{j != i} R_ij H_jb
        sq = G[b, b] - x0 * x0                                  # sum_{j != i} H_jb^2
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
                PT[b, j] += S[i, j] * best_d
            for m in range(k):
                if m != b:
                    G[m, b] += H[i, m] * best_d
                    G[b, m] = G[m, b]
            G[b, b] += (x0 + best_d) ** 2 - x0 * x0
            H[i, b] = x0 + best_d


def _s_times(S, H):
    out = np.empty_like(H)
    for start in range(0, len(H), BLOCK):
        out[start:start + BLOCK] = S[start:start + BLOCK].astype(np.float64) @ H
    return out


def coordinate_descent(Y, H, order, n_sweeps):
    """Stage 1 for the label matrix Y from the start H (float64, updated in place), one row of
    ``order`` per sweep; returns the objective ||S - H H^T / K||^2 after each sweep."""
    S = np.where(similar(Y, Y), np.int8(1), np.int8(-1))
    k = H.shape[1]
    history = []
    for sweep in range(n_sweeps):
        PT, G = np.ascontiguousarray(_s_times(S, H).T), H.T @ H
        _sweep(S, H, PT, G, order[sweep])
        P = _s_times(S, H)
        history.append(float(S.size) - 2.0 / k * np.sum(H * P) + np.sum((H.T @ H) ** 2) / k**2)
    return np.array(history)
