"""The interface every hashing method implements (scikit-learn style).

A method is a class with ``name`` (its registry key), hyperparameters as ``__init__`` keyword
arguments stored under the same attribute names, ``fit(X, Y)`` returning ``self`` with learned
state in attributes ending in ``_``, and ``encode(X)`` returning {-1,+1} int8 codes. ``X`` is an
(n, D) float array of the protocol's features; ``Y`` an (n, C) 0/1 label matrix (ignored by
unsupervised methods). A method may fill ``loss_history_`` with one float per iteration.
The class attribute ``PARAMS`` declares their ranges and choices (``hashbench.params``);
``validate()`` checks them with no data, and the workflow calls it through ``check_params`` when it
reads the config.

Metadata the stages read, so that a plugin needs no change to the core: ``STYLE`` (its colour
and marker in the figures), ``CLAIM_GROUP`` (which claims it enters; ``CLAIM_GROUPS``) and
``TEST_PARAMS`` (a small budget for the conformance check).

``is_deep`` is the one answer to "is this a deep method?": a deep method
(``hashbench.deep.method.DeepHashMethod``) reads the protocol's images instead of its features and
takes the GPU in the workflow; its ``fit`` also takes the runner's ``trainer``. The run hooks below
(``inputs``, ``encode_database``, ``log_loss_history``) are what ``hashbench.stages.train`` calls
around fit and encode; the deep base overrides them for images and continuous outputs.
"""

from __future__ import annotations

import inspect
import logging
from typing import ClassVar

import numpy as np

from hashbench.params import validate as validate_params
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


# The claim groups (``hashbench.stages.claims``): the paper's baselines are compared with HashNet as a
# group (its best method in each column); each method published after HashNet, and each plugin, gets
# its own row "<method> > HashNet".
CLAIM_GROUPS = ("HashNet", "deep baseline", "shallow baseline", "published after HashNet", "plugin")


class HashMethod:
    name: ClassVar[str]
    supervised: ClassVar[bool] = False
    is_deep: ClassVar[bool] = False
    PARAMS: ClassVar[dict] = {}  # {hyperparameter: constraint} (``hashbench.params``)
    # What the suite's stages read of a method, carried by the method itself:
    STYLE: ClassVar[tuple[str, str] | None] = None  # (colour, marker) in every figure; None: one derived from the name
    CLAIM_GROUP: ClassVar[str | None] = "plugin"  # its rows in claims.md (``CLAIM_GROUPS``); None: none
    TEST_PARAMS: ClassVar[dict] = {}  # hyperparameters that keep ``hashbench.testing.check_method`` to seconds

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
        """Check the hyperparameters that need no data (``hashbench.params.validate``: types from the
        defaults, the ranges and choices declared in ``PARAMS``); a HashbenchError starts with the
        name of the first bad one. ``fit`` calls it too, for methods used outside the workflow; a
        method overrides it (calling it first) only for checks across hyperparameters."""
        validate_params(self)

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self.hyperparameters()}

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "HashMethod":
        raise NotImplementedError

    def encode(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- run hooks (hashbench.stages.train) ----------------------------------------------------
    def inputs(self, data, protocol_def: dict, threads: int | None, workers: int | None):
        """What the method fits and encodes, from a prepared protocol (``hashbench.data.splits``);
        ``threads`` and ``workers`` (loader processes) are the job's."""
        return data.features(protocol_def["features"])

    def encode_database(self, X) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """The database codes, and the other arrays of the database the run stores
        ({file name in the run folder: {array name: array}})."""
        return self.encode(X), {}

    def log_loss_history(self, history: list) -> None:
        """Log the loss history after ``fit`` (one line per iteration)."""
        for i, value in enumerate(history):
            log.info("iteration %d loss %.6g", i + 1, value)
