"""Settings every layer reads, written once, torch-free and importing nothing of the package: how
jobs execute, an image pipeline's defaults, and the digest that names a run.

Execution settings (config block ``execution``) say how a job runs, never what it computes: they
travel to jobs as Snakemake resources, run.json records them, and they belong to no run's identity
(``hashbench.config.IDENTITY`` lists what does).
"""

from __future__ import annotations

import hashlib
import json
import os

# device ("auto": cuda if available), checkpoint cadence of deep trainings, how often the loss on binary
# codes L(h) is evaluated and the loss history read back from the device, loader processes (null: one
# per CPU thread of the job).
EXECUTION_DEFAULTS = {"device": "auto", "checkpoint_every": 100, "history_every": 1, "workers": None}
# An image pipeline (``hashbench.deep.images``) as the released code runs it.
PIPELINE_DEFAULTS = {"resize": 256, "crop": 224, "train_crop": "random-resized", "ten_crop": False,
                     "augment": "device", "cache": True}
FEATURE_PIPELINE = ("resize", "crop", "ten_crop")  # fc7 features: the encoding crops (both paths give the same)


def execution(settings: dict | None = None) -> dict:
    """``settings`` over the execution defaults."""
    return {**EXECUTION_DEFAULTS, **(settings or {})}


def pipeline_spec(pipeline: dict | None) -> dict:
    """A protocol's image pipeline with the released code's defaults filled in."""
    return {**PIPELINE_DEFAULTS, **(pipeline or {})}


def loader_workers(workers: int | None, threads: int | None) -> int:
    """Loader processes of a job: ``workers`` (execution.workers) if set, else one per CPU thread the
    job was given (Snakemake's threads), else one per CPU of the machine."""
    if workers is not None:
        return workers
    return threads if threads else (os.cpu_count() or 1)


def digest(obj) -> str:
    """A short stable hash of a JSON-able object (the config hash of a run)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
