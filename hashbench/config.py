"""The workflow configuration: JSON-schema validation with one-line errors, and run identities."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import yaml

from hashbench.errors import HashbenchError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _field(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _fill_defaults(cfg: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub and key not in cfg:
            cfg[key] = copy.deepcopy(sub["default"])
        if isinstance(cfg.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(cfg[key], sub)


def validate(config: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled in; raise HashbenchError otherwise."""
    from hashbench import datasets, registry

    cfg = copy.deepcopy(dict(config))
    for key in ("bits", "seeds"):  # snakemake --config 'bits=[16,32]' passes list items as strings
        if isinstance(cfg.get(key), list):
            cfg[key] = [int(v) if isinstance(v, str) and v.strip().isdigit() else v for v in cfg[key]]
    schema = _schema()
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(cfg))
    if error is not None:
        expected = error.schema.get("description") if isinstance(error.schema, dict) else None
        hint = f"; expected {expected}" if expected else ""
        raise HashbenchError(f"config field '{_field(error.absolute_path)}': {error.message}{hint}")
    _fill_defaults(cfg, schema)
    for i, name in enumerate(cfg["protocols"]):
        if name not in cfg["protocol_defs"]:
            known = ", ".join(sorted(cfg["protocol_defs"])) or "none"
            raise HashbenchError(f"config field 'protocols[{i}]': unknown protocol '{name}'; defined: {known}")
    for name, spec in cfg["protocol_defs"].items():
        if spec["source"] not in datasets.SOURCES:
            raise HashbenchError(f"config field 'protocol_defs.{name}.source': unknown source '{spec['source']}'; "
                                 f"expected one of {', '.join(sorted(datasets.SOURCES))}")
    for i, name in enumerate(cfg["methods"]):
        registry.get(name, field=f"methods[{i}]")
    for name, params in cfg["method_params"].items():
        registry.get(name, field=f"method_params.{name}").check_params(params, field=f"method_params.{name}")
    return cfg


def load(path) -> dict:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise HashbenchError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise HashbenchError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise HashbenchError(f"{path}: expected a YAML mapping at the top level")
    return validate(raw)


def digest(obj) -> str:
    """A short stable hash of a JSON-able object (the config hash of a run)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def run_spec(cfg: dict, protocol: str, method: str, bits: int, seed: int) -> dict:
    """Everything a (protocol, method, bits, seed) training run depends on; its digest is the config hash."""
    return {
        "protocol": protocol,
        "protocol_def": {k: v for k, v in cfg["protocol_defs"][protocol].items() if k != "topk"},
        "method": method,
        "params": cfg["method_params"].get(method, {}),
        "bits": int(bits),
        "seed": int(seed),
    }


def eval_spec(cfg: dict, protocol: str) -> dict:
    """What evaluating a run of ``protocol`` depends on: R of MAP@R and the evaluation options."""
    return {"topk": cfg["protocol_defs"][protocol]["topk"], **cfg["evaluation"]}
