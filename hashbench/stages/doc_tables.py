"""The results tables and run-derived numbers of the README and docs/, generated from the shipped
reference runs (``hashbench/reference/runs*``) so that text and data cannot drift:
``hashbench doc-tables`` rewrites every generated block and value in place, ``hashbench doc-tables
--check`` exits non-zero naming the first one that differs (tests/unit/test_docs.py runs the check).

A block is the lines between a marker and ``<!-- end -->``::

    <!-- generated: table1 mnist5k -->
    | method | 16 bits | ... |
    <!-- end -->

``table1`` / ``table2`` and a protocol with a shipped reference: that table's MAP for one protocol
as ``hashbench tables`` writes it (mean ± sample std over the reference's seeds; bold the column's
best, ≈ not significantly worse after Holm, the tables' paired randomization test on the reference's
seed-averaged per-query AP, 10,000 sign flips, alpha 0.05). ``protocol@R`` gives MAP@R of the same
runs, unmarked (the references keep the per-query AP at the protocol's R only), where the reference
keeps each seed's MAP@R. ``<!-- generated: claims mnist5k fashion -->`` renders the paper's claims
on those protocols' references (``render_claims``), ``<!-- generated: tuning -->`` the shipped
tuning record (``render_tuning``). Several names in a table's marker put their columns side by
side. ``<!-- generated: imbalance -->`` the imbalance study's record
(``render_imbalance``). A protocol written ``source:protocol`` is read from another
shipped reference (``SOURCES``). Numbers in the prose are generated values
(``hashbench.stages.doc_values``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from hashbench import io, reference
from hashbench.errors import HashbenchError
from hashbench.stages import doc_values
from hashbench.stages.reproduction import reference_files
from hashbench.stages.tables import _md_cell, mark_column, row_name, table_methods

SOURCES, IMBALANCE_RECORD = doc_values.SOURCES, doc_values.IMBALANCE_RECORD
NAME = r"[A-Za-z0-9_.:@-]+"
# a block: its marker (name: kind and references), its rows, its end
BLOCK = re.compile(rf"(<!-- generated: ((table[12]|claims|tuning|imbalance)(?: ({NAME}(?: {NAME})*))?) -->\n)(.*?)"
                   r"(<!-- end -->)", re.S)
ALPHA, RESAMPLES = 0.05, 10_000  # the default config's tables.alpha and tables.resamples
# the files holding generated blocks and values, from the repository root
DOCUMENTS = ("README.md", "docs/results.md", "docs/beyond-the-paper.md", "docs/methods.md", "docs/metrics.md")


@functools.cache  # the reference runs are shipped files: each is read once per process
def load(name: str) -> tuple[dict, dict]:
    """The shipped reference ``[source:]protocol`` (``SOURCES``; ``runs`` when none is written):
    its meta and {cell: seed-averaged per-query AP}."""
    source, _, protocol = name.rpartition(":")
    if (source or "runs") not in SOURCES:
        raise HashbenchError(f"{name}: no shipped reference named {source!r}; expected one of {', '.join(SOURCES)}")
    meta_file, ap_file = reference_files(protocol, SOURCES[source or "runs"])
    if not meta_file.exists():
        raise HashbenchError(f"{meta_file}: no shipped reference run of protocol {protocol!r}")
    return io.read_json(meta_file), dict(np.load(ap_file))


def methods_in_order(table: str, names) -> list[str]:
    """A reference's methods as a table shows them: the paper's in its order, then the later ones in
    the config files' order, the classifier floor last."""
    shown = table_methods(table, sorted(names))
    paper = [m for m in shown if m in reference.methods("table1") + reference.methods("table2")]
    return paper + sorted((m for m in shown if m not in paper), key=table_methods_order)


def _columns(table: str, name: str) -> tuple[list[str], dict, int]:
    """One reference's columns of a table: its methods, {bits: {method: cell}} and its seed count."""
    protocol, _, at = name.partition("@")
    meta, per_query = load(protocol)
    cells = meta["cells"]
    bits = sorted({int(key.split("/")[1]) for key in cells})
    methods = methods_in_order(table, {key.split("/")[0] for key in cells})
    seeds = len(meta["seeds"])
    columns = {}
    for b in bits:
        column = {}
        for m in methods:
            cell = cells[f"{m}/{b}"]
            mean, std = cell["mean"], cell["std"]
            if at:
                if at not in cell.get("map_at", {}):
                    raise HashbenchError(f"{name}: the shipped reference keeps no MAP@{at} of {m} at {b} bits")
                values = np.asarray(cell["map_at"][at])
                mean, std = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
            column[m] = {"method": m, "mean": mean, "std": std, "n_seeds": seeds, "best": False, "p_vs_best": None,
                         "tied_with_best": None, "paper": None, "degenerate_seeds": cell["degenerate_seeds"]}
        if not at:
            mark_column(list(column.values()), {m: per_query[f"{m}/{b}"] for m in methods}, RESAMPLES, ALPHA)
        columns[b] = column
    return methods, columns, seeds


