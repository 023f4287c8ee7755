"""Collecting the configured (protocol, method, bits, seed) runs from the metrics files a rule
passes (``hashbench.layout``: results/runs/<p>/<m>/<b>bits/seed<s>/metrics.json).

Tables and figures read only what the runs stored (metrics.json, run.json, codes.npz, continuous.npz);
they never retrain or re-evaluate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashbench import io
from hashbench.errors import HashbenchError
from hashbench.layout import PER_QUERY, RUN_RECORD


def describe(key) -> str:
    protocol, method, bits, seed = key
    return f"({protocol}, {method}, {bits} bits, seed {seed})"


def seed_averaged_ap(folders) -> np.ndarray:
    """Each query's AP@R (per_query.npz) averaged over the given run folders, one per seed: what the
    tables' and the reproduction report's paired tests compare."""
    return np.mean([io.load_npz(Path(folder) / PER_QUERY, ("ap",))["ap"] for folder in folders], axis=0)


def mean_and_std(values) -> tuple[float, float]:
    """The mean and sample std over seeds of a table cell (std 0 for one seed)."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def collect(metrics_files, protocols, methods, bits, seeds, partial: bool = False) -> tuple[dict, list, dict]:
    """The metrics of every configured run among ``metrics_files`` (each run's metrics.json, as the
    rule lists them), keyed by (protocol, method, bits, seed) as the file records them; the keys of
    the configured runs without a file; and the folder of each found run.

    Without ``partial`` a missing run is an error naming every absent (protocol, method, bits, seed).
    """
    configured = [(p, m, int(b), int(s)) for p in protocols for m in methods for b in bits for s in seeds]
    stored, folders = {}, {}
    for path in metrics_files:
        metrics = io.read_json(path)
        try:
            key = (metrics["protocol"], metrics["method"], int(metrics["bits"]), int(metrics["seed"]))
        except (KeyError, TypeError, ValueError):
            raise HashbenchError(f"{path}: not a run's metrics.json (no protocol, method, bits and seed)") from None
        stored[key], folders[key] = metrics, Path(path).parent
    found = {key: stored[key] for key in configured if key in stored}
    missing = [key for key in configured if key not in stored]
    if missing and not partial:
        shown = ", ".join(describe(k) for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise HashbenchError(f"no metrics.json for {len(missing)} configured run(s): {shown}{more}; "
                             "run them first, or ask for a partial table (tables: {partial: true})")
    return found, missing, {key: folders[key] for key in found}


def degenerate_runs(metrics_files) -> list[str]:
    """One line per degenerate run among ``metrics_files`` (those that exist): method, protocol,
    length, seed and the reasons its run.json's health gives (``hashbench.health``)."""
    lines = []
    for path in map(Path, metrics_files):
        if not path.is_file() or not io.read_json(path).get("degenerate"):
            continue
        run = io.read_json(path.parent / RUN_RECORD)
        spec = run["spec"]
        lines.append(f"{spec['method']} on {spec['protocol']}, {spec['bits']} bits, seed {spec['seed']}: "
                     + "; ".join(run.get("health", {}).get("reasons", [])))
    return lines
