"""The interface every hashing method implements (scikit-learn style).

A method is a class with ``name`` (its registry key), hyperparameters as ``__init__`` keyword
arguments stored under the same attribute names, ``fit(X, Y)`` returning ``self`` with learned
state in attributes ending in ``_``, and ``encode(X)`` returning {-1,+1} int8 codes. ``X`` is an
(n, D) float array of the protocol's features; ``Y`` an (n, C) 0/1 label matrix (ignored by
unsupervised methods). A method may fill ``loss_history_`` with one float per iteration.
``validate()`` checks the hyperparameters that need no data (types from the defaults, ranges added
by each method); the workflow calls it through ``check_params`` when it reads the config.

``is_deep`` is the one answer to "is this a deep method?": a deep method
(``hashbench.deep.base.DeepHashMethod``) reads the protocol's images instead of its features and
takes the GPU in the workflow. The run hooks below (``inputs``, ``start_run``, ``encode_database``,
``log_loss_history``, ``end_run``) are what ``hashbench.stages.train`` calls around fit and encode;
the deep base overrides them for threads, checkpoints and continuous outputs.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import ClassVar

import numpy as np

from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def require_int(name: str, value, low: int, high: int | None = None, what: str = "") -> None:
    """Raise a HashbenchError naming hyperparameter ``name`` unless low <= value <= high is an integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        expected = f"in {low}..{high}{what}" if high is not None else f">= {low}"
        raise HashbenchError(f"{name}: expected an integer {expected}, got {value!r}")


def require_number(name: str, value, ok, expected: str) -> None:
    """Raise a HashbenchError naming hyperparameter ``name`` unless ``value`` is a real number (not a
    bool) for which ``ok(value)`` holds; ``expected`` completes "expected ..." in the message."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
        raise HashbenchError(f"{name}: expected {expected}, got {value!r}")


def multi_label(Y) -> bool:
    """Whether a 0/1 label matrix is multi-label: some item has other than exactly one label."""
    return bool((np.asarray(Y).sum(axis=1) != 1).any())


def sign(x: np.ndarray) -> np.ndarray:
    """sgn with sgn(0) = +1 (HashNet Eq. 5), as int8."""
    return np.where(np.asarray(x) >= 0, 1, -1).astype(np.int8)


TYPES = ((bool, (bool,), "true or false"), (int, (int,), "an integer"), (float, (int, float), "a number"),
         (str, (str,), "a string"), (tuple, (tuple, list), "a list"))


def check_type(key: str, value, default) -> None:
    """Raise a HashbenchError naming ``key`` unless ``value`` has the type of ``default`` (a bool, an
    int, a float, a str or a tuple; an int passes for a float; any value where the default is None)."""
    for kind, accepted, expected in TYPES:
        if type(default) is kind:
            if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
                raise HashbenchError(f"{key}: expected {expected}, got {value!r}")
            return


class HashMethod:
    name: ClassVar[str]
    supervised: ClassVar[bool] = False
    is_deep: ClassVar[bool] = False

    def __init__(self, n_bits: int = 32, seed: int = 0):
        self.n_bits = n_bits
        self.seed = seed

    @classmethod
    def hyperparameters(cls) -> dict:
        """Hyperparameter names and defaults, read from the ``__init__`` of the class and its bases
        (a subclass may pass the rest on with ``**kwargs``); n_bits and seed excluded."""
        found = {}
        for klass in cls.__mro__:
            if "__init__" not in vars(klass):
                continue
            for key, p in inspect.signature(klass.__init__).parameters.items():
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and key not in ("self", "n_bits", "seed"):
                    found.setdefault(key, p.default)
        return found

    @classmethod
    def check_params(cls, params: dict, field: str = "params") -> None:
        """Refuse unknown hyperparameters and values of the wrong type or range (``validate``), naming
        ``field`` and the hyperparameter: the workflow calls this when it reads the config."""
        known = cls.hyperparameters()
        for key in params:
            if key not in known:
                expected = ", ".join(known) or "none"
                raise HashbenchError(f"{field}: method '{cls.name}' has no hyperparameter '{key}'; expected: {expected}")
        try:
            cls(**params).validate()
        except HashbenchError as exc:
            raise HashbenchError(f"{field}: method '{cls.name}': {exc}") from None

    def validate(self) -> None:
        """Check the hyperparameters that need no data; a HashbenchError starts with the name of the
        first bad one. Here the types: one whose default is a bool, an int, a float, a str or a
        tuple must be one too (an int passes for a float; None only where the default is None). A
        method adds its ranges and choices by overriding this (calling it first); ``fit`` calls it
        too, for methods used outside the workflow."""
        for key, default in self.hyperparameters().items():
            check_type(key, getattr(self, key), default)

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self.hyperparameters()}

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "HashMethod":
        raise NotImplementedError

    def encode(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- run hooks (hashbench.stages.train) ----------------------------------------------------
    def inputs(self, data, protocol_def: dict, threads: int | None):
        """What the method fits and encodes, from a prepared protocol (``hashbench.data.splits``)."""
        return data.features(protocol_def["features"])

    def start_run(self, out_dir: Path) -> None:
        """Called before ``fit`` with the run's folder."""

    def encode_database(self, X) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """The database codes, and the other arrays of the database the run stores
        ({file name in the run folder: {array name: array}})."""
        return self.encode(X), {}

    def log_loss_history(self, history: list) -> None:
        """Log the loss history after ``fit`` (one line per iteration)."""
        for i, value in enumerate(history):
            log.info("iteration %d loss %.6g", i + 1, value)

    def end_run(self, out_dir: Path) -> None:
        """Called once run.json is written."""
