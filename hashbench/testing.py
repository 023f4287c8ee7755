"""Conformance checks a hashing method must pass, for the built-in methods and for plugin authors
(as scikit-learn's ``check_estimator``):

    from hashbench.testing import check_method
    check_method(MyMethod, X, Y)                  # raises AssertionError naming what is wrong

``X``/``Y`` are training data of the kind the method reads (features, or images for a deep method)
and their 0/1 label matrix; ``params`` are hyperparameters to use, by default the method's
``TEST_PARAMS`` (a small budget: a deep method's are 50 iterations of batch 16).

Beyond the contract, the codes must show the method learned: not degenerate (``hashbench.health``:
three quarters of the bits constant, or one code for all), and their MAP (the first half of ``X``
querying the second) at least ``LEARN_MARGIN`` above the same codes' MAP with the labels shuffled,
which is what codes that carry nothing of the data score.
"""

from __future__ import annotations

import numpy as np

from hashbench import health, metrics
from hashbench.method import HashMethod
from hashbench.errors import HashbenchError

LEARN_MARGIN = 0.05  # MAP above the shuffled labels' (random codes on the digits: +0.00; LSH at 12 bits: +0.26)
SHUFFLES = 5


def _codes(method: HashMethod, X, n_bits: int, what: str) -> np.ndarray:
    codes = method.encode(X)
    assert isinstance(codes, np.ndarray) and codes.dtype == np.int8, \
        f"{what}: encode must return an int8 array, got {type(codes).__name__} {getattr(codes, 'dtype', '')}"
    assert codes.shape == (len(X), n_bits), f"{what}: encode returned shape {codes.shape}, expected {(len(X), n_bits)}"
    assert np.isin(codes, (-1, 1)).all(), f"{what}: codes must be -1/+1"
    return codes


def check_method(cls: type[HashMethod], X, Y: np.ndarray, params: dict | None = None, n_bits: int = 12,
                 seed: int = 0) -> None:
    """Check ``cls`` against the method contract (``hashbench.method``): a ``name``; hyperparameters
    from ``__init__`` stored under their own names; ``fit`` returning self and adding only learned
    attributes ending in ``_``; int8 {-1, +1} codes of shape (n, n_bits); the same codes for the same
    seed; the same codes from a method rebuilt from ``get_params()``; unknown hyperparameters, and
    values of the wrong type, refused at config time (``check_params``) naming the hyperparameter;
    the defaults and ``params`` accepted there."""
    params = dict(cls.TEST_PARAMS if params is None else params)
    name = getattr(cls, "name", None)
    assert isinstance(name, str) and name, f"{cls.__qualname__}: needs a class attribute 'name'"
    assert issubclass(cls, HashMethod), f"{name}: must subclass hashbench.method.HashMethod"
    try:
        cls.check_params({"no_such_hyperparameter": 1})
    except HashbenchError as exc:
        assert "no_such_hyperparameter" in str(exc), f"{name}: the error for an unknown hyperparameter must name it"
    else:
        raise AssertionError(f"{name}: check_params accepted an unknown hyperparameter")
    method = cls(n_bits=n_bits, seed=seed, **params)
    stored = method.get_params()
    for key, value in params.items():
        assert stored[key] is value or stored[key] == value, \
            f"{name}: hyperparameter '{key}' must be stored unchanged as self.{key} (got {stored[key]!r})"
    try:
        cls.check_params(params)
    except HashbenchError as exc:
        raise AssertionError(f"{name}: check_params refused the defaults with {params}: {exc}") from None
    for key, default in cls.hyperparameters().items():
        if type(default) in (bool, int, float, str):
            wrong = 12345 if isinstance(default, str) else "not-a-number"
            try:
                cls.check_params({**params, key: wrong})
            except HashbenchError as exc:
                assert f"{key}:" in str(exc), f"{name}: the error for {key}={wrong!r} must name it, got: {exc}"
            else:
                raise AssertionError(f"{name}: check_params accepted {key}={wrong!r} (default {default!r})")

    before = set(vars(method))
    fitted = method.fit(X, Y)
    assert fitted is method, f"{name}: fit must return self"
    added = set(vars(method)) - before
    wrong = sorted(a for a in added if not a.endswith("_") and not a.startswith("_"))
    assert not wrong, f"{name}: fit set {wrong}; learned state must end in '_'"
    assert any(not a.startswith("_") for a in added), f"{name}: fit stored no learned state (attributes ending in '_')"
    assert method.get_params() == stored, f"{name}: fit changed its hyperparameters"
    codes = _codes(method, X, n_bits, name)
    _check_learned(name, codes, np.asarray(Y))

    again = cls(n_bits=n_bits, seed=seed, **params).fit(X, Y)
    np.testing.assert_array_equal(_codes(again, X, n_bits, name), codes,
                                  err_msg=f"{name}: the same seed must give the same codes")
    rebuilt = cls(n_bits=n_bits, seed=seed, **stored).fit(X, Y)
    np.testing.assert_array_equal(_codes(rebuilt, X, n_bits, name), codes,
                                  err_msg=f"{name}: a method rebuilt from get_params() must give the same codes")


def retrieval_map(codes: np.ndarray, Y: np.ndarray) -> float:
    """MAP over the whole database of the first half of the items querying the second half."""
    half = len(codes) // 2
    return metrics.evaluate(codes[:half], codes[half:], Y[:half], Y[half:], topk=len(codes) - half)["map"]


def _check_learned(name: str, codes: np.ndarray, Y: np.ndarray) -> None:
    """The codes are not degenerate and retrieve better than chance (the labels shuffled)."""
    diagnosis = health.diagnose(codes)
    assert not diagnosis["degenerate"], f"{name}: its codes are degenerate ({'; '.join(diagnosis['reasons'])})"
    rng = np.random.default_rng(0)
    learned = retrieval_map(codes, Y)
    chance = float(np.mean([retrieval_map(codes, Y[rng.permutation(len(Y))]) for _ in range(SHUFFLES)]))
    assert learned >= chance + LEARN_MARGIN, \
        f"{name}: its codes retrieve at chance (MAP {learned:.3f}, {chance:.3f} with the labels shuffled): it learned nothing"
