"""The reproduction report: every table cell of your runs against the shipped reference run.

The reference (``hashbench/reference/runs/<protocol>.json`` and ``.npz``, written by ``write_reference``
from a finished default benchmark) holds, per (method, bits) cell, the per-query AP@R averaged over
its seeds, the MAP mean and std, each seed's config hash and codes digest, and the machine records
of its runs. ``build`` compares each cell of the configured runs with it:

  bit-identical   every seed's codes equal the reference's (same digest): nothing to test
  agrees / differs   the paired randomization test over the queries (``hashbench.stats``, the tables'
                  test, ``resamples`` sign flips) of the seed-averaged AP against the reference's:
                  the two are exchangeable when both come from the same training distribution;
                  "differs" when p < alpha. p is given raw, and Holm-adjusted over the compared
                  cells of the protocol
  within spread   beside the verdict of a compared cell: |difference| is at most the larger of the
                  two sample stds over seeds. The test is over queries given the trained models: it
                  does not see the training's own spread, so for a method whose seeds differ much
                  (DNNH) kernels that differ like another seed can be "differs" and within spread
  config differs  a seed's config hash, the seeds, R or the evaluation options are not the
                  reference's: not compared. Seeds that are a subset of the reference's (make
                  quick: seed 0 of 0, 1, 2) are compared seed by seed for bit-identity only (the
                  reference keeps the per-query AP of all its seeds together): bit-identical, else
                  config differs; the reference's MAP over those seeds is shown where it keeps each
                  seed's (``maps``, in references written from issue 33 on)
  paper           a protocol with a paper dataset (``paper: imagenet|nuswide|coco``) and no shipped
                  run: the paper's value and the difference, no test (the paper gives no per-query AP)
  no reference    neither

It writes ``reproduction.csv`` (one row per cell) and ``reproduction.md`` (a summary line per
protocol on top, then the cells) beside the tables.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hashbench import io, reference, stats
from hashbench.errors import HashbenchError
from hashbench.layout import CODES, RUN_RECORD
from hashbench.stages import stored

REFERENCE_DIR = Path(reference.__file__).with_name("runs")
REPORT = ("reproduction.csv", "reproduction.md")
IDENTICAL, AGREES, DIFFERS, CONFIG_DIFFERS, PAPER, NONE = (
    "bit-identical", "agrees", "differs", "config differs", "paper", "no reference")


def reference_files(protocol: str, reference_dir=REFERENCE_DIR) -> tuple[Path, Path]:
    """A protocol's reference run: ``<protocol>.json`` (meta) and ``.npz`` (per-query AP per cell)."""
    return Path(reference_dir) / f"{protocol}.json", Path(reference_dir) / f"{protocol}.npz"


def _codes_digest(folder: Path) -> str:
    return io.checksum(*io.load_codes(folder / CODES))[:16]


def _cell_runs(spec: dict, found: dict, folders: dict, protocol: str, method: str, bits: int) -> list | None:
    """The (metrics, folder) of every seed of a cell, or None when a seed is missing."""
    keys = [(protocol, method, bits, s) for s in spec["seeds"]]
    return [(found[k], folders[k]) for k in keys] if all(k in found for k in keys) else None


def _cell_record(runs: list) -> tuple[dict, np.ndarray]:
    """What the reference keeps of one cell (each seed's MAP, MAP@R and P@H<=2, config hash and codes
    digest), and its seed-averaged per-query AP."""
    mean, std = stored.mean_and_std([m["map"] for m, _ in runs])
    record = {"mean": mean, "std": std, "maps": [m["map"] for m, _ in runs],
              "map_at": {r: [m["map_at"][r] for m, _ in runs] for r in runs[0][0].get("map_at", {})},
              "config_hashes": [m["config_hash"] for m, _ in runs],
              "codes": [_codes_digest(folder) for _, folder in runs],
              "degenerate_seeds": sum(bool(m.get("degenerate")) for m, _ in runs)}
    if all("p_h2" in m for m, _ in runs):
        record["p_h2"] = [m["p_h2"] for m, _ in runs]
    return record, stored.seed_averaged_ap(folder for _, folder in runs)


