"""One (protocol, method, bits, seed) run: train and encode, then evaluate from the stored codes."""

from __future__ import annotations

import logging
import platform
import time
from pathlib import Path

import numpy as np

from hashbench import __version__, config, io, registry, splits
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def _check_codes(codes, n_rows: int, n_bits: int, what: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.shape != (n_rows, n_bits) or not (np.abs(codes) == 1).all():
        raise HashbenchError(f"{what}: expected a ({n_rows}, {n_bits}) matrix of -1/+1 codes, "
                             f"got shape {codes.shape}")
    return codes.astype(np.int8)


def method_and_inputs(spec: dict, data: splits.ProtocolData, params: dict, threads: int | None):
    """The run's method with ``params`` and what it reads: the protocol's images (deep methods, with
    torch on ``threads`` threads) or its features."""
    method = registry.create(spec["method"], spec["bits"], spec["seed"], params)
    if method.input != "images":
        return method, data.features(spec["protocol_def"]["features"])
    if threads:
        import torch

        torch.set_num_threads(threads)
    return method, data.images(spec["protocol_def"].get("pipeline"), threads)


def chosen_params(spec: dict, selection_path) -> tuple[dict, dict]:
    """The run's hyperparameters with those chosen on the validation hold-out (``hashbench.selection``)
    in place, and what run.json records of the choice."""
    if selection_path is None:
        return spec["params"], {}
    chosen = io.read_json(selection_path)
    if (chosen.get("protocol"), chosen.get("method")) != (spec["protocol"], spec["method"]):
        raise HashbenchError(f"{selection_path}: a selection for ({chosen.get('protocol')}, {chosen.get('method')}), "
                             f"not ({spec['protocol']}, {spec['method']})")
    return {**spec["params"], **chosen["chosen"]}, {"file": str(selection_path), **chosen}


def train(spec: dict, data_dir, out_dir, threads: int | None = None, selection=None) -> dict:
    """Fit the method on the training split, encode queries and database, store codes and run.json;
    with ``selection`` (a selection.json) the hyperparameters chosen there replace the configured ones."""
    out_dir = Path(out_dir)
    data = splits.load(data_dir)
    params, selected = chosen_params(spec, selection)
    method, features = method_and_inputs(spec, data, params, threads)
    deep = method.input == "images"
    if deep:
        method.checkpoint_path = out_dir / "checkpoint.pt"
    train_idx = data.split["train"]
    log.info("fitting %s (%d bits, seed %d) on %d training items of %s", spec["method"], spec["bits"],
             spec["seed"], train_idx.size, spec["protocol"])
    start = time.perf_counter()
    fitted = method.fit(features[train_idx], data.labels[train_idx])
    fit_seconds = time.perf_counter() - start
    if fitted is not method:
        raise HashbenchError(f"method '{spec['method']}': fit() must return self")
    start = time.perf_counter()
    codes, continuous = {}, None
    for name in ("query", "database"):
        X = features[data.split[name]]
        if deep and name == "database":  # the database's non-binarized outputs too, from the same pass
            raw, continuous = method.encode_with_continuous(X)
        else:
            raw = method.encode(X)
        codes[name] = _check_codes(raw, data.split[name].size, spec["bits"], f"method '{spec['method']}' encode({name})")
    encode_seconds = time.perf_counter() - start
    history = np.asarray(getattr(method, "loss_history_", []), dtype=float).tolist()
    if not deep:
        for i, value in enumerate(history):
            log.info("iteration %d loss %.6g", i + 1, value)
    log.info("fit %.2fs, encode %.2fs", fit_seconds, encode_seconds)
    io.save_codes(out_dir / "codes.npz", codes["query"], codes["database"])
    if deep:
        io.save_npz(out_dir / "continuous.npz", database=continuous)
    record = {
        "spec": spec,
        "params": method.get_params(),
        "features": "images" if deep else spec["protocol_def"]["features"],
        "config_hash": config.digest(spec),
        "split_checksum": data.checksum,
        "fit_seconds": fit_seconds,
        "encode_seconds": encode_seconds,
        "loss_history": history,
        "device": getattr(method, "device_", "cpu"),
        "diagnostics": getattr(method, "diagnostics_", {}),
        "selection": selected,
        "hashbench_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    io.write_json(out_dir / "run.json", record)
    if deep:  # kept until now, so that a job killed while encoding does not train again
        Path(method.checkpoint_path).unlink(missing_ok=True)
    return record


def evaluate(run_dir, data_dir, evaluation: dict, out_path) -> dict:
    """Compute every metric of a stored run (options: hashbench.config.eval_spec) and write metrics.json."""
    from hashbench.metrics import evaluate as compute

    run_dir = Path(run_dir)
    run = io.read_json(run_dir / "run.json")
    data = splits.load(data_dir)
    if run.get("split_checksum") != data.checksum:
        raise HashbenchError(f"{run_dir / 'run.json'}: trained on split {str(run.get('split_checksum'))[:12]}... "
                             f"but {data_dir} holds split {data.checksum[:12]}...; re-run training")
    query, database = io.load_codes(run_dir / "codes.npz")
    spec = run["spec"]
    start = time.perf_counter()
    labels = data.labels[data.split["query"]], data.labels[data.split["database"]]
    try:
        metrics = compute(query, database, *labels, evaluation["topk"], precision_at=tuple(evaluation["precision_at"]),
                          no_relevant=evaluation["no_relevant"])
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
    })
    io.write_json(out_path, metrics)
    return metrics
