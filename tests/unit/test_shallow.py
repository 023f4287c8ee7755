"""The defining properties of the shallow baselines (issue: SH, ITQ-CCA, KSH, BRE, SH-BDNN)."""

import numpy as np
import pytest

from hashbench import registry
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.metrics import evaluate
from hashbench.shallow.labels import LabelSimilarity
from hashbench.shallow.lbfgs import lbfgs, _LBFGSMemory
from hashbench.methods.bre import _adjacency, neighbour_pairs
from hashbench.shallow.bre_search import line_search, objective
from hashbench.methods.ksh import Residue, optimise_projection
from hashbench.methods.sh import select_modes
from hashbench.methods.sh_bdnn import hidden_sizes, stratified_holdout


@pytest.fixture(scope="module")
def digits(digits_dir):
    data = splits.load(digits_dir)
    x, y, split = data.features("pixels"), data.labels, data.split
    return x[split["train"]], y[split["train"]], data


def fit(name, digits, n_bits=16, **params):
    x, y, _ = digits
    return registry.create(name, n_bits=n_bits, seed=0, params=params).fit(x, y)


def test_sh_modes_equal_brute_force_enumeration():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ranges = rng.uniform(0.1, 5, int(rng.integers(1, 12)))
        n_bits = int(rng.integers(1, 40))
        brute = sorted((k * np.pi / ranges[i], i, k) for i in range(ranges.size) for k in range(1, n_bits + 1))
        expected = np.array([(i, k) for _, i, k in brute[:n_bits]])
        np.testing.assert_array_equal(select_modes(ranges, n_bits), expected)


def test_sh_bits_follow_the_selected_eigenfunctions(digits):
    sh = fit("SH", digits, n_bits=24)
    x = digits[0]
    v = (x - sh.mean_) @ sh.pca_
    ranges = v.max(axis=0) - v.min(axis=0)
    np.testing.assert_array_equal(sh.modes_, select_modes(ranges, 24))
    i, k = sh.modes_[5]
    expected = np.where(np.sin(np.pi / 2 + k * np.pi / ranges[i] * (v[:, i] - v[:, i].min())) >= 0, 1, -1)
    np.testing.assert_array_equal(sh.encode(x)[:, 5], expected)


def test_itq_cca_depends_on_the_labels(digits):
    x, y, _ = digits
    codes = fit("ITQ-CCA", digits).encode(x)
    shuffled = registry.create("ITQ-CCA", n_bits=16, seed=0, params={}).fit(x, y[np.random.default_rng(0).permutation(len(y))])
    assert (shuffled.encode(x) != codes).mean() > 0.1
    corr = fit("ITQ-CCA", digits).correlations_
    assert (np.diff(corr) <= 1e-12).all() and 0 < corr[0] <= 1


@pytest.mark.parametrize("labels", ["single", "multi"])
def test_label_similarity_operator_matches_the_dense_matrix(labels):
    rng = np.random.default_rng(1)
    y = np.eye(4)[rng.integers(0, 4, 50)] if labels == "single" else (rng.random((50, 4)) < 0.3).astype(float)
    dense = np.where(y @ y.T > 0, 1.0, -1.0)
    b = rng.standard_normal((50, 3))
    np.testing.assert_allclose(LabelSimilarity(y) @ b, dense @ b)


@pytest.mark.slow
def test_ksh_keeps_the_better_solution_per_bit(digits):
    ksh = fit("KSH", digits)
    spectral_only = fit("KSH", digits, n_iter=0)
    assert all(kept >= init for init, kept in ksh.bit_scores_)
    assert [kept > init for init, kept in ksh.bit_scores_] == ksh.refined_
    assert any(ksh.refined_) and not any(spectral_only.refined_)
    assert ksh.objective_ < spectral_only.objective_


def test_ksh_optimiser_descends_without_blowing_up_the_projection(digits):
    """OptProjectionFast's step bound starts at 1 and only shrinks the step: ||a|| stays bounded."""
    x, y, _ = digits
    ksh = fit("KSH", digits, n_bits=4)
    K = ksh.kernel_(x[:300])
    residue = Residue(y[:300], 4)
    rng = np.random.default_rng(0)
    for _ in range(3):
        a0 = rng.standard_normal(K.shape[1])
        a0 *= np.sqrt(300 / (a0 @ K.T @ K @ a0))  # the released scaling a^T K^T K a = l
        a, costs, norms = optimise_projection(K, residue, a0, 500, 1e-2)
        assert costs[-1] < costs[0] and len(costs) >= 3
        assert max(np.diff(norms) / norms[:-1]) < 0.5  # no step inflates ||a|| (a doubling step did ~20x)
        np.testing.assert_allclose(norms[-1], np.linalg.norm(a))
        residue.subtract(np.where(K @ a >= 0, 1.0, -1.0))


