"""Hyperparameters chosen on a validation hold-out of the training split (HashNet Sec. 4.1: "we
cross-validate the learning rate from 1e-5 to 1e-3 with a multiplicative step-size 10^(1/2)").

For one (protocol, method), at one code length and seed (config block ``selection``): a seeded
``validation`` share of the training split is held out; every combination of the grid's values is
trained on the rest, the held-out items are encoded as queries and the rest of the training split as
the database, and each combination is scored by the MAP@R of the protocol (R at most the size of
that database). The best score wins; ties go to the combination listed first. selection.json
records every score and the choice; every run of the method on the protocol then trains with it
(``hashbench.stages.train.chosen_params``) and its run.json says so. The test split is never read.
A killed selection resumes: each candidate's score is kept in a working folder beside the output
(``<method>.work/``, with the spec it was made for) as soon as it is known, and a deep candidate
checkpoints its training there as ``train`` does; the folder is removed once selection.json is written.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from hashbench import io, settings
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.metrics import evaluate
from hashbench.stages.train import fit_and_encode, remove_checkpoint

log = logging.getLogger("hashbench")


def holdout(train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation): the training split less a seeded random ``fraction`` of it, and that fraction."""
    n_val = int(round(fraction * train.size))
    if not 1 <= n_val < train.size - 1:
        raise HashbenchError(f"selection.validation: {fraction} of {train.size} training items leaves no "
                             "validation or no training items")
    order = np.random.default_rng([seed, 0x5E1EC7]).permutation(train.size)
    return np.sort(train[order[n_val:]]), np.sort(train[order[:n_val]])


def candidates(grid: dict) -> list[dict]:
    """Every combination of the grid's values, in the order the grid lists them."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[name] for name in names))]


def work_dir(out_path, spec: dict) -> Path:
    """The selection's working folder, emptied when it was made for another spec."""
    work = Path(out_path).with_suffix(".work")
    digest = settings.digest(spec)
    if work.exists() and (not (work / "spec").exists() or (work / "spec").read_text() != digest):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "spec").write_text(digest)
    return work


def select(spec: dict, data_dir, out_path, threads: int | None = None, execution: dict | None = None,
           weights=None) -> dict:
    """Score every candidate of ``spec`` (``hashbench.config.selection_spec``) and write selection.json."""
    data = splits.load(data_dir)
    fit_idx, val_idx = holdout(data.split["train"], spec["validation"], spec["seed"])
    topk = min(spec["topk"], fit_idx.size)
    work = work_dir(out_path, spec)
    scores = []
    for i, params in enumerate(candidates(spec["grid"])):
        done = work / f"candidate{i}.json"
        if done.exists():
            scores.append(io.read_json(done))
            log.info("%s on %s, %s: validation MAP@%d %.4f (scored before the job was stopped)", spec["method"],
                     spec["protocol"], params, topk, scores[-1]["map"])
            continue
        start = time.perf_counter()
        run = fit_and_encode(spec, data, {**spec["params"], **params}, fit_idx, val_idx, fit_idx,
                             work / f"candidate{i}", threads, execution, weights)
        value = evaluate(run.codes["query"], run.codes["database"], data.labels[val_idx], data.labels[fit_idx], topk,
                         precision_at=())["map"]
        scores.append({"params": params, "map": float(value), "seconds": time.perf_counter() - start})
        io.write_json(done, scores[-1])
        remove_checkpoint(work / f"candidate{i}")
        log.info("%s on %s, %s: validation MAP@%d %.4f", spec["method"], spec["protocol"], params, topk, value)
    best = max(range(len(scores)), key=lambda i: (scores[i]["map"], -i))
    record = {"protocol": spec["protocol"], "method": spec["method"], "bits": spec["bits"], "seed": spec["seed"],
              "grid": spec["grid"], "validation": {"fraction": spec["validation"], "items": int(val_idx.size),
                                                   "topk": topk, "split_checksum": data.checksum},
              "scores": scores, "chosen": scores[best]["params"]}
    log.info("chosen: %s", record["chosen"])
    io.write_json(Path(out_path), record)
    shutil.rmtree(work)
    return record
