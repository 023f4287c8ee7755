"""The paper's claims, tested on the stored runs of each protocol and code length: claims.md and
claims.csv beside Tables 1 and 2, written by the same command.

Each claim is a comparison "A has a higher MAP than B" the paper makes (Section 5.2 and the
ablation): HashNet above its strongest baseline, above DHN, above the best shallow method, above
HashNet-W and HashNet-C; the deep baselines above the best shallow method; and the paper's order of
the deep baselines, DHN > DNNH > CNNH. Beyond the paper, each method published after it
(config/later.yaml) and each plugin against HashNet. Which group a method belongs to is its own
``CLAIM_GROUP``. "Best" is the highest mean MAP over the seeds in that column.
A cell says whether it **holds** (A's mean is higher and the difference is significant), is
**reversed** (B's is higher, significantly) or is **level** (not significant either way), with the
p-value of the tables' paired randomization test over the queries on the seed-averaged AP@R
(``hashbench.stats``), two-sided and unadjusted: each cell is one question, not a search over a
column. A claim whose methods are not configured is left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hashbench import io, registry, stats
from hashbench.layout import CLAIMS
from hashbench.stages import stored

BEST_SHALLOW = "best shallow"
STRONGEST = "strongest baseline"
# a group name stands for its best method in the column: its members are the configured methods whose
# ``CLAIM_GROUP`` (``hashbench.method.CLAIM_GROUPS``) is one of these
GROUPS = {STRONGEST: ("deep baseline", "shallow baseline"), BEST_SHALLOW: ("shallow baseline",)}
AGAINST_HASHNET = ("published after HashNet", "plugin")  # each of these methods gets a row "<method> > HashNet"


def claim_group(method: str) -> str | None:
    """A method's ``CLAIM_GROUP``; "plugin" for codes of a method the registry does not know."""
    cls = registry.methods().get(method)
    return cls.CLAIM_GROUP if cls is not None else "plugin"


def comparisons(methods: list[str]) -> list[tuple[str, str]]:
    """(A, B): "A has a higher MAP than B", for the configured ``methods``, from their claim groups."""
    group = {m: claim_group(m) for m in methods}
    deep = [m for m in methods if group[m] == "deep baseline"]
    return [("HashNet", STRONGEST), ("HashNet", "DHN"), ("HashNet", BEST_SHALLOW), ("HashNet", "HashNet-W"),
            ("HashNet", "HashNet-C"), *((m, BEST_SHALLOW) for m in deep), ("DHN", "DNNH"), ("DNNH", "CNNH"),
            *((m, "HashNet") for m in methods if group[m] in AGAINST_HASHNET)]


COLUMNS = ("claim", "protocol", "bits", "a", "b", "map_a", "map_b", "p_value", "verdict")


def verdict(difference: float, p: float, alpha: float) -> str:
    if p >= alpha:
        return "level"
    return "holds" if difference > 0 else "reversed"


def rows(spec: dict, found: dict, folders: dict) -> list[dict]:
    """One row (COLUMNS) per (claim, protocol, bits) whose methods all have runs in every seed."""
    seeds = spec["seeds"]

    def mean_map(protocol, method, bits):
        keys = [(protocol, method, bits, s) for s in seeds]
        return float(np.mean([found[k]["map"] for k in keys])) if all(k in found for k in keys) else None

    def per_query(protocol, method, bits):
        return stored.seed_averaged_ap(folders[protocol, method, bits, s] for s in seeds)

    return compare(spec, mean_map, per_query)


def compare(spec: dict, mean_map, per_query) -> list[dict]:
    """The claims' rows from each cell's mean MAP over the seeds (``mean_map(protocol, method, bits)``,
    None without every seed's run) and its seed-averaged per-query AP (``per_query``): from stored
    runs (``rows``) or from a shipped reference (``hashbench.stages.doc_tables``)."""
    out = []
    for protocol in spec.get("order") or list(spec["protocols"]):
        for bits in spec["bits"]:
            means = {m: v for m in spec["methods"] if (v := mean_map(protocol, m, bits)) is not None}
            for a, b in comparisons(spec["methods"]):
                if b in GROUPS:
                    candidates = [m for m in spec["methods"] if claim_group(m) in GROUPS[b]
                                  and m in means and m != a]
                    b_method = max(candidates, key=means.get) if candidates else None
                else:
                    b_method = b if b in means else None
                if a not in means or b_method is None:
                    continue
                p = stats.paired_randomization_test(per_query(protocol, a, bits), per_query(protocol, b_method, bits),
                                                    spec["resamples"])
                out.append({"claim": f"{a} > {b}", "protocol": protocol, "bits": bits, "a": a, "b": b_method,
                            "map_a": means[a], "map_b": means[b_method], "p_value": p,
                            "verdict": verdict(means[a] - means[b_method], p, spec["alpha"])})
    return out


def _cell(row: dict) -> str:
    named = f"{row['b']}, " if row["claim"].split(" > ")[1] in GROUPS else ""
    return f"{row['verdict']} ({named}{row['map_a'] - row['map_b']:+.4f}, p {row['p_value']:.2g})"


def write(table: list[dict], spec: dict, out_dir) -> None:
    out_dir = Path(out_dir)
    with io.atomic_path(out_dir / f"{CLAIMS}.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    columns = list(dict.fromkeys((r["protocol"], r["bits"]) for r in table))
    cells = {(r["claim"], r["protocol"], r["bits"]): _cell(r) for r in table}
    title = "# The paper's claims (and later methods against HashNet) on these runs"
    if not table:
        with io.atomic_path(out_dir / f"{CLAIMS}.md") as tmp:
            Path(tmp).write_text(f"{title}\n\nNo claim applies: each compares HashNet, one of its variants or a deep "
                                 "baseline with another configured method, and the configured methods "
                                 f"({', '.join(spec['methods'])}) hold no such pair.\n")
        return
    lines = [title, "",
             f"- a cell: holds / reversed (significant at alpha = {spec['alpha']}) or level; the MAP difference "
             f"A - B of the means over seeds {spec['seeds']}; the p-value of the two-sided paired randomization "
             f"test over the queries on the seed-averaged AP ({spec['resamples']} sign flips), unadjusted",
             "- best shallow / strongest baseline: the method of the paper's (shallow / all ten) baselines with the "
             "highest mean in that column, named in the cell", "",
             "| claim | " + " | ".join(f"{p} {b} bits" for p, b in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for claim in dict.fromkeys(r["claim"] for r in table):
        lines.append(f"| {claim} | " + " | ".join(cells.get((claim, p, b), "") for p, b in columns) + " |")
    with io.atomic_path(out_dir / f"{CLAIMS}.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def build(spec: dict, metrics_files, out_dir) -> list[dict]:
    found, _, folders = stored.collect(metrics_files, spec["protocols"], spec["methods"], spec["bits"], spec["seeds"],
                                       spec.get("partial", False))
    table = rows(spec, found, folders)
    write(table, spec, out_dir)
    return table
