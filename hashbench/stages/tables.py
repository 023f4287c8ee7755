"""Tables 1 and 2, Table 1's P@H<=2 and P@N, and the metrics table, derived from stored runs, never
recomputed: every run's metrics are read into one pandas frame (``runs_frame``: one row per run,
metrics.csv) and melted to one tidy frame (``tidy``: one row per run and metric), from which each
table's cells and both file formats (CSV, Markdown) are derived.

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

Table 1's methods again under P@H<=2 (``table1-ph2``) and P@N (``table1-pn``: per protocol, the
largest N every one of its runs has) show mean and sample std only: the runs store per-query AP,
not per-query precision, so no test marks them.

A cell one of whose seeds is degenerate (``hashbench.health``: three quarters of the bits constant, one
code for the database, or a deep run whose loss did not fall) counts them in ``degenerate_seeds`` and is
marked "⚠" in the Markdown; metrics.csv gives each run's ``degenerate`` flag and ``machine`` key
(``hashbench.machine``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hashbench import io, reference, stats
from hashbench.layout import METRIC_TABLES, METRICS_TABLE, PUBLISHED, TABLES
from hashbench.stages import published, stored

METRIC_COLUMNS = ("map", "map_tie_aware", "p_h2", "topk", "n_queries", "n_queries_in_map", "no_relevant",
                  "fit_seconds", "encode_seconds", "eval_seconds", "split_checksum", "config_hash", "degenerate", "machine",
                  "missing_dropped")
NOT_IN_PAPER = "†"  # marks a Markdown table row whose method the paper does not report
EXTERNAL = "‡"  # marks one whose codes were trained outside hashbench (config external)
TIED = "≈"  # marks a Markdown cell not significantly worse than its column's best
DEGENERATE = "⚠"  # marks a Markdown cell with a degenerate seed


def table_methods(table: str, configured: list[str]) -> list[str]:
    """The configured methods a table shows, in the paper's order, then the config's."""
    ablation = set(reference.methods("table2")) - set(reference.methods("table1"))
    if table == "table2":
        return [m for m in reference.methods("table2") if m in configured]
    paper = [m for m in reference.methods("table1") if m in configured]
    return paper + [m for m in configured if m not in paper and m not in ablation]


def runs_frame(found: dict) -> pd.DataFrame:
    """One row per run (protocol, method, bits, seed), in the order found: the ``METRIC_COLUMNS``, then
    P@N and MAP@R for every N and R any run has (empty where a run has none)."""
    n_values = sorted({int(n) for m in found.values() for n in m.get("precision_at_n", {})})
    r_values = sorted({int(r) for m in found.values() for r in m.get("map_at", {})})
    rows = [{"protocol": protocol, "method": method, "bits": bits, "seed": seed,
             **{c: m.get(c, "") for c in METRIC_COLUMNS},
             **{f"precision_at_{n}": m.get("precision_at_n", {}).get(str(n), "") for n in n_values},
             **{f"map_at_{r}": m.get("map_at", {}).get(str(r), "") for r in r_values}}
            for (protocol, method, bits, seed), m in found.items()]
    columns = ["protocol", "method", "bits", "seed", *METRIC_COLUMNS, *(f"precision_at_{n}" for n in n_values),
               *(f"map_at_{r}" for r in r_values)]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def tidy(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run and metric: protocol, method, bits, seed, degenerate, metric ("map": MAP at the
    protocol's R; "map@R", "p_h2", "p@N"), value; a metric a run lacks has no row."""
    renamed = runs.rename(columns={**{c: f"map@{c[7:]}" for c in runs if c.startswith("map_at_")},
                                   **{c: f"p@{c[13:]}" for c in runs if c.startswith("precision_at_")}})
    metrics = ["map", "p_h2", *(c for c in renamed if c.startswith(("map@", "p@")))]
    long = renamed.melt(id_vars=["protocol", "method", "bits", "seed", "degenerate"], value_vars=metrics,
                        var_name="metric", value_name="value")
    return long[long["value"] != ""].reset_index(drop=True)


# The tables: (title, the cells' metric, which of Table 1's or 2's methods, whether a column is tested)
TITLES = {"table1": "Table 1: MAP of Hamming ranking", "table2": "Table 2: MAP of HashNet and its variants",
          "table1-ph2": "Table 1's methods: precision within Hamming radius 2 (P@H<=2)",
          "table1-pn": "Table 1's methods: precision of the top N of Hamming ranking (P@N)"}


