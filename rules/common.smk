import json
from pathlib import Path

from hashbench import config as hbconfig
from hashbench import registry
from hashbench.errors import HashbenchError

try:
    CFG = hbconfig.validate(config)
except HashbenchError as exc:
    raise WorkflowError(f"hashbench: {exc}") from None

ENV = "../environment.yml"
RUN_DIR = "results/runs/{protocol}/{method}/{bits}bits/seed{seed}"


wildcard_constraints:
    protocol=r"[A-Za-z0-9_.-]+",
    method=r"[A-Za-z0-9_.-]+",
    bits=r"\d+",
    seed=r"\d+",


def protocol_json(wildcards):
    return json.dumps(CFG["protocol_defs"][wildcards.protocol], sort_keys=True)


def run_json(wildcards):
    spec = hbconfig.run_spec(CFG, wildcards.protocol, wildcards.method, int(wildcards.bits), int(wildcards.seed))
    return json.dumps(spec, sort_keys=True)


def eval_json(wildcards):
    return json.dumps(hbconfig.eval_spec(CFG, wildcards.protocol), sort_keys=True)


def gpus(wildcards):
    return int(registry.get(wildcards.method).uses_gpu)


def train_threads(wildcards):
    """Deep methods train with two threads (one job keeps a 2-core machine busy); shallow ones with one."""
    return 2 if registry.get(wildcards.method).input == "images" else 1


def metrics_files(protocols, seeds):
    """The metrics files of the configured runs; with tables.partial only those that exist."""
    paths = [
        f"results/runs/{protocol}/{method}/{bits}bits/seed{seed}/metrics.json"
        for protocol in protocols
        for method in CFG["methods"]
        for bits in CFG["bits"]
        for seed in seeds
    ]
    return [p for p in paths if Path(p).exists()] if CFG["tables"]["partial"] else paths


def figure_inputs(wildcards):
    """One protocol's figures read the metrics of the figure seed and the deep runs' stored outputs
    (their continuous.npz comes from the same train job as run.json)."""
    spec = hbconfig.figures_spec(CFG, wildcards.protocol)
    runs = [
        f"results/runs/{wildcards.protocol}/{method}/{spec['at_bits']}bits/seed{spec['seed']}/{name}"
        for method in spec["deep_methods"]
        for name in ("run.json", "codes.npz")
    ]
    runs = [p for p in runs if Path(p).exists()] if CFG["tables"]["partial"] else runs
    return metrics_files([wildcards.protocol], [spec["seed"]]) + runs


def figure_names():
    """precision always; loss, histogram and t-SNE when a figure method (HashNet, DHN) is configured."""
    deep = hbconfig.figures_spec(CFG, CFG["protocols"][0])["deep_methods"]
    return ["precision", "loss", "histogram", "tsne"] if deep else ["precision"]
