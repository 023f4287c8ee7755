"""One (protocol, method, bits, seed) run: fit on the training split, encode queries and database,
store codes.npz and run.json (and what the method adds: a deep method's continuous outputs; it
checkpoints and resumes by itself). The method's hooks (``hashbench.base.HashMethod``) do what
differs between kinds of method; this function does the same for all."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from hashbench import __version__, config, health, io, machine, registry
from hashbench.data import splits
from hashbench.layout import CODES, RUN_RECORD
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def _check_codes(codes, n_rows: int, n_bits: int, what: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.shape != (n_rows, n_bits) or not (np.abs(codes) == 1).all():
        raise HashbenchError(f"{what}: expected a ({n_rows}, {n_bits}) matrix of -1/+1 codes, "
                             f"got shape {codes.shape}")
    return codes.astype(np.int8)


def method_and_inputs(spec: dict, data: splits.ProtocolData, params: dict, threads: int | None,
                      execution: dict | None = None, weights=None):
    """The run's method with ``params``, set to run as ``execution`` says (``hashbench.config.execution``;
    default ``EXECUTION_DEFAULTS``) and, for a deep method, to read the pretrained weights file
    ``weights`` (the workflow's input; default its ``weights`` hyperparameter), and what it fits and
    encodes (``HashMethod.inputs``)."""
    method = registry.create(spec["method"], spec["bits"], spec["seed"], params)
    method.execution = {**config.EXECUTION_DEFAULTS, **(execution or {})}
    if weights is not None and method.is_deep:
        method.weights_file = str(weights)
    return method, method.inputs(data, spec["protocol_def"], threads)


def weights_record(method) -> dict | None:
    """What run.json says of a pretrained deep method's weights file: its path and sha256 (None: no
    pretrained weights, or torchvision's, read by the method itself outside the workflow)."""
    if not (method.is_deep and method.pretrained):
        return None
    from hashbench.deep.weights import record

    return record(method.weights_file or method.weights)


def chosen_params(spec: dict, selection_path) -> tuple[dict, dict]:
    """The run's hyperparameters with those chosen on the validation hold-out (``hashbench.stages.select``)
    in place, and what run.json records of the choice."""
    if selection_path is None:
        return spec["params"], {}
    chosen = io.read_json(selection_path)
    if (chosen.get("protocol"), chosen.get("method")) != (spec["protocol"], spec["method"]):
        raise HashbenchError(f"{selection_path}: a selection for ({chosen.get('protocol')}, {chosen.get('method')}), "
                             f"not ({spec['protocol']}, {spec['method']})")
    return {**spec["params"], **chosen["chosen"]}, {"file": str(selection_path), **chosen}


def train(spec: dict, data_dir, out_dir, threads: int | None = None, selection=None, execution: dict | None = None,
          weights=None) -> dict:
    """Fit the method on the training split, encode queries and database, store codes and run.json;
    with ``selection`` (a selection.json) the hyperparameters chosen there replace the configured ones.
    ``execution``: how the run executes (recorded, no part of its identity); ``weights``: the
    pretrained weights file a deep method reads (``hashbench.deep.weights``)."""
    out_dir = Path(out_dir)
    data = splits.load(data_dir)
    params, selected = chosen_params(spec, selection)
    method, features = method_and_inputs(spec, data, params, threads, execution, weights)
    method.start_run(out_dir)
    train_idx = data.split["train"]
    log.info("fitting %s (%d bits, seed %d) on %d training items of %s", spec["method"], spec["bits"],
             spec["seed"], train_idx.size, spec["protocol"])
    start = time.perf_counter()
    fitted = method.fit(features[train_idx], data.labels[train_idx])
    fit_seconds = time.perf_counter() - start
    if fitted is not method:
        raise HashbenchError(f"method '{spec['method']}': fit() must return self")
    start = time.perf_counter()
    query = method.encode(features[data.split["query"]])
    database, extra = method.encode_database(features[data.split["database"]])
    codes = {name: _check_codes(raw, data.split[name].size, spec["bits"], f"method '{spec['method']}' encode({name})")
             for name, raw in (("query", query), ("database", database))}
    encode_seconds = time.perf_counter() - start
    history = np.asarray(getattr(method, "loss_history_", []), dtype=float).tolist()
    method.log_loss_history(history)
    log.info("fit %.2fs, encode %.2fs", fit_seconds, encode_seconds)
    io.save_codes(out_dir / CODES, codes["query"], codes["database"])
    for name, arrays in extra.items():
        io.save_npz(out_dir / name, **arrays)
    run_health = health.diagnose(codes["database"], history if method.is_deep else None)
    if run_health["degenerate"]:
        log.warning("degenerate run: %s (%d bits, seed %d) on %s: %s", spec["method"], spec["bits"], spec["seed"],
                    spec["protocol"], "; ".join(run_health["reasons"]))
    device, run_threads = getattr(method, "device_", "cpu"), getattr(method, "threads_", threads)
    record = {
        "spec": spec,
        "params": method.get_params(),
        "features": "images" if method.is_deep else spec["protocol_def"]["features"],
        "config_hash": config.digest(spec),
        "split_checksum": data.checksum,
        "fit_seconds": fit_seconds,
        "encode_seconds": encode_seconds,
        "loss_history": history,
        "device": device,
        "threads": run_threads,
        "execution": method.execution if method.is_deep else {},
        "precision": getattr(method, "precision_", None),
        "optimiser": method.resolved() if method.is_deep else None,
        "weights": weights_record(method),
        "machine": machine.record(device, run_threads, getattr(method, "nondeterministic_", None)),
        "diagnostics": getattr(method, "diagnostics_", {}),
        "health": run_health,
        "selection": selected,
        "hashbench_version": __version__,
    }
    io.write_json(out_dir / RUN_RECORD, record)
    method.end_run(out_dir)
    return record