def _groups(spec: dict, table: str, frame: pd.DataFrame) -> list[tuple[str, str, str, str | None]]:
    """Column groups (label, protocol, metric, paper dataset) of ``table``: for MAP the protocol's own
    R, then one per extra R labelled ``<protocol>@<R>``; for P@N the largest N all its runs have."""
    groups = []
    for protocol in spec.get("order", list(spec["protocols"])):
        pdef = spec["protocols"][protocol]
        if table == "table1-ph2":
            groups.append((protocol, protocol, "p_h2", None))
        elif table == "table1-pn":
            rows = frame[frame["protocol"] == protocol]
            n_runs = rows[["method", "bits", "seed"]].drop_duplicates().shape[0]
            counts = rows[rows["metric"].str.startswith("p@")].groupby("metric").size()
            common = [int(m[2:]) for m, c in counts.items() if c == n_runs]
            if common:
                groups.append((f"{protocol} P@{max(common)}", protocol, f"p@{max(common)}", None))
        else:
            groups.append((protocol, protocol, "map", pdef.get("paper")))
            groups += [(f"{protocol}@{r}", protocol, f"map@{r}", None) for r in pdef.get("also_topk", [])]
    return groups


def _cells(table: str, spec: dict, frame: pd.DataFrame, folders: dict, groups: list) -> list[dict]:
    """One dict per (method, column group, bits): mean, std, n, the paper's value where it has one,
    and the significance marks of its column (MAP at the protocol's R only)."""
    paper = reference.values(table) if table in TABLES else {}
    methods = table_methods("table2" if table == "table2" else "table1", spec["methods"])
    by_cell = {key: rows for key, rows in frame.groupby(["protocol", "metric", "method", "bits"], sort=False)}
    cells = []
    for label, protocol, metric, dataset in groups:
        for bits in spec["bits"]:
            column = []
            for method in methods:
                rows = by_cell.get((protocol, metric, method, bits))
                rows = rows[rows["seed"].isin(spec["seeds"])] if rows is not None else None
                values = [] if rows is None else [float(v) for v in rows["value"]]
                mean, std = stored.mean_and_std(values) if values else (None, None)
                column.append({"method": method, "protocol": label, "bits": bits, "n_seeds": len(values),
                               "mean": mean, "std": std,
                               "paper": paper.get((method, dataset, bits)), "has_paper": bool(dataset),
                               "best": False, "p_vs_best": None, "tied_with_best": None,
                               "degenerate_seeds": 0 if rows is None else int(sum(map(bool, rows["degenerate"])))})
            if metric == "map":
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


def row_name(method: str, external=()) -> str:
    """A Markdown table row's method name, marked when the paper does not report the method and when
    its codes were trained outside hashbench (``external``: config external's names)."""
    return method + ("" if method in in_paper() else f" {NOT_IN_PAPER}") + (f" {EXTERNAL}" if method in external else "")


def _fmt(x) -> str:
    return "" if x is None else f"{x:.4f}"


def _write_csv(cells: list[dict], path, tested: bool) -> None:
    """One row per method, a column per (column group, bits, field): mean, std, seeds, (in a tested
    MAP table) best, p_vs_best, tied_with_best, degenerate seeds, and the paper's value and ours
    minus it."""
    long = []
    for c in cells:
        prefix = f"{c['protocol']}/{c['bits']}bits/"
        values = {"map_mean" if tested else "mean": _fmt(c["mean"]), "map_std" if tested else "std": _fmt(c["std"]),
                  "n_seeds": c["n_seeds"]}
        if tested:
            values.update({"best": int(c["best"]),
                           "p_vs_best": "" if c["p_vs_best"] is None else f"{c['p_vs_best']:.4g}",
                           "tied_with_best": "" if c["tied_with_best"] is None else int(c["tied_with_best"])})
        values["degenerate_seeds"] = c["degenerate_seeds"]
        if c["has_paper"]:
            values["paper"] = _fmt(c["paper"])
            values["minus_paper"] = _fmt(c["mean"] - c["paper"]) if None not in (c["mean"], c["paper"]) else ""
        long += [(c["method"], prefix + name, value) for name, value in values.items()]
    frame = pd.DataFrame(long, columns=["method", "column", "value"], dtype=object)
    wide = frame.pivot(index="method", columns="column", values="value")
    wide = wide.loc[list(dict.fromkeys(frame["method"])), list(dict.fromkeys(frame["column"]))]
    with io.atomic_path(path) as tmp:
        wide.reset_index().to_csv(tmp, index=False, lineterminator="\r\n")


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


