"""The tuning record: each deep method's learning rate chosen on validation, per protocol, with the
same budget for every method (``make tune``, config/tune.yaml).

The selection machinery (``hashbench.stages.select``) scores each method's grid on a validation
hold-out of the training split at one code length and seed; this module gathers those
selection.json files into one record, which the default benchmark reads (config key ``tuning``,
``hashbench.config.tuned_params``) and which the repository ships as hashbench/reference/tuning.json:

  {"recipe": the recipe the choices were made for ("released"),
   "made": {"date", "machine", "hashbench_version"},
   "protocols": {protocol: {method: {"grid", "scores" (each candidate's validation MAP and seconds),
                                      "chosen", "bits", "seed", "validation"}}}}

The test split is never read: the choices come from validation MAPs alone.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from hashbench import __version__, io, machine
from hashbench.errors import HashbenchError

ENTRY_KEYS = ("grid", "scores", "chosen", "bits", "seed", "validation")


def build(selections: list, recipe: str, out_path) -> dict:
    """The record of the selection.json files ``selections``, written to ``out_path``."""
    protocols: dict[str, dict] = {}
    for path in selections:
        chosen = io.read_json(path)
        missing = [k for k in ("protocol", "method", *ENTRY_KEYS) if k not in chosen]
        if missing:
            raise HashbenchError(f"{path}: not a selection.json (missing {', '.join(missing)})")
        protocols.setdefault(chosen["protocol"], {})[chosen["method"]] = {k: chosen[k] for k in ENTRY_KEYS}
    record = {"recipe": recipe,
              "made": {"date": datetime.date.today().isoformat(), "machine": machine.record("cpu", 1, None),
                       "hashbench_version": __version__},
              "protocols": {p: dict(sorted(m.items())) for p, m in sorted(protocols.items())}}
    io.write_json(Path(out_path), record)
    return record


def load(path) -> dict:
    """A tuning record, checked: one line naming the file and what was expected otherwise."""
    path = Path(path)
    if not path.exists():
        raise HashbenchError(f"config field 'tuning': {path}: no such tuning record (make tune writes one; "
                             "null trains without)")
    record = io.read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("recipe"), str) or not isinstance(
            record.get("protocols"), dict):
        raise HashbenchError(f"{path}: expected a tuning record with 'recipe' and 'protocols' (hashbench/stages/tuning.py)")
    for protocol, methods in record["protocols"].items():
        for method, entry in methods.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("chosen"), dict):
                raise HashbenchError(f"{path}: protocols.{protocol}.{method}: expected an entry with 'chosen'")
    return record
