"""The defining properties of the shallow baselines (issue: SH, ITQ-CCA, KSH, BRE, SH-BDNN)."""

import numpy as np
import pytest

from hashbench import registry, splits
from hashbench.errors import HashbenchError
from hashbench.metrics import evaluate
from hashbench.shallow import LabelSimilarity
from hashbench.methods.bre import _line_search
from hashbench.methods.ksh import Residue
from hashbench.methods.sh import select_modes


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


def test_ksh_fitting_beats_its_spectral_initialisation(digits):
    ksh = fit("KSH", digits)
    spectral_only = fit("KSH", digits, n_iter=0)
    assert all(kept >= init for init, kept in ksh.bit_scores_)
    assert any(kept > init for init, kept in ksh.bit_scores_)
    assert ksh.objective_ < spectral_only.objective_


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


def test_bre_objective_never_increases(digits):
    bre = fit("BRE", digits, n_sweeps=8)
    loss = np.array(bre.loss_history_)
    assert loss.size == 9 and (np.diff(loss) <= 1e-12).all() and loss[-1] < loss[0]


def test_bre_line_search_is_exact():
    """The sweep's optimum matches a dense scan of the weight, and its objective is what it reports."""
    rng = np.random.default_rng(3)
    n, n_bits = 25, 4
    bits = rng.choice(np.array([-1, 1], np.int8), (n, n_bits))
    target = (rng.random((n, n)) < 0.5).astype(float)
    target = np.triu(target, 1) + np.triu(target, 1).T
    c, k = rng.standard_normal(n), rng.standard_normal(n)
    hamming = (bits[:, None, :] != bits[None, :, :]).sum(axis=2).astype(np.int32)

    def objective(w):
        b = bits.copy()
        b[:, 0] = np.where(c + w * k >= 0, 1, -1)
        ham = (b[:, None, :] != b[None, :, :]).sum(axis=2)
        return np.sum(np.triu((target - ham / n_bits) ** 2, 1))

    w, best, now = _line_search(hamming, target, bits[:, 0].copy(), c, k, n_bits)
    assert best == pytest.approx(objective(w))
    assert now == pytest.approx(np.sum(np.triu((target - hamming / n_bits) ** 2, 1)))
    assert best <= min(objective(v) for v in np.linspace(-20, 20, 4001)) + 1e-12


def test_sh_bdnn_codes_are_balanced_decorrelated_and_objective_decreases(digits):
    x = digits[0]
    bdnn = fit("SH-BDNN", digits)
    loss = np.array(bdnn.loss_history_)
    assert (np.diff(loss) <= 1e-9 * loss[0]).all() and loss[-1] < loss[0]
    codes = bdnn.encode(x).astype(float)
    assert np.abs(codes.mean(axis=0)).max() < 0.15
    off_diagonal = ~np.eye(16, dtype=bool)
    corr = np.abs(np.corrcoef(codes.T)[off_diagonal]).mean()
    no_independence = np.abs(np.corrcoef(fit("SH-BDNN", digits, lambda3=0.0).encode(x).T.astype(float))[off_diagonal]).mean()
    assert corr < 0.2 and corr < no_independence


def test_sh_bdnn_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 7))
    for y in (np.eye(3)[rng.integers(0, 3, 30)], (rng.random((30, 4)) < 0.4).astype(float)):
        model = registry.create("SH-BDNN", n_bits=5, seed=0, params={"n_hidden": 6})
        theta = rng.normal(0, 0.5, 6 * 7 + 6 + 5 * 6 + 5)
        b = np.sign(rng.standard_normal((30, 5)))
        s = LabelSimilarity(y)
        _, grad = model._objective(theta, x, s, b)
        eps = np.eye(theta.size) * 1e-6
        numeric = [(model._objective(theta + e, x, s, b)[0] - model._objective(theta - e, x, s, b)[0]) / 2e-6
                   for e in eps]
        np.testing.assert_allclose(grad, numeric, atol=1e-6)


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
    ("KSH", {"sigma": 0}, "sigma: expected a positive kernel width or null, got 0"),
    ("KSH", {"n_labelled": 600}, "n_labelled: expected an integer in 2..500"),
    ("BRE", {"n_points": 1}, "n_points: expected an integer in 2..500"),
    ("BRE", {"sigma": -1.0}, "sigma: expected a positive kernel width"),
    ("SH-BDNN", {"n_hidden": 0}, "n_hidden: expected an integer >= 1"),
    ("SH-BDNN", {"lambda2": -1}, "lambda2: expected a non-negative number"),
    ("ITQ-CCA", {"reg": 0}, "reg: expected a positive regulariser"),
])
def test_bad_hyperparameters_are_named(digits, name, params, message):
    with pytest.raises(HashbenchError, match=message):
        fit(name, digits, **params)
