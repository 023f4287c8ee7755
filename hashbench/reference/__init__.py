"""What the suite ships as reference data: the tuning record, and the paper's reported values: HashNet (ICCV 2017) Tables 1 and 2, MAP of Hamming
ranking (ImageNet MAP@1000, NUS-WIDE and MS-COCO MAP@5000), in long format method,dataset,bits,map."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

# The shipped tuning record: each deep method's learning rate chosen on validation per embedded protocol
# (config key ``tuning: shipped``; ``make tune`` re-derives it).
TUNING = Path(__file__).with_name("tuning.json")
PAPER_TABLES = {"table1": "hashnet_iccv2017_table1.csv", "table2": "hashnet_iccv2017_table2.csv"}


@functools.cache
def values(table: str) -> dict:
    """{(method, dataset, bits): map} of a paper table ('table1' or 'table2')."""
    with open(Path(__file__).with_name(PAPER_TABLES[table]), newline="") as fh:
        return {(r["method"], r["dataset"], int(r["bits"])): float(r["map"]) for r in csv.DictReader(fh)}


def methods(table: str) -> list[str]:
    """The paper's row order of a table."""
    return list(dict.fromkeys(method for method, _, _ in values(table)))


PUBLISHED = Path(__file__).with_name("published.csv")


@functools.cache
def published() -> list[dict]:
    """What the methods' papers and the peer suites report (published.csv), each row with its method,
    protocol (this suite's name for the same split), bits, MAP, R, backbone, aggregate, source and
    citation: shown beside our cells, never mixed into them (``hashbench.stages.published``)."""
    with open(PUBLISHED, newline="") as fh:
        return [{**r, "bits": int(r["bits"]), "r": int(r["r"]), "map": float(r["map"])} for r in csv.DictReader(fh)]
