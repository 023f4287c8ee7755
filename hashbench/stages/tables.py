"""Tables 1 and 2 and the long-format metrics table, derived from stored runs, never recomputed.

Table 1 holds every configured method except the ablation variants, in the paper's row order and
then the config's (the Markdown marks those not in the paper with a dagger); Table 2 is the paper's
ablation (HashNet, HashNet-W, HashNet-C). A cell is the MAP mean, sample std (0 for one seed) and
number of seeds; where a protocol maps to a paper dataset (``paper: imagenet|nuswide|coco``) the
paper's value and ours minus the paper's sit beside it. A protocol with ``also_topk`` gets one more
column group per extra R, labelled ``<protocol>@<R>``.

Significance (``hashbench.stats``), per column of a table (protocol, bits; not the extra R): the
best mean is the column's best. Every other method whose runs all exist is compared with it by a
two-sided paired randomization test over the queries, on each query's AP@R averaged over the seeds
(per_query.npz; a query with no relevant item in the top R scores 0), ``resamples`` sign flips
from a fixed seed, the p-values Holm-adjusted within the column. A method whose adjusted p is at
least ``alpha`` is "not significantly worse than the best": the CSV gives ``p_vs_best`` and
``tied_with_best``; the Markdown prints the best in bold and marks the others so with "≈".

A cell one of whose seeds is degenerate (``hashbench.health``: three quarters of the bits constant, one
code for the database, or a deep run whose loss did not fall) counts them in ``degenerate_seeds`` and is
marked "⚠" in the Markdown; metrics.csv gives each run's ``degenerate`` flag and ``machine`` key
(``hashbench.machine``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from hashbench import io, reference, stats
from hashbench.layout import METRICS_TABLE, TABLES
from hashbench.stages import stored

METRIC_COLUMNS = ("map", "map_tie_aware", "p_h2", "topk", "n_queries", "n_queries_in_map", "no_relevant",
                  "fit_seconds", "encode_seconds", "eval_seconds", "split_checksum", "config_hash", "degenerate", "machine")
NOT_IN_PAPER = "†"  # marks a Markdown table row whose method the paper does not report
TIED = "≈"  # marks a Markdown cell not significantly worse than its column's best
DEGENERATE = "⚠"  # marks a Markdown cell with a degenerate seed


def table_methods(table: str, configured: list[str]) -> list[str]:
    """The configured methods a table shows, in the paper's order, then the config's."""
    ablation = set(reference.methods("table2")) - set(reference.methods("table1"))
    if table == "table2":
        return [m for m in reference.methods("table2") if m in configured]
    paper = [m for m in reference.methods("table1") if m in configured]
    return paper + [m for m in configured if m not in paper and m not in ablation]


def _groups(spec: dict) -> list[tuple[str, str, int | None, str | None]]:
    """Column groups (label, protocol, extra R or None for the protocol's own, paper dataset)."""
    groups = []
    for protocol in spec.get("order", list(spec["protocols"])):
        pdef = spec["protocols"][protocol]
        groups.append((protocol, protocol, None, pdef.get("paper")))
        groups += [(f"{protocol}@{r}", protocol, r, None) for r in pdef.get("also_topk", [])]
    return groups


def _map(metrics: dict, topk: int | None):
    return metrics["map"] if topk is None else metrics.get("map_at", {}).get(str(topk))


def _cells(table: str, spec: dict, found: dict, folders: dict) -> list[dict]:
    """One dict per (method, column group, bits): mean, std, n, the paper's value where it has one,
    and the significance marks of its column."""
    paper = reference.values(table)
    cells = []
    methods = table_methods(table, spec["methods"])
    for label, protocol, topk, dataset in _groups(spec):
        for bits in spec["bits"]:
            column = []
            for method in methods:
                runs = [found[k] for s in spec["seeds"] if (k := (protocol, method, bits, s)) in found]
                values = [v for run in runs if (v := _map(run, topk)) is not None]
                mean, std = stored.mean_and_std(values) if values else (None, None)
                column.append({"method": method, "protocol": label, "bits": bits, "n_seeds": len(values),
                               "mean": mean, "std": std,
                               "paper": paper.get((method, dataset, bits)), "has_paper": bool(dataset),
                               "best": False, "p_vs_best": None, "tied_with_best": None,
                               "degenerate_seeds": sum(bool(run.get("degenerate")) for run in runs)})
            if topk is None:
                _mark_significance(column, protocol, bits, spec, folders)
            cells += column
    order = {m: i for i, m in enumerate(methods)}
    return sorted(cells, key=lambda c: order[c["method"]])


def _mark_significance(column: list[dict], protocol: str, bits: int, spec: dict, folders: dict) -> None:
    """Mark the column's best mean and test every complete method against it (module docstring)."""
    complete = [c for c in column if c["n_seeds"] == len(spec["seeds"])]
    per_query = {c["method"]: stored.seed_averaged_ap(folders[protocol, c["method"], bits, s] for s in spec["seeds"])
                 for c in complete}
    mark_column(complete, per_query, spec["resamples"], spec["alpha"])


def mark_column(cells: list[dict], per_query: dict, resamples: int, alpha: float) -> None:
    """Set ``best`` on the cell with the highest mean and ``p_vs_best`` / ``tied_with_best`` on the
    others: the Holm-adjusted paired test of their per-query AP (``per_query``: {method: AP})
    against the best's."""
    if not cells:
        return
    best = max(cells, key=lambda c: c["mean"])
    best["best"] = True
    adjusted = stats.compare_to_best(per_query, best["method"], resamples)
    for c in cells:
        if c is not best:
            c["p_vs_best"] = adjusted[c["method"]]
            c["tied_with_best"] = adjusted[c["method"]] >= alpha


def in_paper() -> set[str]:
    """The methods the paper's Tables 1 and 2 report."""
    return set(reference.methods("table1")) | set(reference.methods("table2"))


def row_name(method: str) -> str:
    """A Markdown table row's method name, marked when the paper does not report the method."""
    return method if method in in_paper() else f"{method} {NOT_IN_PAPER}"


def _fmt(x) -> str:
    return "" if x is None else f"{x:.4f}"


def _write_csv(cells: list[dict], path) -> None:
    rows, header = {}, ["method"]
    for c in cells:
        prefix = f"{c['protocol']}/{c['bits']}bits/"
        values = {"map_mean": _fmt(c["mean"]), "map_std": _fmt(c["std"]), "n_seeds": c["n_seeds"],
                  "best": int(c["best"]), "p_vs_best": "" if c["p_vs_best"] is None else f"{c['p_vs_best']:.4g}",
                  "tied_with_best": "" if c["tied_with_best"] is None else int(c["tied_with_best"]),
                  "degenerate_seeds": c["degenerate_seeds"]}
        if c["has_paper"]:
            values["paper"] = _fmt(c["paper"])
            values["minus_paper"] = _fmt(c["mean"] - c["paper"]) if None not in (c["mean"], c["paper"]) else ""
        for name, value in values.items():
            header += [prefix + name] if prefix + name not in header else []
            rows.setdefault(c["method"], {"method": c["method"]})[prefix + name] = value
    with io.atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows.values())