@functools.cache  # a block may appear in several documents and checks
def render(table: str, names: str) -> str:
    """Table 1 or 2 of one or more shipped references (``protocol@R``: MAP@R, unmarked), side by
    side, as Markdown rows (header included); the rows are the first reference's methods."""
    parts = [(name, *_columns(table, name)) for name in names.split()]
    methods = parts[0][1]
    header = [(f"{name.rpartition(':')[2]} " if len(parts) > 1 else "") + f"{b} bits"
              for name, _, columns, _ in parts for b in columns]
    lines = ["| method | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for m in methods:
        cells = [_md_cell(columns[b][m], seeds) if m in columns[b] else ""
                 for _, _, columns, seeds in parts for b in columns]
        lines.append(f"| {row_name(m)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@functools.cache
def render_claims(names: tuple[str, ...]) -> str:
    """The paper's claims (``hashbench.stages.claims``; each later method against HashNet) on the
    shipped references ``names``, as Markdown rows: a verdict per protocol and length, p in brackets
    where it is not below 0.001."""
    from hashbench.stages import claims

    names = list(names)
    refs = {name: load(name) for name in names}
    first = refs[names[0]][0]
    cell_names = {key.split("/")[0] for key in first["cells"]}
    methods = list(dict.fromkeys(methods_in_order("table1", cell_names) + methods_in_order("table2", cell_names)))
    bits = sorted({int(key.split("/")[1]) for key in first["cells"]})
    spec = {"order": names, "methods": methods, "bits": bits, "alpha": ALPHA, "resamples": RESAMPLES}
    table = claims.compare(spec, lambda p, m, b: refs[p][0]["cells"].get(f"{m}/{b}", {}).get("mean"),
                           lambda p, m, b: refs[p][1][f"{m}/{b}"])
    cells = {(r["claim"], r["protocol"], r["bits"]): r["verdict"] + ("" if r["p_value"] < 0.001
                                                                      else f" ({r['p_value']:.2g})") for r in table}
    columns = [(p, b) for p in names for b in bits]
    lines = ["| claim (A > B) | " + " | ".join(f"{p.rpartition(':')[2]} {b}" for p, b in columns) + " |",
             "|---|" + "---|" * len(columns)]
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


def render_imbalance(path=None) -> str:
    """The imbalance study's record (``hashbench.stages.imbalance``'s CSV) as Markdown rows: per
    protocol its training pairs' ratio and, per length, MAP(HashNet) - MAP(HashNet-W), mean ± std
    over the seeds, with the paired test's p."""
    import pandas as pd

    record = pd.read_csv(path or IMBALANCE_RECORD)  # protocols by increasing ratio
    bits = sorted(record["bits"].unique())
    lines = ["| protocol | pairs dissimilar:similar | " + " | ".join(f"{b} bits" for b in bits) + " |",
             "|---|---|" + "---|" * len(bits)]
    for protocol, rows in record.groupby("protocol", sort=False):
        cells = {int(r.bits): f"{r.advantage_mean:+.3f} ± {r.advantage_std:.3f} "
                              + ("(p < 0.001)" if r.p_value < 0.001 else f"(p = {r.p_value:.2g})")
                 for r in rows.itertuples()}
        lines.append(f"| {protocol} | {rows['ratio'].iloc[0]:.3g}:1 | " + " | ".join(cells.get(b, "") for b in bits)
                     + " |")
    return "\n".join(lines) + "\n"


def table_methods_order(method: str) -> tuple:
    """The deep methods in the order of the config files: the paper's, then those after it."""
    order = ("HashNet", "DHN", "DNNH", "CNNH", "DCH", "GreedyHash", "CSQ", "OrthoHash")
    return (order.index(method) if method in order else len(order), method)


def render_block(kind: str, names: str | None) -> str:
    """The rows of a block of ``kind`` over the shipped references ``names``."""
    if kind == "claims":
        return render_claims(tuple(names.split()))
    if kind == "tuning":
        return render_tuning()
    if kind == "imbalance":
        return render_imbalance()
    return render(kind, names)


def generated(text: str) -> list[tuple[str, str, str]]:
    """Every generated block of ``text``: (its name, the text there, the text it should be)."""
    return [(m.group(2), m.group(5), render_block(m.group(3), m.group(4))) for m in BLOCK.finditer(text)]


def regenerate(text: str) -> str:
    """``text`` with every generated block and value rendered afresh."""
    text = BLOCK.sub(lambda m: m.group(1) + render_block(m.group(3), m.group(4)) + m.group(6), text)
    return doc_values.regenerate(text, load)


def update(root: Path, check: bool = False, documents=DOCUMENTS) -> list[Path]:
    """Rewrite (or, with ``check``, compare) the generated blocks and values of ``documents`` under
    ``root``; returns the files that changed (or would)."""
    changed = []
    for name in documents:
        path = Path(root) / name
        text = path.read_text()
        if check:
            for what, there, wanted in generated(text):
                if there != wanted:
                    raise HashbenchError(f"{path}: the generated block '{what}' differs from the shipped reference "
                                         "runs; run hashbench doc-tables")
            for what, there, wanted in doc_values.values(text, load):
                if there != wanted:
                    raise HashbenchError(f"{path}: the generated value '{what}' reads {there}, the shipped "
                                         f"reference runs give {wanted}; run hashbench doc-tables")
            continue
        new = regenerate(text)
        if new != text:
            with io.atomic_path(path) as tmp:
                Path(tmp).write_text(new)
            changed.append(path)
    return changed
