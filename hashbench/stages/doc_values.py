"""Numbers in the prose of the README and docs/ that come from runs, generated from the shipped
reference runs like the tables (``hashbench.stages.doc_tables``): a value is the number written just
before a marker ``<!--= EXPRESSION -->``, which Markdown does not show::

    HashNet level with CNNH (p = 0.21<!--= p mnist5k/HashNet/48 CNNH -->)

``hashbench doc-tables`` rewrites the number, ``--check`` names the first that differs. The number
keeps the decimals and the sign written there (p-values: two significant digits; learning rates: as
short as they print). A cell is ``[source:]protocol/method/bits`` (the source a shipped reference of
``doc_tables.SOURCES``); ``min``/``max`` and the ``*min``/``*max`` forms take comma lists of
protocols, methods and lengths. Expressions:

- ``mean CELL``, ``std CELL``: the cell's MAP over the reference's seeds (mean, sample std)
- ``seed CELL N``: seed N's MAP; ``seedmin CELLS`` / ``seedmax CELLS``: the lowest / highest seed's
- ``min CELLS`` / ``max CELLS``: the lowest / highest mean; ``stdmin`` / ``stdmax CELLS``: std
- ``diff CELL METHOD``: the cell's mean minus METHOD's at the same protocol and length (``@SOURCE``
  instead of METHOD: minus the same cell in another shipped reference); ``diffmin`` / ``diffmax`` /
  ``absdiffmax CELLS METHOD`` over several; ``diffstd CELL METHOD`` the sample std over the
  seeds of the difference, paired by seed
- ``p CELL METHOD``: the tables' two-sided paired randomization test of the two cells' seed-averaged
  per-query AP (10,000 sign flips, unadjusted); ``pmin`` / ``pmax CELLS METHOD`` over several
- ``identical CELLS METHOD``: how many of the cells have every seed's codes equal to the other's
  (``@SOURCE``: the same cell's in another reference, e.g. another machine's)
- ``ph2 CELL``, ``mapat CELL R``: mean P@H<=2, mean MAP@R over the seeds
- ``ratio PROTOCOL``: its training pairs' dissimilar:similar ratio (the imbalance study's record)
- ``lr PROTOCOL/METHOD``: the learning rate the shipped tuning record chose; ``val PROTOCOL/METHOD LR``
  the validation MAP it recorded for LR
"""

from __future__ import annotations

import functools
import re
from itertools import product

import numpy as np

from hashbench import reference, stats
from hashbench.errors import HashbenchError
from hashbench.stages.reproduction import REFERENCE_DIR

# The shipped references a document may name: the default benchmark's; the one trainer every deep
# method shared before training recipes (``recipe: shared``); ``make later``'s methods published after
# HashNet; the studies of docs/beyond-the-paper.md.
SOURCES = {"runs": REFERENCE_DIR, "shared": REFERENCE_DIR.with_name("runs-shared"),
           "later": REFERENCE_DIR.with_name("runs-later"), "unseen": REFERENCE_DIR.with_name("runs-unseen"),
           "imbalance": REFERENCE_DIR.with_name("runs-imbalance")}
# the imbalance study's record: figures/imbalance.csv of the runs shipped as runs-imbalance
IMBALANCE_RECORD = SOURCES["imbalance"] / "imbalance.csv"
# a sign belongs to the number after a space or "(", not in a range such as 0.97-0.98
VALUE = re.compile(r"((?:(?<=[\s(])[-+])?\d[\d,]*(?:\.\d+)?)<!--= ([^>]+?) -->")
RESAMPLES = 10_000  # the default config's tables.resamples
EXPRESSIONS = ("mean", "std", "seed", "min", "max", "stdmin", "stdmax", "seedmin", "seedmax", "diff", "diffmin",
               "diffmax", "absdiffmax", "diffstd", "identical", "p", "pmin", "pmax", "ph2", "mapat", "ratio", "lr", "val")


def cells(spec: str) -> list[tuple[str, str, int]]:
    """``[source:]protocols/methods/bits`` (comma lists allowed) as (reference name, method, bits) triples."""
    parts = spec.split("/")
    if len(parts) != 3:
        raise HashbenchError(f"{spec}: expected a cell as [source:]protocol/method/bits")
    names, methods, bits = parts
    source, colon, protocols = names.rpartition(":")
    try:
        return [(source + colon + p, m, int(b))
                for p, m, b in product(protocols.split(","), methods.split(","), bits.split(","))]
    except ValueError:
        raise HashbenchError(f"{spec}: the code lengths are not integers") from None


def _record(load, cell) -> tuple[dict, np.ndarray]:
    name, method, bits = cell
    meta, per_query = load(name)
    key = f"{method}/{bits}"
    if key not in meta["cells"]:
        raise HashbenchError(f"{name}: its shipped reference has no cell {key}")
    return meta["cells"][key], per_query[key]


def _field(load, cell, field: str) -> list:
    record = _record(load, cell)[0]
    if field not in record:
        raise HashbenchError(f"{cell[0]}: its shipped reference keeps no {field!r} per seed (it predates them)")
    return record[field]