def _md_cell(c: dict, n_configured: int) -> str:
    if c["mean"] is None:
        return "missing"
    text = f"{c['mean']:.4f}" + (f" ± {c['std']:.4f}" if c["n_seeds"] > 1 else "")
    text = f"**{text}**" if c["best"] else text + (f" {TIED}" if c["tied_with_best"] else "")
    if c["degenerate_seeds"]:
        text += f" {DEGENERATE}"
    if c["n_seeds"] < n_configured:
        text += f" (n={c['n_seeds']} of {n_configured})"
    if c["paper"] is not None:
        text += f" (paper {c['paper']:.4f}, {c['mean'] - c['paper']:+.4f})"
    return text


def _write_md(title: str, cells: list[dict], spec: dict, path) -> None:
    columns = [(label, b) for label, *_ in _groups(spec) for b in spec["bits"]]
    by_key = {(c["method"], c["protocol"], c["bits"]): c for c in cells}
    n = len(spec["seeds"])
    lines = [f"# {title}", ""]
    for p, pdef in spec["protocols"].items():
        paper = f"; the paper's values are its {pdef['paper']} column" if pdef.get("paper") else ""
        lines.append(f"- {p}: MAP@{pdef['topk']}{paper}")
        lines += [f"- {p}@{r}: MAP@{r} of the same runs" for r in pdef.get("also_topk", [])]
    lines.append(f"- cells: MAP, mean ± sample std over the seeds {spec['seeds']}; (paper value, ours minus paper) "
                 "where the paper reports one")
    lines.append(f"- **bold**: the best mean of the column; {TIED}: not significantly worse than it (two-sided paired "
                 f"randomization test over the queries on the seed-averaged AP, {spec['resamples']} sign flips, "
                 f"Holm-adjusted within the column, alpha = {spec['alpha']}); no mark: significantly worse")
    methods = list(dict.fromkeys(c["method"] for c in cells))
    if any(m not in in_paper() for m in methods):
        lines.append(f"- {NOT_IN_PAPER} not in the paper")
    if any(c["degenerate_seeds"] for c in cells):
        lines.append(f"- {DEGENERATE}: a seed's run is degenerate (three quarters of its bits constant, one code for the database, "
                     "or a training loss that did not fall; its run.json's health says which): the mean holds a "
                     "collapsed model")
    lines += ["", "| method | " + " | ".join(f"{p} {b} bits" for p, b in columns) + " |", "|---|" + "---|" * len(columns)]
    for method in methods:
        lines.append(f"| {row_name(method)} | " + " | ".join(_md_cell(by_key[method, p, b], n) for p, b in columns) + " |")
    with io.atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def write_metrics_csv(found: dict, path) -> None:
    """Every run's metrics in long format, one row per (protocol, method, bits, seed)."""
    n_values = sorted({int(n) for m in found.values() for n in m.get("precision_at_n", {})})
    r_values = sorted({int(r) for m in found.values() for r in m.get("map_at", {})})
    header = ["protocol", "method", "bits", "seed", *METRIC_COLUMNS, *(f"precision_at_{n}" for n in n_values),
              *(f"map_at_{r}" for r in r_values)]
    with io.atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for (protocol, method, bits, seed), m in found.items():
            precision, map_at = m.get("precision_at_n", {}), m.get("map_at", {})
            writer.writerow([protocol, method, bits, seed, *(m.get(c, "") for c in METRIC_COLUMNS),
                             *(precision.get(str(n), "") for n in n_values), *(map_at.get(str(r), "") for r in r_values)])


def build(spec: dict, metrics_files, out_dir) -> dict:
    """Write table1.csv/.md, table2.csv/.md and metrics.csv under ``out_dir`` from the runs' metrics files.

    ``spec``: protocols ({name: {topk, paper}}), methods, bits, seeds, partial (mark missing runs
    instead of failing). Returns the cells of both tables.
    """
    found, _, folders = stored.collect(metrics_files, spec["protocols"], spec["methods"], spec["bits"], spec["seeds"],
                              spec.get("partial", False))
    out_dir = Path(out_dir)
    out = {}
    titles = {"table1": "Table 1: MAP of Hamming ranking", "table2": "Table 2: MAP of HashNet and its variants"}
    for table in TABLES:
        title = titles[table]
        out[table] = _cells(table, spec, found, folders)
        _write_csv(out[table], out_dir / f"{table}.csv")
        _write_md(title, out[table], spec, out_dir / f"{table}.md")
    write_metrics_csv(found, out_dir / METRICS_TABLE)
    return out
