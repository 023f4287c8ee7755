"""Why hashbench.stats keeps its own paired randomization test beside scipy.stats.permutation_test:
the wall time of one table column's tests, ours against scipy's on the same per-query AP, and the
p-values of both.

    python bench/bench_stats.py [--queries 1000] [--resamples 10000] [--methods 13] [--repeats 3]

A column compares every method with the column's best on the same queries (``compare_to_best``):
``--methods`` - 1 paired tests of ``--queries`` differences with ``--resamples`` sign flips each. Both
run in this process: ours (blocks of 1,000 sign vectors times the differences, one matrix product
each), and ``scipy.stats.permutation_test(permutation_type="samples", vectorized=True)`` on the mean
difference. scipy's two-sided p-value doubles the smaller one-sided one where ours counts |mean| at
least the observed; with all 2^n assignments enumerated both are exact and equal (tests/unit/test_stats.py).
Prints the median seconds of each and the ratio, and the largest p-value difference.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import stats as scipy_stats

from hashbench.stats import paired_randomization_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--methods", type=int, default=13)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    best = rng.uniform(size=args.queries)
    others = [best - rng.uniform(0, 0.02) + rng.normal(0, 0.1, args.queries) for _ in range(args.methods - 1)]

    def ours():
        return [paired_randomization_test(o, best, args.resamples, seed=0) for o in others]

    def scipy():
        return [scipy_stats.permutation_test((o - best,), np.mean, permutation_type="samples", vectorized=True,
                                             n_resamples=args.resamples, alternative="two-sided",
                                             random_state=0).pvalue for o in others]

    times, p = {}, {}
    for name, run in (("hashbench.stats", ours), ("scipy.stats.permutation_test", scipy)):
        run()  # warm-up
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            p[name] = run()
            seconds.append(time.perf_counter() - start)
        times[name] = statistics.median(seconds)
        print(f"{name:30s} {times[name]:.3f} s for {len(others)} tests of {args.queries} queries, "
              f"{args.resamples} resamples", flush=True)
    print(f"scipy / ours: x{times['scipy.stats.permutation_test'] / times['hashbench.stats']:.2f}")
    print(f"largest p-value difference: {np.max(np.abs(np.subtract(*p.values()))):.4f}")


if __name__ == "__main__":
    main()