def write_reference(spec: dict, metrics_files, out_dir) -> list[Path]:
    """Write ``<protocol>.json`` and ``.npz`` under ``out_dir`` for every configured protocol, from
    complete runs (``spec``: hashbench.config.tables_spec). Returns the files written."""
    found, _, folders = stored.collect(metrics_files, spec["protocols"], spec["methods"], spec["bits"], spec["seeds"])
    written = []
    for protocol, pdef in spec["protocols"].items():
        cells, arrays, machines = {}, {}, {}
        for method in spec["methods"]:
            for bits in spec["bits"]:
                runs = _cell_runs(spec, found, folders, protocol, method, bits)
                name = f"{method}/{bits}"
                cells[name], arrays[name] = _cell_record(runs)
                for _, folder in runs:
                    record = io.read_json(folder / RUN_RECORD).get("machine")
                    if record:
                        machines.setdefault(record["key"], record)
        meta = {"protocol": protocol, "topk": pdef["topk"], "no_relevant": spec["no_relevant"], "seeds": spec["seeds"],
                "cells": cells, "machines": machines}
        meta_path, arrays_path = reference_files(protocol, out_dir)
        io.write_json(meta_path, meta)
        with io.atomic_path(arrays_path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        written += [meta_path, arrays_path]
    return written


def load_reference(protocol: str, reference_dir=REFERENCE_DIR) -> tuple[dict, dict] | None:
    """A protocol's shipped reference (meta, {cell: seed-averaged AP}), or None when there is none."""
    meta_path, arrays_path = reference_files(protocol, reference_dir)
    if not meta_path.exists():
        return None
    meta = io.read_json(meta_path)
    return meta, io.load_npz(arrays_path, tuple(meta["cells"]))


def _compare(spec, protocol, method, bits, runs, ref) -> dict:
    row = {"protocol": protocol, "method": method, "bits": bits, "mean": None, "reference": None, "difference": None,
           "p": None, "p_holm": None, "verdict": NONE, "within_spread": None, "source": ""}
    if runs is not None:
        row["mean"], std = stored.mean_and_std([m["map"] for m, _ in runs])
    pdef = spec["protocols"][protocol]
    if ref is None:
        paper = reference.values("table1") | reference.values("table2")
        value = paper.get((method, pdef.get("paper"), bits))
        if value is not None:
            row.update(reference=value, verdict=PAPER, source=f"the paper's {pdef['paper']}")
            row["difference"] = None if row["mean"] is None else row["mean"] - value
        return row
    meta, arrays = ref
    cell = meta["cells"].get(f"{method}/{bits}")
    if cell is None or runs is None:
        return row
    row["source"] = f"shipped run ({protocol})"
    seeds = [s for s in spec["seeds"] if s in meta["seeds"]]
    at = [meta["seeds"].index(s) for s in seeds]
    subset = seeds == spec["seeds"] and seeds != meta["seeds"]
    if subset:  # the reference's MAP over these seeds, where it keeps each seed's
        maps = cell.get("maps")
        reference_map = stored.mean_and_std([maps[i] for i in at])[0] if maps else None
    else:
        reference_map = cell["mean"]
    row.update(reference=reference_map, difference=None if reference_map is None else row["mean"] - reference_map)
    same_config = ((seeds == meta["seeds"] or subset) and meta["topk"] == pdef["topk"]
                   and meta["no_relevant"] == spec["no_relevant"]
                   and [cell["config_hashes"][i] for i in at] == [m["config_hash"] for m, _ in runs])
    identical = same_config and [cell["codes"][i] for i in at] == [_codes_digest(folder) for _, folder in runs]
    if identical:
        row["verdict"] = IDENTICAL
    elif not same_config or subset:
        row["verdict"] = CONFIG_DIFFERS
    else:
        ours = stored.seed_averaged_ap(folder for _, folder in runs)
        theirs = arrays[f"{method}/{bits}"]
        if ours.shape != theirs.shape:
            raise HashbenchError(f"the reference of {protocol} has {theirs.size} queries, the runs {ours.size}")
        row["p"] = stats.paired_randomization_test(ours, theirs, spec["resamples"])
        row["verdict"] = AGREES if row["p"] >= spec["alpha"] else DIFFERS
        row["within_spread"] = abs(row["difference"]) <= max(std, cell["std"])
    return row


def _summary(protocol: str, rows: list[dict], alpha: float) -> str:
    verdicts = [r["verdict"] for r in rows]
    if all(v == PAPER for v in verdicts if v != NONE) and PAPER in verdicts:
        diffs = [r["difference"] for r in rows if r["difference"] is not None]
        span = f"; ours minus the paper's from {min(diffs):+.4f} to {max(diffs):+.4f}" if diffs else ""
        return f"{protocol}: {verdicts.count(PAPER)} cells against the paper's values (no per-query test){span}"
    tested = [r for r in rows if r["verdict"] in (IDENTICAL, AGREES, DIFFERS)]
    others = len(rows) - len(tested)
    rest = f"; {others} cells not compared (config differs or no reference)" if others else ""
    if not tested:
        return f"{protocol}: no cell compared ({len(rows)} cells: no reference shipped, or another config)"
    if all(r["verdict"] == IDENTICAL for r in tested):
        return f"{protocol}: {len(tested)} of {len(tested)} cells bit-identical with the reference (every seed's codes){rest}"
    agree = sum(r["verdict"] in (IDENTICAL, AGREES) for r in tested)
    holm_agree = sum(r["verdict"] == IDENTICAL or r["p_holm"] >= alpha for r in tested)
    worst = max(tested, key=lambda r: abs(r["difference"]))
    compared = [r for r in tested if r["verdict"] != IDENTICAL]
    spread = sum(bool(r["within_spread"]) for r in compared)
    return (f"{protocol}: {agree} of {len(tested)} cells agree at alpha {alpha:g} "
            f"({verdicts.count(IDENTICAL)} bit-identical; {holm_agree} of {len(tested)} after Holm's adjustment over "
            f"the cells); differences at most {abs(worst['difference']):.4f} MAP ({worst['method']}, {worst['bits']} "
            f"bits), {spread} of {len(compared)} within the larger seed std{rest}")


def build(spec: dict, metrics_files, out_dir, reference_dir=REFERENCE_DIR) -> list[dict]:
    """Write reproduction.csv and .md under ``out_dir`` (``spec``: hashbench.config.tables_spec)."""
    found, _, folders = stored.collect(metrics_files, spec["protocols"], spec["methods"], spec["bits"], spec["seeds"],
                                       spec.get("partial", False))
    rows, summaries, machines = [], [], {}
    for protocol in spec.get("order", list(spec["protocols"])):
        ref = load_reference(protocol, reference_dir)
        for key, record in (ref[0]["machines"] if ref else {}).items():
            machines.setdefault(key, record)
        block = [_compare(spec, protocol, method, bits, _cell_runs(spec, found, folders, protocol, method, bits), ref)
                 for method in spec["methods"] for bits in spec["bits"]]
        compared = [r for r in block if r["p"] is not None]
        for r, adjusted in zip(compared, stats.holm([r["p"] for r in compared]) if compared else []):
            r["p_holm"] = float(adjusted)
        summaries.append(_summary(protocol, block, spec["alpha"]))
        rows += block
    _write(rows, summaries, machines, spec, Path(out_dir))
    return rows


def _fmt(x, spec=".4f") -> str:
    return "" if x is None else format(x, spec)


def _write(rows: list[dict], summaries: list[str], machines: dict, spec: dict, out_dir: Path) -> None:
    columns = ("protocol", "method", "bits", "mean", "reference", "difference", "p", "p_holm", "verdict",
               "within_spread", "source")
    with io.atomic_path(out_dir / REPORT[0]) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_fmt(r[c], ".6g") if c in ("mean", "reference", "difference", "p", "p_holm")
                             else "" if r[c] is None else r[c] for c in columns])
    lines = ["# Reproduction report", "", *[f"- {s}" for s in summaries], "",
             f"Each cell: your MAP (mean over seeds {spec['seeds']}), the reference's, the difference, and the p-value "
             f"of the two-sided paired randomization test over the queries of the seed-averaged AP ({spec['resamples']} "
             f"sign flips; raw, and Holm-adjusted over the protocol's compared cells); verdict at alpha = "
             f"{spec['alpha']}: bit-identical (every seed's codes equal), agrees, differs, config differs (not "
             "compared), paper (the paper's value, no test), no reference. Within spread: |difference| <= the larger "
             "std over seeds (the test is over queries given the models and does not see the training's own spread).", ""]
    for key, record in machines.items():
        versions = ", ".join(f"{k} {v}" for k, v in record.get("versions", {}).items() if v)
        lines.append(f"- reference machine {key}: {record.get('cpu')} ({record.get('isa')}), "
                     f"{record.get('threads')} thread(s), {versions}")
    lines += ["", "| protocol | method | bits | yours | reference | difference | p | p (Holm) | verdict | within spread |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['protocol']} | {r['method']} | {r['bits']} | {_fmt(r['mean'])} | {_fmt(r['reference'])} | "
                     f"{_fmt(r['difference'], '+.4f')} | {_fmt(r['p'], '.3g')} | {_fmt(r['p_holm'], '.3g')} | "
                     f"{r['verdict']} | {'' if r['within_spread'] is None else 'yes' if r['within_spread'] else 'no'} |")
    with io.atomic_path(out_dir / REPORT[1]) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
