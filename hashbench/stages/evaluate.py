"""Every metric of one stored run, from its codes and the protocol's labels (``hashbench.metrics``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from hashbench import io
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.layout import CODES, RUN_RECORD
from hashbench.metrics import evaluate as compute

log = logging.getLogger("hashbench")


def _precision_at(evaluation: dict):
    """The configured Ns of P@N, or None: the default Ns capped to the database (hashbench.metrics)."""
    ns = evaluation.get("precision_at")
    return None if ns is None else tuple(ns)


def evaluate(run_dir, data_dir, evaluation: dict, out_path, per_query_path) -> dict:
    """Compute every metric of a stored run (options: hashbench.config.eval_spec); write metrics.json
    to ``out_path`` and each query's AP@R (``ap``, ``ap_tie_aware``, ``in_map``: in the query order
    of the split) to ``per_query_path``, which the tables' significance tests read."""
    run_dir = Path(run_dir)
    run = io.read_json(run_dir / RUN_RECORD)
    data = splits.load(data_dir)
    if run.get("split_checksum") != data.checksum:
        raise HashbenchError(f"{run_dir / RUN_RECORD}: trained on split {str(run.get('split_checksum'))[:12]}... "
                             f"but {data_dir} holds split {data.checksum[:12]}...; re-run training")
    query, database = io.load_codes(run_dir / CODES)
    spec = run["spec"]
    start = time.perf_counter()
    labels = data.labels[data.split["query"]], data.labels[data.split["database"]]
    try:
        metrics = compute(query, database, *labels, evaluation["topk"], precision_at=_precision_at(evaluation),
                          no_relevant=evaluation["no_relevant"], per_query=True)
        per_query = metrics.pop("per_query")
        metrics["map_at"] = {str(evaluation["topk"]): metrics["map"]}  # keyed by the R asked for
        for topk in evaluation.get("also_topk", []):
            more = compute(query, database, *labels, topk, precision_at=(), no_relevant=evaluation["no_relevant"])
            metrics["map_at"][str(topk)] = more["map"]
    except ValueError as exc:
        raise HashbenchError(f"evaluating {run_dir}: {exc}") from None
    log.info("%s %s %d bits seed %d: MAP@%d %.4f (tie-aware %.4f), P@H<=2 %.4f", spec["protocol"], spec["method"],
             spec["bits"], spec["seed"], metrics["topk"], metrics["map"], metrics["map_tie_aware"], metrics["p_h2"])
    metrics.update({
        "protocol": spec["protocol"],
        "method": spec["method"],
        "bits": spec["bits"],
        "seed": spec["seed"],
        "fit_seconds": run["fit_seconds"],
        "encode_seconds": run["encode_seconds"],
        "eval_seconds": time.perf_counter() - start,
        "config_hash": run["config_hash"],
        "split_checksum": run["split_checksum"],
        "machine": run.get("machine", {}).get("key", ""),
        "degenerate": bool(run.get("health", {}).get("degenerate", False)),
        # listed images this copy lacks, dropped from every split (missing: drop): the tables say so
        "missing_dropped": data.meta.get("missing_dropped", {}).get("count", 0),
    })
    io.save_npz(per_query_path, **per_query)
    io.write_json(out_path, metrics)
    return metrics
