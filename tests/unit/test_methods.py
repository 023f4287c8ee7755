"""Conformance of every registered method, and the defining properties of LSH and ITQ."""

import numpy as np
import pytest

from hashbench import registry
from hashbench.method import HashMethod
from hashbench.deep import optim
from hashbench.deep.method import DeepHashMethod
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.testing import check_method

METHODS = sorted(registry.methods())


@pytest.fixture(scope="module")
def digits(digits_dir):
    data = splits.load(digits_dir)
    return data.features("pixels"), data.labels, data.split


@pytest.fixture(scope="module")
def digit_images(digits_dir):
    return splits.load(digits_dir).array_images()


@pytest.mark.parametrize("name", METHODS)
def test_conformance(name, digits, digit_images):
    """Every registered method, plugins included, at its own small budget (``TEST_PARAMS``)."""
    x, y, split = digits
    deep = registry.get(name).is_deep
    train = split["train"]
    check_method(registry.get(name), (digit_images if deep else x)[train], y[train])


class _Forgetful(HashMethod):
    """Breaks the contract in one way at a time, to show the check catches each."""

    name = "FORGETFUL"
    fits = 0

    def __init__(self, n_bits=8, seed=0, scale=1.0, flaw=None):
        super().__init__(n_bits, seed)
        self.scale = scale if flaw != "renamed" else None
        self.flaw = flaw

    def validate(self):
        if self.flaw != "untyped":
            super().validate()

    def fit(self, X, Y=None):
        _Forgetful.fits += 1  # "unseeded": every other fit moves the thresholds, whatever the seed
        self.mean_ = X[:, : self.n_bits].mean(axis=0) + (0.5 * (_Forgetful.fits % 2) if self.flaw == "unseeded" else 0)
        if self.flaw == "unmarked":
            self.weights = 1
        return None if self.flaw == "no_self" else self

    def encode(self, X):
        codes = np.where(X[:, : self.n_bits] * self.scale >= self.mean_, 1, -1)
        if self.flaw == "flat":  # a collapsed model: one code for everything
            codes = np.ones_like(codes)
        if self.flaw == "blind":  # codes that ignore the data
            codes = np.where(np.random.default_rng(self.seed).random(codes.shape) < 0.5, 1, -1)
        return codes if self.flaw == "int64" else codes.astype(np.int8)


@pytest.mark.parametrize("flaw, message", [
    ("no_self", "fit must return self"),
    ("unmarked", r"fit set \['weights'\]; learned state must end in '_'"),
    ("int64", "encode must return an int8 array"),
    ("unseeded", "the same seed must give the same codes"),
    ("renamed", "hyperparameter 'scale' must be stored unchanged"),
    ("untyped", "check_params accepted scale='not-a-number'"),
    ("flat", r"its codes are degenerate \(12 of 12 bits constant over the database; one code for the whole database\)"),
    ("blind", r"its codes retrieve at chance \(MAP 0\.1\d\d, 0\.1\d\d with the labels shuffled\): it learned nothing"),
])
def test_check_method_catches_each_broken_contract(flaw, message, digits):
    x, y, split = digits
    check_method(_Forgetful, x[split["train"]], y[split["train"]], {"flaw": None})
    with pytest.raises(AssertionError, match=message):
        check_method(_Forgetful, x[split["train"]], y[split["train"]], {"scale": 2.0, "flaw": flaw})


class _RMSpropPlugin(DeepHashMethod):
    """A plugin that declares its own optimiser, as a third-party package would (deep/method.py)."""

    name = "RMSPROP-PLUGIN"
    RECIPE = {"optimizer": "rmsprop", "lr": 2e-4, "smoothing": 0.9, "eps": 1e-6, "momentum": 0.5,
              "weight_decay": 1e-4, "lr_gamma": 0.3}
    LR_STEP_FRACTION = 0.5

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import pairwise_likelihood

        return pairwise_likelihood(codes, labels, 0.5, "none")


