"""One (protocol, method, bits, seed) run: fit on the training split, encode queries and database,
store codes.npz and run.json (and what the method adds: a deep method's continuous outputs). A
deep method trains through ``hashbench.deep.trainer.Trainer``, which checkpoints in the run's
folder and resumes from there; the method's hooks (``hashbench.method.HashMethod``) do what
differs between kinds of method; ``fit_and_encode`` is the same for all, and ``select`` uses it too."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hashbench import __version__, health, io, machine, registry, settings
from hashbench.data import splits
from hashbench.layout import CHECKPOINT, CODES, RUN_RECORD
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def _check_codes(codes, n_rows: int, n_bits: int, what: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.shape != (n_rows, n_bits) or not (np.abs(codes) == 1).all():
        raise HashbenchError(f"{what}: expected a ({n_rows}, {n_bits}) matrix of -1/+1 codes, "
                             f"got shape {codes.shape}")
    return codes.astype(np.int8)


@dataclass
class Fitted:
    """What ``fit_and_encode`` gives back: the fitted method, its checked codes of each encoded set,
    the other arrays of the database it stores, the times, and what its trainer measured (a deep
    method's: ``hashbench.deep.trainer.Trainer.fit``; {} for the others)."""
    method: object
    codes: dict[str, np.ndarray]
    extra: dict
    fit_seconds: float
    encode_seconds: float
    measured: dict


def fit_and_encode(spec: dict, data: splits.ProtocolData, params: dict, fit_rows: np.ndarray,
                   query_rows: np.ndarray, database_rows: np.ndarray, run_dir: Path, threads: int | None = None,
                   execution: dict | None = None, weights=None) -> Fitted:
    """The one fit-and-encode path of ``train`` and ``select``: the spec's method with ``params``
    fitted on the items ``fit_rows`` of a prepared protocol, then the items ``query_rows`` and
    ``database_rows`` encoded, the codes checked. A deep method trains through a Trainer given the
    execution settings, the checkpoint in ``run_dir`` (resumed when there), the pretrained
    ``weights`` file (the workflow's input) and the job's ``threads``."""
    method = registry.create(spec["method"], spec["bits"], spec["seed"], params)
    execution = settings.execution(execution)
    features = method.inputs(data, spec["protocol_def"], threads, execution["workers"])
    fit_args, trainer = {}, None
    if method.is_deep:
        from hashbench.deep.trainer import Trainer  # torch: only for deep methods

        trainer = Trainer(execution, Path(run_dir) / CHECKPOINT, weights, threads)
        fit_args = {"trainer": trainer}
    log.info("fitting %s (%d bits, seed %d) on %d training items of %s", spec["method"], spec["bits"],
             spec["seed"], fit_rows.size, spec["protocol"])
    start = time.perf_counter()
    fitted = method.fit(features[fit_rows], data.labels[fit_rows], **fit_args)
    fit_seconds = time.perf_counter() - start
    if fitted is not method:
        raise HashbenchError(f"method '{spec['method']}': fit() must return self")
    start = time.perf_counter()
    query = method.encode(features[query_rows])
    database, extra = method.encode_database(features[database_rows])
    codes = {name: _check_codes(raw, rows.size, spec["bits"], f"method '{spec['method']}' encode({name})")
             for name, raw, rows in (("query", query, query_rows), ("database", database, database_rows))}
    encode_seconds = time.perf_counter() - start
    return Fitted(method, codes, extra, fit_seconds, encode_seconds, trainer.measured if trainer else {})


def remove_checkpoint(run_dir) -> None:
    """The checkpoint is kept until the run's outputs are written, so that a job killed while
    encoding does not train again."""
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)


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
    run = fit_and_encode(spec, data, params, data.split["train"], data.split["query"], data.split["database"],
                         out_dir, threads, execution, weights)
    method, codes, measured = run.method, run.codes, run.measured
    history = np.asarray(getattr(method, "loss_history_", []), dtype=float).tolist()
    method.log_loss_history(history)
    log.info("fit %.2fs, encode %.2fs%s", run.fit_seconds, run.encode_seconds,
             f" (resumed: {len(measured['earlier_parts'])} earlier part(s), "
             f"{sum(measured['earlier_parts']):.2f}s)" if measured.get("earlier_parts") else "")
    io.save_codes(out_dir / CODES, codes["query"], codes["database"])
    for name, arrays in run.extra.items():
        io.save_npz(out_dir / name, **arrays)
    run_health = health.diagnose(codes["database"], history if method.is_deep else None)
    if run_health["degenerate"]:
        log.warning("degenerate run: %s (%d bits, seed %d) on %s: %s", spec["method"], spec["bits"], spec["seed"],
                    spec["protocol"], "; ".join(run_health["reasons"]))
    device, run_threads = measured.get("device", "cpu"), measured.get("threads", threads)
    record = {
        "spec": spec,
        "params": method.get_params(),
        "features": "images" if method.is_deep else spec["protocol_def"]["features"],
        "config_hash": settings.digest(spec),
        "split_checksum": data.checksum,
        # a resumed run: every part's training seconds (each killed session up to its last checkpoint, then
        # this one), and their sum
        "fit_seconds": sum(parts := [*measured.get("earlier_parts", []), run.fit_seconds]),
        "fit_parts": parts,
        "encode_seconds": run.encode_seconds,
        "loss_history": history,
        "device": device,
        "threads": run_threads,
        "execution": measured.get("execution", {}),
        "precision": measured.get("precision"),
        "optimiser": measured.get("optimiser"),
        "weights": measured.get("weights"),
        "machine": machine.record(device, run_threads, measured.get("nondeterministic")),
        "diagnostics": getattr(method, "diagnostics_", {}),
        "health": run_health,
        "selection": selected,
        "hashbench_version": __version__,
    }
    io.write_json(out_dir / RUN_RECORD, record)
    remove_checkpoint(out_dir)
    return record