def test_ksh_optimiser_stopping_rule(digits):
    x, y, _ = digits
    K = fit("KSH", digits, n_bits=2).kernel_(x[:200])
    a0 = np.random.default_rng(1).standard_normal(K.shape[1])
    residue = Residue(y[:200], 2)
    assert len(optimise_projection(K, residue, a0, 500, 1e12)[1]) == 2  # one step, then |dcost|/l <= tol
    assert len(optimise_projection(K, residue, a0, 7, 0.0)[1]) <= 8
    np.testing.assert_array_equal(optimise_projection(K, residue, a0, 0, 1e-2)[0], a0)


@pytest.mark.parametrize("labels", ["single", "multi"])
def test_ksh_residue_operator_matches_the_dense_residue(labels):
    rng = np.random.default_rng(2)
    y = np.eye(4)[rng.integers(0, 4, 40)] if labels == "single" else (rng.random((40, 4)) < 0.3).astype(float)
    residue = Residue(y, 8)
    dense = 8 * np.where(y @ y.T > 0, 1.0, -1.0)
    for _ in range(3):
        h = rng.choice([-1.0, 1.0], 40)
        residue.subtract(h)
        dense -= np.outer(h, h)
    v = rng.standard_normal((40, 2))
    np.testing.assert_allclose(residue @ v, dense @ v)
    assert residue.squared_norm() == pytest.approx(np.sum(dense**2))


def test_bre_objective_never_increases_and_sweeps_until_tol(digits):
    bre = fit("BRE", digits)
    loss = np.array(bre.loss_history_)
    assert bre.n_sweeps_ == loss.size < 2000
    assert (np.diff(loss) <= 1e-9).all() and loss[-1] < loss[0]
    assert abs(loss[-1] - loss[-2]) <= 1e-6 < abs(loss[-3] - loss[-2]) + 1e-6
    capped = fit("BRE", digits, max_sweeps=3)
    assert capped.n_sweeps_ == 3
    np.testing.assert_array_equal(capped.loss_history_, loss[:3])


def test_bre_each_bit_has_its_own_basis_and_pairs_follow_trainbre(digits):
    bre = fit("BRE", digits, hash_size=20)
    assert bre.hash_inds_.shape == (20, 16)
    assert len({tuple(sorted(col)) for col in bre.hash_inds_.T}) == 16
    assert all(np.unique(col).size == 20 for col in bre.hash_inds_.T)
    left, right = neighbour_pairs(400, 0.05, np.random.default_rng(0))
    assert (left != right).all()
    counts = np.bincount(left, minlength=400)
    assert set(counts) <= {19, 20} and (counts == 20).mean() > 0.9


def test_bre_weights_start_at_1e_3_normal_and_one_per_bit_moves_per_sweep(digits):
    x, y, _ = digits
    bre = registry.create("BRE", n_bits=8, seed=0, params={"max_sweeps": 1}).fit(x, y)
    small = np.abs(bre.weights_) < 1e-2  # 1e-3 N(0, 1): beyond 10 sigma never happens
    assert (small.sum(axis=0) >= bre.hash_size - 1).all()
    assert np.std(bre.weights_[small]) == pytest.approx(1e-3, rel=0.25)  # the moved weights may be small too


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_bre_encodes_the_training_points_as_fitted(digits, kernel):
    x, y, _ = digits
    bre = registry.create("BRE", n_bits=8, seed=0, params={"kernel": kernel, "n_points": 200}).fit(x, y)
    K = bre._kernel(bre.basis_, bre.basis_)
    kw = np.stack([K[:, bre.hash_inds_[:, b]] @ bre.weights_[:, b] for b in range(8)], axis=1)
    np.testing.assert_array_equal(bre.encode(x[bre.points_]), np.where(kw > 0, 1, -1))


def test_bre_line_search_is_exact():
    """The sweep's optimum matches a dense scan of the weight, and its objective is what it reports."""
    rng = np.random.default_rng(3)
    n, n_bits = 25, 4
    bits = rng.random((n, n_bits)) < 0.5
    pair_i, pair_j = neighbour_pairs(n, 0.3, rng)
    adj_start, adj_pairs = _adjacency(pair_i, pair_j, n)
    assert all(i in (pair_i[p], pair_j[p]) for i in range(n) for p in adj_pairs[adj_start[i]:adj_start[i + 1]])
    assert np.bincount(adj_pairs, minlength=pair_i.size).tolist() == [2] * pair_i.size
    dist = (rng.random(pair_i.size) < 0.5).astype(float)
    c, k = rng.standard_normal(n), rng.standard_normal(n)

    def scanned(w):
        b = bits.copy()
        b[:, 0] = c + w * k > 0
        ham = (b[pair_i] != b[pair_j]).sum(axis=1)
        return 0.5 * np.sum((ham / n_bits - dist) ** 2)

    ham = (bits[pair_i] != bits[pair_j]).sum(axis=1).astype(np.int64)
    w, best = line_search(c, k, bits[:, 0].copy(), pair_i, pair_j, ham, dist, adj_start, adj_pairs, n_bits)
    assert best == pytest.approx(scanned(w))
    assert objective(ham, dist, n_bits) == pytest.approx(0.5 * np.sum((ham / n_bits - dist) ** 2))
    assert best <= min(scanned(v) for v in np.linspace(-20, 20, 4001)) + 1e-12