def _write_md(table: str, cells: list[dict], columns: list[tuple[str, int]], spec: dict, path,
              dropped: dict | None = None) -> None:
    by_key = {(c["method"], c["protocol"], c["bits"]): c for c in cells}
    n = len(spec["seeds"])
    lines = [f"# {TITLES[table]}", ""]
    if not cells:
        shown = ", ".join(reference.methods("table2")) if table == "table2" else "Table 1's"
        with io.atomic_path(path) as tmp:
            Path(tmp).write_text("\n".join(lines + [f"Not made: none of its methods ({shown}) is configured."]) + "\n")
        return
    if table in TABLES:
        for p, pdef in spec["protocols"].items():
            paper = f"; the paper's values are its {pdef['paper']} column" if pdef.get("paper") else ""
            lines.append(f"- {p}: MAP@{pdef['topk']}{paper}")
            if (dropped or {}).get(p):
                lines.append(f"- {p}: {dropped[p]:,} listed image(s) this copy lacks were dropped from every split "
                             "(missing: drop; data/" + p + "/split.json names them): not the released split")
            lines += [f"- {p}@{r}: MAP@{r} of the same runs" for r in pdef.get("also_topk", [])]
        lines.append(f"- cells: MAP, mean ± sample std over the seeds {spec['seeds']}; (paper value, ours minus paper) "
                     "where the paper reports one")
        lines.append(f"- **bold**: the best mean of the column; {TIED}: not significantly worse than it (two-sided "
                     f"paired randomization test over the queries on the seed-averaged AP, {spec['resamples']} sign "
                     f"flips, Holm-adjusted within the column, alpha = {spec['alpha']}); no mark: significantly worse")
    else:
        lines.append(f"- cells: mean ± sample std over the seeds {spec['seeds']} of the same runs as Table 1; no test "
                     "marks them (the runs store each query's AP, not its precision: Table 1 carries the test)")
    methods = list(dict.fromkeys(c["method"] for c in cells))
    if any(m not in in_paper() for m in methods):
        lines.append(f"- {NOT_IN_PAPER} not in the paper")
    if table == "table1" and (elsewhere := len(published.matching(spec))):
        lines.append(f"- reported elsewhere for these protocols: {elsewhere} value(s) from papers and peer suites, "
                     f"beside ours in {PUBLISHED}.md (never in these cells)")
    external = spec.get("external", [])
    if any(m in external for m in methods):
        lines.append(f"- {EXTERNAL} codes trained outside hashbench (config external; its run.json names the file and "
                     "its sha256), scored here on the same split with the same metrics and tests")
    if any(c["degenerate_seeds"] for c in cells):
        lines.append(f"- {DEGENERATE}: a seed's run is degenerate (three quarters of its bits constant, one code for the database, "
                     "or a training loss that did not fall; its run.json's health says which): the mean holds a "
                     "collapsed model")
    lines += ["", "| method | " + " | ".join(f"{p} {b} bits" for p, b in columns) + " |", "|---|" + "---|" * len(columns)]
    for method in methods:
        lines.append(f"| {row_name(method, external)} | " + " | ".join(_md_cell(by_key[method, p, b], n)
                                                                      for p, b in columns) + " |")
    with io.atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def write_metrics_csv(runs: pd.DataFrame, path) -> None:
    """Every run's metrics (``runs_frame``), one row per (protocol, method, bits, seed)."""
    with io.atomic_path(path) as tmp:
        runs.to_csv(tmp, index=False, lineterminator="\r\n")


def build(spec: dict, metrics_files, out_dir) -> dict:
    """Write table1, table2 (MAP), table1-ph2 and table1-pn (.csv and .md) and metrics.csv under
    ``out_dir`` from the runs' metrics files.

    ``spec``: protocols ({name: {topk, paper}}), methods, bits, seeds, partial (mark missing runs
    instead of failing). Returns the cells of every table.
    """
    found, _, folders = stored.collect(metrics_files, spec["protocols"], spec["methods"], spec["bits"], spec["seeds"],
                                       spec.get("partial", False))
    runs = runs_frame(found)
    frame = tidy(runs)
    out_dir = Path(out_dir)
    out = {}
    dropped = {key[0]: int(m.get("missing_dropped") or 0) for key, m in found.items()}
    for table in (*TABLES, *METRIC_TABLES):
        groups = _groups(spec, table, frame)
        out[table] = _cells(table, spec, frame, folders, groups)
        _write_csv(out[table], out_dir / f"{table}.csv", table in TABLES)
        columns = [(label, bits) for label, *_ in groups for bits in spec["bits"]]
        _write_md(table, out[table], columns, spec, out_dir / f"{table}.md", dropped)
    write_metrics_csv(runs, out_dir / METRICS_TABLE)
    return out
