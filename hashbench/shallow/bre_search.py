"""BRE's compiled kernels: its objective and the exact line search over one weight, both described
in ``methods/bre.py``. They live apart from the method so that listing methods (Snakemake's DAG,
every job) does not import numba; BRE imports them when it fits."""

import numpy as np
from numba import njit


@njit(cache=True)
def objective(ham, dist, n_bits):
    total = 0.0
    for p in range(ham.size):
        total += (ham[p] / n_bits - dist[p]) ** 2
    return 0.5 * total


@njit(cache=True)
def line_search(c, k, bits, pair_i, pair_j, ham, dist, adj_start, adj_pairs, n_bits):
    """The best value of one weight (methods/bre.py's docstring): returns (w, f there).

    ``bits``: the current 0/1 bits of this hash function; ``ham``: each pair's Hamming distance;
    ``adj_start``/``adj_pairs``: the pairs each point belongs to (CSR).
    """
    n = c.size
    state = np.empty(n, np.bool_)  # the bits for w below every breakpoint
    for i in range(n):
        state[i] = k[i] < 0 if k[i] != 0 else bits[i]
    work = ham.copy()
    for p in range(work.size):
        i, j = pair_i[p], pair_j[p]
        work[p] += (state[i] != state[j]) - (bits[i] != bits[j])
    f = objective(work, dist, n_bits)
    events = np.flatnonzero(k != 0)
    if events.size == 0:
        return 0.0, f
    breaks = -c[events] / k[events]
    order = np.argsort(breaks, kind="mergesort")
    best, best_w = f, breaks[order[0]] - 5e-7
    for e in range(order.size):
        i = events[order[e]]
        for a in range(adj_start[i], adj_start[i + 1]):
            p = adj_pairs[a]
            j = pair_i[p] + pair_j[p] - i
            old = (work[p] / n_bits - dist[p]) ** 2
            work[p] += 1 if state[i] == state[j] else -1
            f += 0.5 * ((work[p] / n_bits - dist[p]) ** 2 - old)
        state[i] = not state[i]
        t = breaks[order[e]]
        if e + 1 < order.size and breaks[order[e + 1]] == t:
            continue  # flip every point at this breakpoint before scoring the interval after it
        if f < best:
            best = f
            best_w = (t + breaks[order[e + 1]]) / 2 if e + 1 < order.size else t + 5e-7
    return best_w, best
