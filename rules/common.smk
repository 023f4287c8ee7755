import json

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


def all_metrics():
    """Every run's metrics file, methods outermost so that the table keeps the config's method order."""
    return [
        f"results/runs/{protocol}/{method}/{bits}bits/seed{seed}/metrics.json"
        for method in CFG["methods"]
        for protocol in CFG["protocols"]
        for bits in CFG["bits"]
        for seed in CFG["seeds"]
    ]
