"""The results tables of the README and docs/, generated from the shipped reference runs
(``hashbench/reference/runs``) so that text and data cannot drift: ``hashbench doc-tables``
rewrites every generated block in place, ``hashbench doc-tables --check`` exits non-zero naming
the first block that differs (tests/unit/test_docs.py runs the check).

A block is the lines between a marker and ``<!-- end -->``::

    <!-- generated: table1 mnist5k -->
    | method | 16 bits | ... |
    <!-- end -->

``<!-- generated: tuning -->`` renders the shipped tuning record (``render_tuning``);
``<!-- generated: claims mnist5k fashion -->`` the paper's claims on those protocols' reference runs
(``render_claims``). Otherwise
``table1`` / ``table2`` and a protocol with a shipped reference; a third word ``shared`` takes the
table from the reference runs of ``recipe: shared`` (hashbench/reference/runs-shared). Each block is that table's MAP
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

from hashbench import io, reference
from hashbench.errors import HashbenchError
from hashbench.stages.reproduction import REFERENCE_DIR, reference_files
from hashbench.stages.tables import _md_cell, mark_column, row_name, table_methods

BLOCK = re.compile(r"(<!-- generated: (table[12]) ([A-Za-z0-9_.-]+)(?: (shared))? -->\n)(.*?)(<!-- end -->)", re.S)
# A block whose marker ends in "shared" renders the reference runs of the one trainer every deep method
# shared before training recipes (``recipe: shared``), kept beside the default's for docs/results.md.
SHARED_DIR = REFERENCE_DIR.with_name("runs-shared")
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


TUNING_BLOCK = re.compile(r"(<!-- generated: tuning -->\n)(.*?)(<!-- end -->)", re.S)
CLAIMS_BLOCK = re.compile(r"(<!-- generated: claims ([A-Za-z0-9_. -]+) -->\n)(.*?)(<!-- end -->)", re.S)


def render_claims(protocols: list[str], reference_dir=REFERENCE_DIR) -> str:
    """The paper's claims (``hashbench.stages.claims``) on the shipped reference runs of
    ``protocols``, as Markdown rows: a verdict per protocol and length, p in brackets where it is
    not below 0.001."""
    from hashbench.stages import claims

    refs = {}
    for protocol in protocols:
        meta_file, ap_file = reference_files(protocol, reference_dir)
        refs[protocol] = json.loads(meta_file.read_text()), np.load(ap_file)
    first = refs[protocols[0]][0]
    names = sorted({key.split("/")[0] for key in first["cells"]})  # the reference's cells are sorted by name
    methods = table_methods("table1", names) + [m for m in table_methods("table2", names) if m not in
                                                table_methods("table1", names)]
    bits = sorted({int(key.split("/")[1]) for key in first["cells"]})
    spec = {"order": protocols, "methods": methods, "bits": bits, "alpha": ALPHA, "resamples": RESAMPLES}
    table = claims.compare(spec, lambda p, m, b: refs[p][0]["cells"].get(f"{m}/{b}", {}).get("mean"),
                           lambda p, m, b: refs[p][1][f"{m}/{b}"])
    cells = {(r["claim"], r["protocol"], r["bits"]): r["verdict"] + ("" if r["p_value"] < 0.001
                                                                      else f" ({r['p_value']:.2g})") for r in table}
    columns = [(p, b) for p in protocols for b in bits]
    lines = ["| claim (A > B) | " + " | ".join(f"{p} {b}" for p, b in columns) + " |", "|---|" + "---|" * len(columns)]
    for claim in dict.fromkeys(r["claim"] for r in table):
        lines.append(f"| {claim} | " + " | ".join(cells.get((claim, p, b), "") for p, b in columns) + " |")
    return "\n".join(lines) + "\n"


def render_tuning(path=None) -> str:
    """The shipped tuning record (``hashbench/reference/tuning.json``) as Markdown rows: per method
    and protocol the validation MAP of each candidate learning rate, the chosen one in bold."""
    from hashbench.stages import tuning

    record = tuning.load(path or reference.TUNING)
    protocols = sorted(record["protocols"], key=lambda p: (p != "mnist5k", p))
    methods = sorted({m for p in protocols for m in record["protocols"][p]}, key=table_methods_order)
    lines = ["| method | " + " | ".join(f"{p}: validation MAP at each lr" for p in protocols) + " |",
             "|---|" + "---|" * len(protocols)]
    for m in methods:
        cells = []
        for p in protocols:
            entry = record["protocols"][p].get(m)
            if entry is None:
                cells.append("")
                continue
            cells.append(", ".join((f"**{s['params']['lr']:g}: {s['map']:.4f}**" if s["params"] == entry["chosen"]
                                    else f"{s['params']['lr']:g}: {s['map']:.4f}") for s in entry["scores"]))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_methods_order(method: str) -> tuple:
    """The deep methods in the order of the config files: the paper's, then those after it."""
    order = ("HashNet", "DHN", "DNNH", "CNNH", "DCH", "GreedyHash", "CSQ", "OrthoHash")
    return (order.index(method) if method in order else len(order), method)


def regenerate(text: str, reference_dir=REFERENCE_DIR) -> str:
    """``text`` with every generated block rendered afresh."""
    text = BLOCK.sub(lambda m: m.group(1) + render(m.group(2), m.group(3), SHARED_DIR if m.group(4) else reference_dir)
                     + m.group(6), text)
    text = CLAIMS_BLOCK.sub(lambda m: m.group(1) + render_claims(m.group(2).split(), reference_dir) + m.group(4), text)
    return TUNING_BLOCK.sub(lambda m: m.group(1) + render_tuning() + m.group(3), text)


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
            before, after = TUNING_BLOCK.search(text), TUNING_BLOCK.search(new)
            if before and before.group(0) != after.group(0):
                raise HashbenchError(f"{path}: the generated block 'tuning' differs from the shipped tuning record; "
                                     "run hashbench doc-tables")
            for before, after in zip(CLAIMS_BLOCK.finditer(text), CLAIMS_BLOCK.finditer(new)):
                if before.group(0) != after.group(0):
                    raise HashbenchError(f"{path}: the generated block 'claims {before.group(2)}' differs from the "
                                         "shipped reference runs; run hashbench doc-tables")
            first = next(a for a, b in zip(BLOCK.finditer(text), BLOCK.finditer(new)) if a.group(0) != b.group(0))
            name = " ".join(g for g in first.group(2, 3, 4) if g)
            raise HashbenchError(f"{path}: the generated block '{name}' differs from the "
                                 "shipped reference runs; run hashbench doc-tables")
        with io.atomic_path(path) as tmp:
            Path(tmp).write_text(new)
        changed.append(path)
    return changed
