"""Hyperparameters declared once per method, and the one validator that gives every message.

A method declares the types and ranges of its hyperparameters in the class attribute ``PARAMS``
({name: constraint}), as scikit-learn's ``_parameter_constraints``; a subclass's entries add to
and override its bases'. ``validate`` checks every hyperparameter: its type from its default (a
bool, an int, a float, a str or a tuple; an int passes for a float; any value where the default is
None) and its declared constraint. A check that needs the data (at most the training set size)
calls ``check`` from ``fit``. Every message reads "<name>: expected <what>, got <value>".
"""

from __future__ import annotations

from dataclasses import dataclass

from hashbench.errors import HashbenchError

WORDS = {2: "two", 3: "three", 4: "four"}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Integer:
    """An integer in low..high (high None: no upper bound)."""
    low: int
    high: int | None = None

    def accepts(self, value) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool) and value >= self.low
                and (self.high is None or value <= self.high))

    @property
    def bounds(self) -> str:
        return f"in {self.low}..{self.high}" if self.high is not None else f">= {self.low}"

    @property
    def expected(self) -> str:
        return f"an integer {self.bounds}"


@dataclass(frozen=True)
class Real:
    """A real number between low and high (None: unbounded); ``closed`` names the ends that belong:
    "both", "left", "right" or "neither"."""
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def accepts(self, value) -> bool:
        if not _is_number(value):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        return ((self.low is None or value > self.low or (left and value == self.low))
                and (self.high is None or value < self.high or (right and value == self.high)))

    @property
    def bounds(self) -> str:
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.high is None:
            return f"{'>=' if left else '>'} {self.low}"
        if self.low is None:
            return f"{'<=' if right else '<'} {self.high}"
        return f"in {'[' if left else '('}{self.low}, {self.high}{']' if right else ')'}"

    @property
    def expected(self) -> str:
        if self.high is None and self.low == 0:
            return "a non-negative number" if self.closed in ("both", "left") else "a positive number"
        return f"a number {self.bounds}"


@dataclass(frozen=True)
class Options:
    """One of the listed values."""
    values: tuple

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.values

    @property
    def expected(self) -> str:
        return f"one of {', '.join(map(str, self.values))}"


@dataclass(frozen=True)
class Boolean:
    def accepts(self, value) -> bool:
        return isinstance(value, bool)

    expected = "true or false"


@dataclass(frozen=True)
class Several:
    """A list of ``count`` values, each accepted by ``each``."""
    count: int
    each: Integer | Real

    def accepts(self, value) -> bool:
        return isinstance(value, (list, tuple)) and len(value) == self.count and all(map(self.each.accepts, value))

    @property
    def expected(self) -> str:
        noun = "integers" if isinstance(self.each, Integer) else "numbers"
        return f"{WORDS.get(self.count, self.count)} {noun} {self.each.bounds}"


@dataclass(frozen=True)
class Nullable:
    """None, or what ``inner`` accepts (null in the config: a default decided elsewhere)."""
    inner: Integer | Real | Options | Boolean | Several

    def accepts(self, value) -> bool:
        return value is None or self.inner.accepts(value)

    @property
    def expected(self) -> str:
        return f"{self.inner.expected} or null"


def check(name: str, value, constraint, note: str = "") -> None:
    """Raise a HashbenchError naming ``name`` unless ``constraint`` accepts ``value``; ``note`` says
    where a bound comes from (e.g. " (the training set size)")."""
    if not constraint.accepts(value):
        raise HashbenchError(f"{name}: expected {constraint.expected}{note}, got {value!r}")


def check_type(key: str, value, default) -> None:
    """Raise a HashbenchError naming ``key`` unless ``value`` has the type of ``default``."""
    if type(default) is bool:
        check(key, value, Boolean())
    elif type(default) is int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise HashbenchError(f"{key}: expected an integer, got {value!r}")
    elif type(default) is float and not _is_number(value):
        raise HashbenchError(f"{key}: expected a number, got {value!r}")
    elif type(default) is str and not isinstance(value, str):
        raise HashbenchError(f"{key}: expected a string, got {value!r}")
    elif type(default) is tuple and not isinstance(value, (tuple, list)):
        raise HashbenchError(f"{key}: expected a list, got {value!r}")


def declared(cls) -> dict:
    """The constraints of ``cls`` and its bases, a subclass's over its bases'."""
    out = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("PARAMS", {}))
    return out


def validate(method) -> None:
    """Check every hyperparameter of ``method``: its type from its default, then its constraint; a
    HashbenchError names the first bad one."""
    constraints = declared(type(method))
    for key, default in method.hyperparameters().items():
        value = getattr(method, key)
        check_type(key, value, default)
        if key in constraints:
            check(key, value, constraints[key])
