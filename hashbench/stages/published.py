"""Published numbers beside ours: what the methods' papers and the peer suites report
(``hashbench/reference/published.csv``: method, protocol, bits, MAP, metric and R, backbone, single
run or mean, source and citation), shown where a configured protocol matches (its name and an R it
reports) next to our mean over seeds of the same cell. They are reported elsewhere, on other
trainings and often other backbones: never in our tables' cells, tests or claims."""

from __future__ import annotations

import csv
from pathlib import Path

from hashbench import io, reference
from hashbench.stages import stored

COLUMNS = ("method", "protocol", "bits", "r", "ours_mean", "ours_std", "ours_seeds", "reported", "backbone",
           "aggregate", "source", "citation")


def matching(spec: dict) -> list[dict]:
    """The published values of the configured protocols: same name, and an R the protocol reports."""
    return [row for row in reference.published() if (pdef := spec["protocols"].get(row["protocol"])) is not None
            and row["r"] in (pdef["topk"], *pdef.get("also_topk", []))]


def rows(spec: dict, found: dict) -> list[dict]:
    """The published values of the configured protocols (``matching``), each with our mean and sample
    std over the seeds of the same (protocol, method, bits) at that R where we have it."""
    out = []
    for row in matching(spec):
        ours = [m["map_at"][str(row["r"])] for (p, method, bits, _), m in found.items()
                if (p, method, bits) == (row["protocol"], row["method"], row["bits"]) and str(row["r"]) in m["map_at"]]
        mean, std = stored.mean_and_std(ours) if ours else (None, None)
        out.append({**{k: row[k] for k in ("method", "protocol", "bits", "r", "backbone", "aggregate", "source",
                                             "citation")},
                    "ours_mean": mean, "ours_std": std, "ours_seeds": len(ours), "reported": row["map"]})
    return out


def build(spec: dict, metrics_files, out_dir) -> list[dict]:
    """published.csv and published.md under ``out_dir`` from the runs' metrics files (the tables'
    spec and files); returns the rows."""
    found, _, _ = stored.collect(metrics_files, spec["protocols"], spec["methods"], spec["bits"], spec["seeds"],
                                 partial=True)
    found_rows = rows(spec, found)
    out_dir = Path(out_dir)
    with io.atomic_path(out_dir / "published.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in found_rows)
    lines = ["# Reported elsewhere, beside ours", "",
             "- reported: MAP as a paper or a peer suite reports it (hashbench/reference/published.csv: the source, "
             "its backbone, and whether it is one run or a mean), for the configured protocols and the R they "
             "report; never part of our cells, marks or claims",
             f"- ours: MAP@R mean ± sample std over the seeds {spec['seeds']} of the same protocol, method and "
             "length (— where not configured); compare only where the backbones and trainings match", ""]
    if not found_rows:
        lines.append("None of the configured protocols has a value reported elsewhere in published.csv "
                     f"(it covers {', '.join(sorted({r['protocol'] for r in reference.published()}))}).")
    else:
        lines += ["| method | protocol | bits | R | ours | reported | backbone | one run or mean | source |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in found_rows:
            ours = "—" if r["ours_mean"] is None else f"{r['ours_mean']:.4f}" + (
                f" ± {r['ours_std']:.4f}" if r["ours_seeds"] > 1 else "")
            lines.append(f"| {r['method']} | {r['protocol']} | {r['bits']} | {r['r']} | {ours} | {r['reported']:g} | "
                         f"{r['backbone']} | {r['aggregate']} | [{r['source']}]({r['citation']}) |")
    with io.atomic_path(out_dir / "published.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return found_rows
