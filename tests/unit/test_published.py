"""Published numbers beside ours: the shipped table is complete and matches our protocols; it is shown
where a configured protocol matches and never enters our cells."""

import csv
import re

import pytest

from conftest import ROOT
from hashbench import config, io, layout, reference
from hashbench.stages import published, tables


def test_every_published_value_names_its_source_and_a_protocol_and_r_we_run():
    defs = {**config.load(ROOT / "config/config.yaml", ROOT / "config/paper.yaml")["protocol_defs"],
            **config.load(ROOT / "config/config.yaml", ROOT / "config/cifar10.yaml")["protocol_defs"]}
    rows = reference.published()
    assert rows
    for row in rows:
        assert all(str(row[k]).strip() for k in ("method", "backbone", "aggregate", "source", "metric")), row
        assert re.match(r"https://\S+$", row["citation"]) and 0 < row["map"] < 1 and row["bits"] > 0
        pdef = defs[row["protocol"]]
        assert row["r"] in (pdef["topk"], *pdef.get("also_topk", [])), row


def cifar_spec():
    return {"protocols": {"cifar10": {"topk": 54000, "also_topk": [1000]}, "toy": {"topk": 50}},
            "methods": ["HashNet", "ITQ"], "bits": [48], "seeds": [0, 1], "alpha": 0.05, "resamples": 1000}


@pytest.fixture
def cifar_runs(tmp_path):
    files = []
    for protocol in ("cifar10", "toy"):
        for method, base in (("HashNet", 0.5), ("ITQ", 0.3)):
            for seed in (0, 1):
                folder = layout.run_dir(protocol, method, 48, seed, root=tmp_path / "runs")
                value = base + 0.01 * seed
                io.write_json(folder / layout.METRICS, {
                    "protocol": protocol, "method": method, "bits": 48, "seed": seed, "map": value, "map_tie_aware": value,
                    "p_h2": 0.1, "topk": 54000, "n_queries": 4, "n_queries_in_map": 4, "no_relevant": "zero",
                    "map_at": {"54000": value, "1000": value + 0.1} if protocol == "cifar10" else {"50": value},
                    "precision_at_n": {}, "pr_curve": {}})
                io.save_npz(folder / layout.PER_QUERY, ap=[value] * 4)
                files.append(str(folder / layout.METRICS))
    return files


def test_reported_values_sit_beside_our_mean_and_never_in_our_cells(cifar_runs, tmp_path):
    out = tmp_path / "out"
    tables.build(cifar_spec(), cifar_runs, out)
    rows = published.build(cifar_spec(), cifar_runs, out)
    shown = {(r["method"], r["protocol"], r["bits"], r["r"]) for r in rows}
    assert ("HashNet", "cifar10", 48, 54000) in shown and ("DHN", "cifar10", 48, 54000) in shown
    assert all(r["protocol"] == "cifar10" for r in rows)  # no value for toy, nor for unconfigured protocols
    hashnet = next(r for r in rows if r["method"] == "HashNet")
    assert hashnet["ours_mean"] == pytest.approx(0.505) and hashnet["ours_seeds"] == 2 and hashnet["reported"] == 0.782
    assert next(r for r in rows if r["method"] == "DHN")["ours_mean"] is None  # not configured: shown, no ours
    md = (out / "published.md").read_text()
    assert "| HashNet | cifar10 | 48 | 54000 | 0.5050 ± 0.0071 | 0.782 | AlexNet (ImageNet) |" in md
    with open(out / "table1.csv", newline="") as fh:
        cells = {r["method"]: r for r in csv.DictReader(fh)}
    assert float(cells["HashNet"]["cifar10/48bits/map_mean"]) == pytest.approx(0.505, abs=5e-5)
    table1 = (out / "table1.md").read_text()
    assert "0.782" not in table1 and "beside ours in published.md" in table1
