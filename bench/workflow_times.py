"""Where a benchmark's time goes: the wall seconds of every job, summed per rule and per method,
from the records of Snakemake's benchmark directive (``benchmarks/``, ``hashbench.layout``).

    python bench/workflow_times.py [benchmarks]

Prints, per rule, the number of jobs, their total and largest wall time, and for the training
rules the total per method. The jobs ran on the cores Snakemake was given, so the totals add up
to more than the wall time of the run.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", nargs="?", default="benchmarks")
    root = Path(p.parse_args().root)
    per_rule, per_method = defaultdict(list), defaultdict(float)
    for path in sorted(root.rglob("*.tsv")):
        with open(path, newline="") as fh:
            seconds = float(next(csv.DictReader(fh, delimiter="\t"))["s"])
        step = path.relative_to(root).parts[0]
        per_rule[step].append(seconds)
        if step in ("train", "select"):
            per_method[f"{step} {path.relative_to(root).parts[2]}"] += seconds
    if not per_rule:
        raise SystemExit(f"{root}: no benchmark records; run the workflow first")
    print(f"{'rule':12s} {'jobs':>5s} {'total s':>9s} {'max s':>7s}")
    for step, values in sorted(per_rule.items(), key=lambda kv: -sum(kv[1])):
        print(f"{step:12s} {len(values):5d} {sum(values):9.1f} {max(values):7.1f}")
    print(f"{'all jobs':12s} {sum(map(len, per_rule.values())):5d} {sum(map(sum, per_rule.values())):9.1f}")
    print()
    for name, seconds in sorted(per_method.items(), key=lambda kv: -kv[1]):
        print(f"{name:24s} {seconds:9.1f}")


if __name__ == "__main__":
    main()
