"""The significance test behind the tables' "not significantly worse than the best" marks.

``paired_randomization_test(a, b)``: two-sided paired randomization (sign-flip) test of
mean(a - b) = 0 over paired observations (the per-query AP of two methods on the same queries).
Under the null each difference is as likely to have either sign; the p-value is the share of sign
assignments whose mean difference is at least as far from 0 as the observed one. With at most
``n_resamples`` possible assignments (2^n) all are enumerated (exact); otherwise ``n_resamples``
random assignments from ``seed`` are drawn and p = (1 + hits) / (1 + n_resamples), so p is never 0
(Phipson & Smyth 2010). Differences within 1e-12 of the observed statistic count as hits.
Exact, it equals ``scipy.stats.permutation_test(permutation_type="samples")``; kept because one
column's tests run 21x faster as blocked matrix products (bench/bench_stats.py: 0.40 s against 8.3 s).

``holm(p)``: Holm's step-down adjustment of several p-values (family-wise error at the level used).

``compare_to_best(per_query, best)``: for one table column, the Holm-adjusted p-value of every
other method's paired test against the column's best; a method is "not significantly worse" when
its adjusted p >= alpha.
"""

from __future__ import annotations

import itertools

import numpy as np

TOLERANCE = 1e-12


def paired_randomization_test(a, b, n_resamples: int = 10_000, seed: int = 0) -> float:
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"expected two equal-length non-empty 1-d samples, got difference shape {d.shape}")
    observed = abs(d.mean())
    if d.size < 63 and 2 ** d.size <= n_resamples:  # every sign assignment
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        stats = np.abs(signs @ d / d.size)
        return float(np.mean(stats >= observed - TOLERANCE))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, 1000):  # blocks bound the memory: 1000 x n signs at a time
        signs = rng.choice((1.0, -1.0), size=(min(1000, n_resamples - start), d.size))
        hits += int(np.sum(np.abs(signs @ d / d.size) >= observed - TOLERANCE))
    return (1 + hits) / (1 + n_resamples)


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values, in the input order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def compare_to_best(per_query: dict, best: str, n_resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """``per_query``: {method: per-query scores, the same queries for every method}. The
    Holm-adjusted p-value of each other method's paired test against ``best``; a method is "not
    significantly worse" than the best at level alpha when its value is >= alpha."""
    others = [m for m in per_query if m != best]
    raw = [paired_randomization_test(per_query[m], per_query[best], n_resamples, seed) for m in others]
    return dict(zip(others, holm(raw).tolist())) if others else {}
