"""The paired randomization test and Holm's adjustment behind the tables' significance marks."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from hashbench.stats import compare_to_best, holm, paired_randomization_test


def test_a_hand_computed_case():
    # d = (1, 2, 3), mean 2; of the 8 sign assignments only +++ and --- reach |mean| >= 2
    assert paired_randomization_test([1, 2, 3], [0, 0, 0]) == 0.25
    assert paired_randomization_test([1, 1], [1, 1]) == 1.0  # no difference at all


def _scipy_p(d, n_resamples, seed=None):
    return scipy_stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                                        alternative="two-sided", random_state=seed).pvalue


def test_exact_enumeration_equals_scipys_permutation_test():
    rng = np.random.default_rng(3)
    for n in (5, 9, 12):
        a, b = rng.uniform(size=n), rng.uniform(size=n) + 0.1
        assert paired_randomization_test(a, b) == pytest.approx(_scipy_p(a - b, 10_000), abs=1e-12)


def test_sampled_p_agrees_with_scipy_within_monte_carlo_error():
    rng = np.random.default_rng(4)
    a = rng.uniform(size=400)
    b = a - 0.02 + rng.normal(0, 0.2, 400)
    ours = paired_randomization_test(a, b, n_resamples=20_000, seed=1)
    theirs = _scipy_p(a - b, 20_000, seed=2)
    assert 0.001 < ours < 0.999 and abs(ours - theirs) < 4 * np.sqrt(theirs * (1 - theirs) / 20_000) + 1e-3
    assert paired_randomization_test(a, b, n_resamples=20_000, seed=1) == ours  # seeded


def test_holm_adjustment():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.2, 0.9]), [0.4, 0.9])


def test_only_the_clearly_worse_are_marked_against_the_best():
    rng = np.random.default_rng(5)
    best = rng.uniform(0.5, 1, 500)
    per_query = {"A": best - 0.2, "B": best, "C": best - rng.normal(0, 0.05, 500) * 0.01}
    p = compare_to_best(per_query, "B")
    assert set(p) == {"A", "C"} and p["A"] < 0.05 <= p["C"]
    assert compare_to_best({"B": best}, "B") == {}
