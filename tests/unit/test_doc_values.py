"""Generated numbers of the docs (hashbench.stages.doc_values) on a small made-up reference: each
expression's value, the form it is written in, and one-line errors."""

import numpy as np
import pytest

from hashbench import stats
from hashbench.errors import HashbenchError
from hashbench.stages import doc_values

RNG = np.random.default_rng(0)
AP = {"A/16": RNG.random(50), "B/16": RNG.random(50) * 0.5, "A/32": RNG.random(50), "B/32": RNG.random(50)}
META = {"seeds": [0, 1, 2], "cells": {
    "A/16": {"mean": 0.6, "std": 0.1, "maps": [0.5, 0.6, 0.7], "p_h2": [0.2, 0.3, 0.4], "map_at": {"1000": [0.1, 0.2, 0.3]},
             "codes": ["a", "b", "c"]},
    "B/16": {"mean": 0.45, "std": 0.05, "maps": [0.4, 0.45, 0.5]},
    "A/32": {"mean": 0.8, "std": 0.02, "codes": ["d", "e", "x"]},
    "B/32": {"mean": 0.75, "std": 0.03}}}


OTHER = {"seeds": [0, 1, 2], "cells": {"A/16": {"mean": 0.62, "std": 0.1, "codes": ["a", "b", "c"]},
                                      "A/32": {"mean": 0.7, "std": 0.1, "codes": ["d", "e", "f"]}}}


def load(name):
    if name not in ("src:toy", "elsewhere:toy"):
        raise HashbenchError(f"{name}: no such reference")
    return (META, AP) if name == "src:toy" else (OTHER, AP)


@pytest.mark.parametrize("expression, written, expected", [
    ("mean src:toy/A/16", "0.1", "0.6"),
    ("std src:toy/B/32", "0.1234", "0.0300"),
    ("seed src:toy/A/16 2", "0.1", "0.7"),
    ("seedmin src:toy/A/16", "0.1", "0.5"),
    ("min src:toy/A,B/16,32", "0.00", "0.45"),
    ("max src:toy/A,B/16,32", "0.00", "0.80"),
    ("stdmax src:toy/A,B/16,32", "0.00", "0.10"),
    ("diff src:toy/A/16 B", "+0.000", "+0.150"),
    ("diffmin src:toy/A/16,32 B", "0.00", "0.05"),
    ("diff src:toy/B/32 A", "+0.00", "-0.05"),
    ("diff src:toy/A/16 @elsewhere", "0.00", "-0.02"),  # the same cell in another reference
    ("absdiffmax src:toy/A/16,32 @elsewhere", "0.00", "0.10"),
    ("identical src:toy/A/16,32 @elsewhere", "0", "1"),  # A/32's third seed differs
    ("diffstd src:toy/A/16 B", "0.000", "0.050"),  # gaps 0.1, 0.15, 0.2 by seed: std 0.05
    ("ph2 src:toy/A/16", "0.0", "0.3"),
    ("mapat src:toy/A/16 1000", "0.0", "0.2"),
])
def test_each_expression_renders_in_the_form_written(expression, written, expected):
    assert doc_values.render(written, expression, load) == expected


def test_p_is_the_tables_paired_test_in_two_significant_digits():
    p = stats.paired_randomization_test(AP["A/32"], AP["B/32"], 10_000)
    assert doc_values.render("1", "p src:toy/A/32 B", load) == f"{p:.2g}"
    assert doc_values.evaluate("pmax src:toy/A/16,32 B", load)[0] == p  # A is far above B at 16 bits


def test_values_are_rewritten_in_place_and_a_range_is_not_a_sign():
    text = "spans 0.1<!--= min src:toy/A/16,32 -->-0.1<!--= max src:toy/A/16,32 --> (-0.9<!--= diff src:toy/B/32 A -->)"
    assert doc_values.regenerate(text, load) == ("spans 0.6<!--= min src:toy/A/16,32 -->-0.8<!--= max src:toy/A/16,32 -->"
                                                 " (-0.1<!--= diff src:toy/B/32 A -->)")
    assert [(w, r) for _, w, r in doc_values.values(text, load)] == [("0.1", "0.6"), ("0.1", "0.8"), ("-0.9", "-0.1")]


@pytest.mark.parametrize("expression, message", [
    ("mean src:toy/A/16,32", "names 2 cells, expected one"),
    ("mean src:toy/C/16", "src:toy: its shipped reference has no cell C/16"),
    ("seed src:toy/B/32 0", "keeps no 'maps' per seed"),
    ("mean src:toy/A", "expected a cell as"),
    ("mean src:toy/A/x", "not integers"),
    ("median src:toy/A/16", "unknown expression 'median'"),
    ("mean other:toy/A/16", "other:toy: no such reference"),
    ("mapat src:toy/A/16 5000", "keeps no MAP@5000"),
])
def test_a_bad_expression_is_one_line_naming_it(expression, message):
    with pytest.raises(HashbenchError, match=message):
        doc_values.render("0.1", expression, load)
