"""The fast metrics kernel against the slow reference in reference_metrics.py, ties included."""

import math
from fractions import Fraction

import numpy as np
import pytest

from hashbench import evaluate
from hashbench.metrics import _tie_aware_ap
from reference_metrics import reference


def random_case(rng, nq, nd, n_bits, n_labels, multi, density=0.3):
    qc = rng.choice(np.array([-1, 1], np.int8), (nq, n_bits))
    dc = rng.choice(np.array([-1, 1], np.int8), (nd, n_bits))
    if multi:
        ql = (rng.random((nq, n_labels)) < density).astype(np.uint8)
        dl = (rng.random((nd, n_labels)) < density).astype(np.uint8)
    else:
        ql = np.eye(n_labels, dtype=np.uint8)[rng.integers(0, n_labels, nq)]
        dl = np.eye(n_labels, dtype=np.uint8)[rng.integers(0, n_labels, nd)]
    return qc, dc, ql, dl


def assert_matches(fast, ref, ns):
    assert fast["map"] == pytest.approx(ref["map"], abs=1e-12)
    assert fast["p_h2"] == pytest.approx(ref["p_h2"], abs=1e-12)
    for n in ns:
        assert fast["precision_at_n"][n] == pytest.approx(ref["precision_at_n"][n], abs=1e-12)
    np.testing.assert_allclose(fast["pr_curve"]["precision"], ref["pr_precision"], atol=1e-12)
    np.testing.assert_allclose(fast["pr_curve"]["recall"], ref["pr_recall"], atol=1e-12)
    np.testing.assert_allclose(fast["pr_curve"]["examined"], ref["pr_examined"], atol=1e-12)
    if "map_tie_aware" in ref:
        assert fast["map_tie_aware"] == pytest.approx(ref["map_tie_aware"], abs=1e-10)


@pytest.mark.parametrize("no_relevant", ["zero", "exclude"])
@pytest.mark.parametrize("multi", [False, True])
def test_tie_aware_against_every_tie_ordering(no_relevant, multi):
    """Tiny databases, few bits (ties everywhere): tie-aware MAP is the mean over all orderings."""
    rng = np.random.default_rng(1 + multi)
    for _ in range(40):
        n_bits = int(rng.integers(1, 5))
        nd = int(rng.integers(2, 8))
        qc, dc, ql, dl = random_case(rng, 6, nd, n_bits, int(rng.integers(1, 4)), multi)
        topk = int(rng.integers(1, nd + 2))
        ns = (1, nd)
        fast = evaluate(qc, dc, ql, dl, topk, precision_at=ns, no_relevant=no_relevant)
        assert_matches(fast, reference(qc, dc, ql, dl, topk, ns, no_relevant, tie_aware=True), ns)


@pytest.mark.parametrize("n_bits", [1, 7, 16, 63, 64, 65, 128])
@pytest.mark.parametrize("multi", [False, True])
def test_against_reference_several_code_lengths(n_bits, multi):
    rng = np.random.default_rng(n_bits)
    qc, dc, ql, dl = random_case(rng, 23, 300, n_bits, 70 if multi else 5, multi, density=0.04)
    ns = (10, 50, 300)
    for no_relevant in ("zero", "exclude"):
        fast = evaluate(qc, dc, ql, dl, 120, precision_at=ns, no_relevant=no_relevant)
        assert_matches(fast, reference(qc, dc, ql, dl, 120, ns, no_relevant), ns)


def test_task_and_chunk_boundaries_and_queries_without_relevant_items():
    """35 queries: two parallel tasks of 16 and a partial one; 5,000 items: two of the kernel's
    2,048-item chunks and a partial one; 4 bits, so distance groups straddle the chunks and the top R
    ends inside distance 0 (R = 20), or in a later group (R = 400, 1,500)."""
    rng = np.random.default_rng(7)
    qc, dc, ql, dl = random_case(rng, 35, 5000, 4, 3, False)
    ql[:5] = 0  # no label: nothing is relevant to these queries
    ns = (5, 2100)
    for topk in (20, 400, 1500):
        fast_zero = evaluate(qc, dc, ql, dl, topk, precision_at=ns)
        fast_excl = evaluate(qc, dc, ql, dl, topk, precision_at=ns, no_relevant="exclude")
        assert_matches(fast_zero, reference(qc, dc, ql, dl, topk, ns, "zero"), ns)
        assert_matches(fast_excl, reference(qc, dc, ql, dl, topk, ns, "exclude"), ns)
        assert fast_excl["n_queries_in_map"] <= 30 < fast_zero["n_queries_in_map"] == 35


def exact_tie_aware_ap(hist, relhist, top):
    """The tie-aware AP@top in rational arithmetic: every precision sum and hypergeometric weight
    exact (the closed form the kernel evaluates in floating point)."""
    before = rel_before = 0
    full = Fraction(0)
    for n, r in zip(map(int, hist), map(int, relhist)):
        if n == 0:
            continue
        t = min(n, top - before)
        a = sum(Fraction(1, before + p) for p in range(1, t + 1))
        b = sum(Fraction(p - 1, before + p) for p in range(1, t + 1))

        def precision_sum(x):
            return Fraction(x, t) * (rel_before + 1) * a + (Fraction(x * (x - 1), t * (t - 1)) * b if t > 1 else 0)

        if t == n:
            full += precision_sum(r)
            before, rel_before = before + n, rel_before + r
            if before >= top:
                break
            continue
        return sum(Fraction(math.comb(r, x) * math.comb(n - r, t - x), math.comb(n, t))
                   * (full + precision_sum(x)) / (rel_before + x)
                   for x in range(max(0, t - (n - r)), min(r, t) + 1) if rel_before + x > 0)
    return full / rel_before if rel_before else Fraction(0)


