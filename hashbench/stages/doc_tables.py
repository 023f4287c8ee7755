"""The results tables of the README and docs/, generated from the shipped reference runs
(``hashbench/reference/runs``) so that text and data cannot drift: ``hashbench doc-tables``
rewrites every generated block in place, ``hashbench doc-tables --check`` exits non-zero naming
the first block that differs (tests/unit/test_docs.py runs the check).

A block is the lines between a marker and ``<!-- end -->``::

    <!-- generated: table1 mnist5k -->
    | method | 16 bits | ... |
    <!-- end -->

``table1`` / ``table2`` and a protocol with a shipped reference. Each block is that table's MAP
for one protocol as ``hashbench tables`` writes it (mean ± sample std over the reference's seeds;
bold the column's best, ≈ not significantly worse after Holm, the tables' paired randomization
test on the reference's seed-averaged per-query AP, 10,000 sign flips, alpha 0.05).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np

from hashbench import io
from hashbench.errors import HashbenchError
from hashbench.stages.reproduction import REFERENCE_DIR, reference_files
from hashbench.stages.tables import _md_cell, mark_column, row_name, table_methods

BLOCK = re.compile(r"(<!-- generated: (table[12]) ([A-Za-z0-9_.-]+) -->\n)(.*?)(<!-- end -->)", re.S)
ALPHA, RESAMPLES = 0.05, 10_000  # the default config's tables.alpha and tables.resamples
DOCUMENTS = ("README.md", "docs/results.md")  # the files holding generated blocks, from the repository root


@functools.cache  # the reference runs are shipped files: a block renders once per process
def render(table: str, protocol: str, reference_dir=REFERENCE_DIR) -> str:
    """One protocol's Table 1 or 2 from its reference run, as Markdown rows (header included)."""
    meta_file, ap_file = reference_files(protocol, reference_dir)
    if not meta_file.exists():
        raise HashbenchError(f"{meta_file}: no shipped reference run of protocol {protocol!r}")
    meta = json.loads(meta_file.read_text())
    per_query = np.load(ap_file)
    cells = meta["cells"]
    bits = sorted({int(key.split("/")[1]) for key in cells})
    methods = table_methods(table, sorted({key.split("/")[0] for key in cells}))
    column_cells = {}
    for b in bits:
        column = {m: {"method": m, "mean": cells[f"{m}/{b}"]["mean"], "std": cells[f"{m}/{b}"]["std"],
                      "n_seeds": len(meta["seeds"]), "best": False, "p_vs_best": None, "tied_with_best": None,
                      "paper": None, "degenerate_seeds": cells[f"{m}/{b}"]["degenerate_seeds"]} for m in methods}
        mark_column(list(column.values()), {m: per_query[f"{m}/{b}"] for m in methods}, RESAMPLES, ALPHA)
        column_cells[b] = column
    lines = ["| method | " + " | ".join(f"{b} bits" for b in bits) + " |", "|---|" + "---|" * len(bits)]
    for m in methods:
        lines.append(f"| {row_name(m)} | " + " | ".join(_md_cell(column_cells[b][m], len(meta["seeds"])) for b in bits)
                     + " |")
    return "\n".join(lines) + "\n"


def regenerate(text: str, reference_dir=REFERENCE_DIR) -> str:
    """``text`` with every generated block rendered afresh."""
    return BLOCK.sub(lambda m: m.group(1) + render(m.group(2), m.group(3), reference_dir) + m.group(5), text)


def update(root: Path, check: bool = False, documents=DOCUMENTS) -> list[Path]:
    """Rewrite (or, with ``check``, compare) the generated blocks of ``documents`` under ``root``;
    returns the files that changed (or would)."""
    changed = []
    for name in documents:
        path = Path(root) / name
        text = path.read_text()
        new = regenerate(text)
        if new == text:
            continue
        if check:
            first = next(a for a, b in zip(BLOCK.finditer(text), BLOCK.finditer(new)) if a.group(0) != b.group(0))
            raise HashbenchError(f"{path}: the generated block '{first.group(2)} {first.group(3)}' differs from the "
                                 "shipped reference runs; run hashbench doc-tables")
        with io.atomic_path(path) as tmp:
            Path(tmp).write_text(new)
        changed.append(path)
    return changed