def _one(found: list, expression: str):
    if len(found) != 1:
        raise HashbenchError(f"{expression}: names {len(found)} cells, expected one")
    return found[0]


@functools.cache  # the same value may be written on several pages; a p-value costs 10,000 resamples
def evaluate(expression: str, load) -> tuple[float, str]:
    """The value of ``expression`` and its kind ("p", "lr" or "map"); ``load(name)`` gives a shipped
    reference's (meta, per-query AP)."""
    op, *args = expression.split()
    if op in ("lr", "val"):
        from hashbench.stages import tuning

        protocol, _, method = args[0].partition("/")
        entry = tuning.load(reference.TUNING)["protocols"].get(protocol, {}).get(method)
        if entry is None:
            raise HashbenchError(f"{expression}: the shipped tuning record has no {method} on {protocol}")
        if op == "lr":
            return entry["chosen"]["lr"], "lr"
        score = [s["map"] for s in entry["scores"] if s["params"]["lr"] == float(args[1])]
        if not score:
            raise HashbenchError(f"{expression}: the shipped tuning record tried no lr {args[1]}")
        return score[0], "map"
    if op == "ratio":  # a protocol's dissimilar:similar training pairs, from the imbalance study's record
        import pandas as pd

        record = pd.read_csv(IMBALANCE_RECORD)
        ratio = record.loc[record["protocol"] == args[0], "ratio"]
        if ratio.empty:
            raise HashbenchError(f"{expression}: {IMBALANCE_RECORD} has no protocol {args[0]!r}")
        return float(ratio.iloc[0]), "map"
    found = cells(args[0])

    def other(cell):  # the same protocol and length, the method named second; "@source": the same cell there
        if args[1].startswith("@"):
            return f"{args[1][1:]}:{cell[0].rpartition(':')[2]}", cell[1], cell[2]
        return cell[0], args[1], cell[2]

    def mean(cell):
        return _record(load, cell)[0]["mean"]

    def per_cell(base: str) -> list:  # the values a ``base``, ``base``min or ``base``max expression reduces
        if base in ("", "mean", "std"):
            return [_record(load, c)[0][base or "mean"] for c in found]
        if base == "seed":
            return [v for c in found for v in _field(load, c, "maps")]
        if base in ("diff", "absdiff"):
            diffs = [mean(c) - mean(other(c)) for c in found]
            return [abs(d) for d in diffs] if base == "absdiff" else diffs
        if base == "p":
            return [stats.paired_randomization_test(_record(load, c)[1], _record(load, other(c))[1], RESAMPLES)
                    for c in found]
        raise HashbenchError(f"{expression}: unknown expression {op!r}; expected one of {', '.join(EXPRESSIONS)}")

    if op == "seed":
        meta = load(found[0][0])[0]
        return _field(load, _one(found, expression), "maps")[meta["seeds"].index(int(args[1]))], "map"
    if op == "diffstd":  # the sample std over the seeds of the two methods' MAP difference, paired by seed
        cell = _one(found, expression)
        gap = np.subtract(_field(load, cell, "maps"), _field(load, other(cell), "maps"))
        return float(gap.std(ddof=1)), "map"
    if op == "identical":  # cells whose every seed's codes digest equals the other cell's
        return sum(_field(load, c, "codes") == _field(load, other(c), "codes") for c in found), "count"
    if op == "ph2":
        return float(np.mean(_field(load, _one(found, expression), "p_h2"))), "map"
    if op == "mapat":
        at = _field(load, _one(found, expression), "map_at")
        if args[1] not in at:
            raise HashbenchError(f"{expression}: the shipped reference keeps no MAP@{args[1]}")
        return float(np.mean(at[args[1]])), "map"
    kind = "p" if op in ("p", "pmin", "pmax") else "map"
    if op.endswith(("min", "max")):
        return (min if op.endswith("min") else max)(per_cell(op[:-3])), kind
    return _one(per_cell(op), expression), kind


def render(written: str, expression: str, load) -> str:
    """The number ``expression`` gives, in the form ``written`` has there (its decimals and sign)."""
    value, kind = evaluate(expression, load)
    if kind == "p":
        return f"{value:.2g}"
    if kind == "lr":
        return f"{value:g}"
    if kind == "count":
        return str(value)
    decimals = len(written.partition(".")[2])
    return f"{value:+.{decimals}f}" if written[0] in "+-" else f"{value:.{decimals}f}"


def values(text: str, load) -> list[tuple[str, str, str]]:
    """Every generated value of ``text``: (its expression, the number there, the number it should be)."""
    return [(m.group(2), m.group(1), render(m.group(1), m.group(2), load)) for m in VALUE.finditer(text)]


def regenerate(text: str, load) -> str:
    """``text`` with every generated value rendered afresh."""
    return VALUE.sub(lambda m: render(m.group(1), m.group(2), load) + m.group(0)[len(m.group(1)):], text)