def test_a_plugin_with_its_own_optimiser_passes_the_check_and_trains_with_it(digit_images, digits):
    _, y, split = digits
    train = split["train"]
    params = {"iterations": 10, "batch_size": 16}
    check_method(_RMSpropPlugin, digit_images[train], y[train], params)
    method = _RMSpropPlugin(n_bits=12, **params)
    assert method.resolved() == {"optimizer": "rmsprop", "lr": optim.USUAL_LR["rmsprop"],
                                 "head_lr": optim.USUAL_LR["rmsprop"], "lr_step": 5, "lr_gamma": 0.3,
                                 "weight_decay": 1e-4, "smoothing": 0.9, "eps": 1e-6, "momentum": 0.5}
    torch = pytest.importorskip("torch")
    weights = [torch.nn.Parameter(torch.zeros(2))]
    optimizer, scheduler = optim.build(method, weights, [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(optimizer, torch.optim.RMSprop) and scheduler.step_size == 5
    assert optimizer.param_groups[0]["alpha"] == 0.9 and optimizer.param_groups[0]["momentum"] == 0.5
    pretrained = _RMSpropPlugin(n_bits=12, pretrained=True).resolved()
    assert (pretrained["lr"], pretrained["head_lr"]) == (2e-4, pytest.approx(2e-3))  # the recipe's, head 10x


@pytest.mark.parametrize("name", METHODS)
def test_unknown_hyperparameter_is_named(name):
    with pytest.raises(HashbenchError, match=f"method '{name}' has no hyperparameter 'no_such_param'"):
        registry.create(name, n_bits=8, seed=0, params={"no_such_param": 1})


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(HashbenchError, match=r"unknown method 'NOPE'; available: .*ITQ.*LSH"):
        registry.get("NOPE")


def test_lsh_bits_collide_with_probability_one_minus_angle_over_pi():
    """Charikar's random-hyperplane property, checked with many bits."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 20))
    x -= x.mean(axis=0)
    lsh = registry.create("LSH", n_bits=128, seed=0, params={}).fit(x, None)
    ref = registry.create("LSH", n_bits=128, seed=1, params={}).fit(x, None)
    a, b = x[0], x[1]
    angle = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    differing = np.mean([(m.encode(x[:1]) != m.encode(x[1:2])).mean() for m in (lsh, ref)])
    assert differing == pytest.approx(angle / np.pi, abs=0.08)


def test_itq_quantization_loss_never_increases(digits):
    x, y, split = digits
    itq = registry.create("ITQ", n_bits=16, seed=0, params={"n_iter": 50}).fit(x[split["train"]], None)
    loss = np.array(itq.loss_history_)
    assert loss.size == 50
    assert (np.diff(loss) <= 1e-9 * loss[0]).all()
    assert loss[-1] < loss[0]
    np.testing.assert_allclose(itq.rotation_ @ itq.rotation_.T, np.eye(16), atol=1e-10)


def test_itq_rotation_beats_plain_pca_signs(digits):
    """ITQ's rotation lowers the quantization loss of PCA-then-sign (its reason to exist)."""
    x, y, split = digits
    itq = registry.create("ITQ", n_bits=16, seed=0, params={}).fit(x[split["train"]], None)
    v = (x[split["train"]] - itq.mean_) @ itq.pca_
    pca_loss = np.sum((np.where(v >= 0, 1, -1) - v) ** 2)
    assert itq.loss_history_[-1] < pca_loss


def test_itq_rejects_more_bits_than_dimensions():
    with pytest.raises(HashbenchError, match="n_bits: 70 bits exceed the feature dimension 64"):
        registry.create("ITQ", n_bits=70, seed=0, params={}).fit(np.random.default_rng(0).random((100, 64)), None)
    with pytest.raises(HashbenchError, match="n_iter: expected an integer >= 1"):
        registry.create("ITQ", n_bits=8, seed=0, params={"n_iter": 0}).fit(np.zeros((10, 64)), None)