def test_sh_bdnn_objective_is_the_released_cost(digits):
    """deepNNCost.m's J2..J6, written with dense matrices in its column layout (H is K x m)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 7))
    y = np.eye(3)[rng.integers(0, 3, 30)]
    model = registry.create("SH-BDNN", n_bits=5, seed=0, params={"hidden": [6, 4]})
    theta = rng.normal(0, 0.5, 6 * 7 + 6 + 4 * 6 + 4 + 5 * 4 + 5)
    b = np.sign(rng.standard_normal((30, 5)))
    layers = model._unpack(theta, 7)
    a = x.T
    for i, (w, bias) in enumerate(layers):
        z = w @ a + bias[:, None]
        a = 1 / (1 + np.exp(-z)) if i < 2 else z
    h, m, k = a, 30, 5
    s = np.where(y @ y.T > 0, 1.0, -1.0)
    l1, l2, l3, l4, l5 = 1e-5, 5e-2, 1e-2, 5e-7, 1e-2
    released = (l1 / 2 * sum(np.sum(w**2) for w, _ in layers) + l2 / (2 * m) * np.sum((h - b.T) ** 2)
                + l3 / 2 * np.sum((h @ h.T / m - np.eye(k)) ** 2) + l4 / (2 * m) * np.sum((h @ np.ones(m)) ** 2)
                + l5 / (2 * m) * np.sum((h.T @ h / k - s) ** 2))
    assert model._objective(theta, x, LabelSimilarity(y), b)[0] == pytest.approx(released, rel=1e-12)


def test_sh_bdnn_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 7))
    for y in (np.eye(3)[rng.integers(0, 3, 30)], (rng.random((30, 4)) < 0.4).astype(float)):
        model = registry.create("SH-BDNN", n_bits=5, seed=0, params={"hidden": [6, 4], "lambda1": 0.1,
                                                                     "lambda3": 0.3, "lambda4": 0.2, "lambda5": 1.0})
        theta = rng.normal(0, 0.5, 6 * 7 + 6 + 4 * 6 + 4 + 5 * 4 + 5)
        b = np.sign(rng.standard_normal((30, 5)))
        s = LabelSimilarity(y)
        _, grad = model._objective(theta, x, s, b)
        eps = np.eye(theta.size) * 1e-6
        numeric = [(model._objective(theta + e, x, s, b)[0] - model._objective(theta - e, x, s, b)[0]) / 2e-6
                   for e in eps]
        np.testing.assert_allclose(grad, numeric, atol=1e-6)


def test_sh_bdnn_layers_start_from_eigenvectors(digits):
    x = digits[0].astype(np.float64)
    model = registry.create("SH-BDNN", n_bits=8, seed=0, params={"hidden": [40, 20]})
    layers = model._unpack(model._initial_theta(x), x.shape[1])
    w1, b1 = layers[0]
    np.testing.assert_allclose(w1 @ w1.T, np.eye(40), atol=1e-10)
    projected = np.diag(w1 @ (x.T @ x / len(x)) @ w1.T)
    assert (np.diff(projected) <= 1e-9).all()  # descending eigenvalues of the uncentred second moment
    top = np.linalg.eigvalsh(x.T @ x / len(x))[::-1][:40]
    np.testing.assert_allclose(projected, top, rtol=1e-8)
    assert all((bias == 0).all() for _, bias in layers)
    wide = registry.create("SH-BDNN", n_bits=8, seed=0, params={"hidden": [90, 20]})
    w1 = wide._unpack(wide._initial_theta(x), 64)[0][0]
    assert (w1[64:] == 0).all() and np.linalg.matrix_rank(w1[:64]) == 64


def test_sh_bdnn_hidden_sizes_and_holdout():
    assert hidden_sizes(16) == (90, 30) and hidden_sizes(32) == (120, 50)
    assert hidden_sizes(48) == (160, 70) and hidden_sizes(64) == (200, 90)
    y = np.eye(4)[np.repeat(np.arange(4), [50, 30, 20, 1])]
    held = stratified_holdout(y, 0.1, np.random.default_rng(0))
    assert [int(held[y[:, c] > 0].sum()) for c in range(4)] == [5, 3, 2, 0]


@pytest.mark.slow
def test_sh_bdnn_early_stopping_keeps_the_best_round(digits):
    x, y, _ = digits
    bdnn = registry.create("SH-BDNN", n_bits=16, seed=0, params={"lbfgs_iter": 30}).fit(x, y)
    scores = bdnn.validation_map_
    assert len(bdnn.loss_history_) == len(scores) + 1 == bdnn.n_rounds_ + 1
    assert all(b > a for a, b in zip(scores[:-2], scores[1:-1]))
    if len(scores) < 20:
        assert scores[-1] <= max(scores[:-1])
    held = stratified_holdout(y, 0.1, np.random.default_rng(0))
    kept = evaluate(bdnn.encode(x[held]), bdnn.encode(x), y[held], y, len(x), precision_at=())["map"]
    assert kept == pytest.approx(max(scores))


def test_lbfgs_compact_form_equals_the_two_loop_recursion():
    rng = np.random.default_rng(0)
    n, m = 40, 5
    a = rng.standard_normal((n, n))
    a = a @ a.T + n * np.eye(n)
    memory, pairs = _LBFGSMemory(m, n), []
    for _ in range(9):
        s = rng.standard_normal(n)
        memory.add(s, a @ s)
        pairs = (pairs + [(s, a @ s)])[-m:]
        g = rng.standard_normal(n)
        q, alphas = g.copy(), []
        for s_, y_ in reversed(pairs):
            alphas.append((s_ @ q) / (y_ @ s_))
            q -= alphas[-1] * y_
        q *= (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1])
        for (s_, y_), alpha in zip(pairs, reversed(alphas)):
            q += s_ * (alpha - (y_ @ q) / (y_ @ s_))
        np.testing.assert_allclose(memory.direction(g), -q, atol=1e-12)


def test_lbfgs_minimises_a_smooth_function():
    from scipy.optimize import rosen, rosen_der

    x = lbfgs(lambda z: (rosen(z), rosen_der(z)), np.full(6, -1.2), 400, corrections=10)
    np.testing.assert_allclose(x, np.ones(6), atol=1e-4)
    assert np.array_equal(lbfgs(lambda z: (rosen(z), rosen_der(z)), np.ones(3), 10), np.ones(3))


@pytest.mark.slow
def test_supervised_methods_and_itq_beat_lsh(digits):
    x_all_data = digits[2]
    x, labels, split = x_all_data.features("pixels"), x_all_data.labels, x_all_data.split

    def map_of(name):
        model = registry.create(name, n_bits=16, seed=0, params={}).fit(x[split["train"]], labels[split["train"]])
        return evaluate(model.encode(x[split["query"]]), model.encode(x[split["database"]]), labels[split["query"]],
                        labels[split["database"]], 500, precision_at=(100,))["map"]

    lsh = map_of("LSH")
    for name in ("ITQ", "ITQ-CCA", "KSH", "BRE", "SH-BDNN"):
        assert map_of(name) > lsh, name


@pytest.mark.parametrize("name, params, message", [
    ("KSH", {"n_anchors": 501}, r"n_anchors: expected an integer in 1..500 \(the training set size\), got 501"),
    ("KSH", {"sigma": 0}, "sigma: expected a positive number or null, got 0"),
    ("KSH", {"n_labelled": 600}, "n_labelled: expected an integer in 2..500"),
    ("BRE", {"n_points": 1}, "n_points: expected an integer >= 2"),
    ("BRE", {"n_points": 501}, "n_points: expected an integer in 2..500"),
    ("BRE", {"sigma": -1.0}, "sigma: expected a positive number or null, got -1.0"),
    ("BRE", {"kernel": "poly"}, "kernel: expected one of linear, rbf, got 'poly'"),
    ("BRE", {"hash_size": 0}, "hash_size: expected an integer >= 1"),
    ("BRE", {"n_points": 100, "hash_size": 101}, r"hash_size: expected an integer in 1..100 \(n_points\)"),
    ("SH-BDNN", {"hidden": [0, 3]}, "hidden: expected two integers >= 1 or null, got \\[0, 3\\]"),
    ("SH-BDNN", {"hidden": 5}, "hidden: expected two integers >= 1 or null, got 5"),
    ("SH-BDNN", {"lambda2": -1}, "lambda2: expected a non-negative number"),
    ("SH-BDNN", {"validation": 1.5}, r"validation: expected a number in \(0, 1\), got 1.5"),
    ("Classifier", {"C": 0}, "C: expected a positive number, got 0"),
    ("ITQ-CCA", {"reg": 0}, "reg: expected a positive number, got 0"),
])
def test_bad_hyperparameters_are_named(digits, name, params, message):
    with pytest.raises(HashbenchError, match=message):
        fit(name, digits, **params)
