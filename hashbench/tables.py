"""Tables derived from stored per-run metrics, never from recomputation."""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np

from hashbench import io


def table1(metrics_paths, out_csv) -> list[dict]:
    """MAP per method (rows) and protocol x bits (columns): mean, sample std (0 for one seed) and seed count.

    Rows and columns follow the order in which they first appear in ``metrics_paths``.
    """
    cells = defaultdict(list)
    methods, columns = [], []
    for path in metrics_paths:
        m = io.read_json(path)
        column = (m["protocol"], int(m["bits"]))
        methods += [m["method"]] if m["method"] not in methods else []
        columns += [column] if column not in columns else []
        cells[m["method"], column].append(m["map"])
    header = ["method"] + [f"{p}/{b}bits/{stat}" for p, b in columns for stat in ("map_mean", "map_std", "n_seeds")]
    rows = []
    for method in methods:
        row = {"method": method}
        for p, b in columns:
            values = cells.get((method, (p, b)), [])
            row[f"{p}/{b}bits/map_mean"] = f"{np.mean(values):.4f}" if values else ""
            row[f"{p}/{b}bits/map_std"] = f"{np.std(values, ddof=1) if len(values) > 1 else 0.0:.4f}" if values else ""
            row[f"{p}/{b}bits/n_seeds"] = len(values)
        rows.append(row)
    with io.atomic_path(out_csv) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
    return rows