def test_tie_aware_ap_is_exact_on_large_tie_groups():
    """Groups of hundreds to thousands of tied items, the top R ending inside one: within 1e-15 of
    the exact rational value (the log-gamma form it replaced was off by up to 2e-13 here)."""
    rng = np.random.default_rng(3)
    for _ in range(6):
        hist = rng.integers(0, 1500, 17)
        hist[rng.integers(0, 17)] = 0
        relhist = rng.binomial(hist, rng.uniform(0.02, 0.5))
        top = int(rng.integers(100, hist.sum()))
        expected = exact_tie_aware_ap(hist, relhist, top)
        assert abs(_tie_aware_ap(hist, relhist, top) - float(expected)) < 1e-15


def test_ties_are_broken_by_database_index():
    codes = np.ones((4, 8), np.int8)  # every item at distance 0: one tie group
    query_labels = np.array([[1, 0]], np.uint8)
    db_labels = np.array([[0, 1], [1, 0], [0, 1], [1, 0]], np.uint8)
    out = evaluate(codes[:1], codes, query_labels, db_labels, 4, precision_at=(1, 2))
    assert out["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert out["precision_at_n"] == {1: 0.0, 2: 0.5}
    # expected AP over the 4! orderings of the tie: (1/2)(1 + ...) computed by the reference
    assert out["map_tie_aware"] == pytest.approx(
        reference(codes[:1], codes, query_labels, db_labels, 4, (), tie_aware=True)["map_tie_aware"])


def test_perfect_codes_score_one():
    labels = np.eye(4, dtype=np.uint8)[np.arange(40) % 4]
    blocks = np.kron(np.eye(4, dtype=int), np.ones((1, 4), dtype=int))  # classes 8 bits apart
    codes = np.where(blocks[np.arange(40) % 4] > 0, 1, -1).astype(np.int8)
    out = evaluate(codes, codes, labels, labels, 10, precision_at=(10,))
    assert out["map"] == out["map_tie_aware"] == out["p_h2"] == out["precision_at_n"][10] == 1.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(query_codes=np.zeros((2, 4))), "query_codes: expected codes in"),
    (dict(db_codes=np.ones((3, 5))), "query codes have 4 bits but database codes have 5"),
    (dict(db_codes=np.ones((3, 129))), "1 <= K <= 128"),
    (dict(db_labels=np.ones((2, 2))), "db_labels: expected a 0/1 label matrix with 3 rows"),
    (dict(query_labels=np.full((2, 2), 2)), "query_labels: expected 0/1 labels"),
    (dict(topk=0), "topk"),
    (dict(precision_at=(4,)), "precision_at"),
    (dict(no_relevant="drop"), "no_relevant"),
])
def test_bad_input_is_reported(kwargs, message):
    args = dict(query_codes=np.ones((2, 4)), db_codes=np.ones((3, 4)), query_labels=np.ones((2, 2)),
                db_labels=np.ones((3, 2)), topk=2, precision_at=(1,))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        evaluate(**args)


def test_default_precision_points_are_capped_to_a_small_database_and_say_so():
    rng = np.random.default_rng(0)
    qc, dc = np.where(rng.random((20, 16)) < 0.5, -1, 1), np.where(rng.random((600, 16)) < 0.5, -1, 1)
    ql, dl = np.eye(4)[rng.integers(0, 4, 20)], np.eye(4)[rng.integers(0, 4, 600)]
    out = evaluate(qc, dc, ql, dl, topk=100)
    assert sorted(out["precision_at_n"]) == [100, 200, 300, 400, 500, 600]
    assert out["precision_at_dropped"] == [700, 800, 900, 1000]
    assert "precision_at_dropped" not in evaluate(qc, dc, ql, dl, topk=100, precision_at=(100,))
    with pytest.raises(ValueError, match=r"precision_at: every N must lie in 1..600"):
        evaluate(qc, dc, ql, dl, topk=100, precision_at=(1000,))


def test_per_query_ap_averages_to_the_map():
    rng = np.random.default_rng(1)
    qc, dc = np.where(rng.random((30, 8)) < 0.5, -1, 1), np.where(rng.random((200, 8)) < 0.5, -1, 1)
    ql, dl = np.eye(3)[rng.integers(0, 3, 30)], np.eye(3)[rng.integers(0, 3, 200)]
    for mode in ("zero", "exclude"):
        out = evaluate(qc, dc, ql, dl, 50, precision_at=(), no_relevant=mode, per_query=True)
        per = out["per_query"]
        assert per["ap"].shape == (30,) and out["map"] == pytest.approx(per["ap"][per["in_map"]].mean())
        assert out["map_tie_aware"] == pytest.approx(per["ap_tie_aware"][per["in_map"]].mean())
