"""Stored runs: where a (protocol, method, bits, seed) run lives, and collecting the configured ones.

Tables and figures read only what the runs stored (metrics.json, run.json, codes.npz, continuous.npz);
they never retrain or re-evaluate.
"""

from __future__ import annotations

from pathlib import Path

from hashbench import io
from hashbench.errors import HashbenchError


def run_dir(root, protocol: str, method: str, bits: int, seed: int) -> Path:
    return Path(root) / protocol / method / f"{int(bits)}bits" / f"seed{int(seed)}"


def describe(key) -> str:
    protocol, method, bits, seed = key
    return f"({protocol}, {method}, {bits} bits, seed {seed})"


def collect(root, protocols, methods, bits, seeds, partial: bool = False) -> tuple[dict, list]:
    """The metrics of every configured run, keyed by (protocol, method, bits, seed), and the missing keys.

    Without ``partial`` a missing run is an error naming every absent (protocol, method, bits, seed).
    """
    found, missing = {}, []
    for protocol in protocols:
        for method in methods:
            for b in bits:
                for seed in seeds:
                    key = (protocol, method, int(b), int(seed))
                    path = run_dir(root, *key) / "metrics.json"
                    if path.is_file():
                        found[key] = io.read_json(path)
                    else:
                        missing.append(key)
    if missing and not partial:
        shown = ", ".join(describe(k) for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise HashbenchError(f"{root}: no metrics.json for {len(missing)} configured run(s): {shown}{more}; "
                             "run them first, or ask for a partial table (tables: {partial: true})")
    return found, missing
