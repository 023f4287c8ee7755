import functools
import json
import re
import shlex
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import DeploymentMethod

from hashbench import config as hbconfig
from hashbench import cli, gpus, layout, registry, settings
from hashbench.data.sources import SOURCES
from hashbench.errors import HashbenchError
from hashbench.stages.reproduction import reference_files

try:
    # --config values nested in a mapping or list reach here as strings: read again as YAML
    CFG = hbconfig.validate(hbconfig.typed_overrides(config, dict(workflow.config_settings.config)))
except HashbenchError as exc:
    raise WorkflowError(f"hashbench: {exc}") from None

# an explicit P@N list must fit the database of every protocol whose split is already prepared
for _protocol in CFG["protocols"]:
    _meta = Path(layout.DATA_DIR.format(protocol=_protocol)) / layout.SPLIT_META
    if _meta.exists():
        try:
            hbconfig.check_precision_at(CFG, _protocol, json.loads(_meta.read_text())["sizes"]["database"], str(_meta))
        except HashbenchError as exc:
            raise WorkflowError(f"hashbench: {exc}") from None

ENV = "../environment.yml"
# Every job runs hashbench with the interpreter Snakemake runs under, so that `.venv/bin/snakemake`
# (or a conda environment's) works without activating anything, and a cluster's jobs run the same
# file over the shared filesystem; with --sdm conda, each rule's own environment's python.
PYTHON = "python" if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method else shlex.quote(
    sys.executable)
HASHBENCH = f"{PYTHON} -m hashbench"
# How jobs run (config block execution) reaches them as resources: Snakemake re-makes an output whose
# params (its determinants: hashbench.config's *_spec functions) changed, never one whose resources did.
EXECUTION = cli.job_resources(CFG["execution"])
LOADER_ARGS = cli.job_options(cli.LOADER_SETTINGS)
TRAINER_ARGS = cli.job_options()


def deep_gpu(wildcards):
    """The "gpu" resource of a deep job, decided per job when Snakemake builds its jobs, by then
    knowing the executor (while the Snakefile is read it does not: Snakemake 9 sets it later): one
    on a cluster executor (profiles/slurm: its GPU nodes, asked for with the job), wherever the
    workflow is submitted from; one on a local machine with a visible GPU, so that a profile's
    `resources: gpu: 1` (profiles/default, profiles/gpu) lets one job at a time have it; none on a
    local machine without one, where deep jobs run side by side, one CPU thread each."""
    return 1 if not workflow.local_exec or visible_gpus() else 0


visible_gpus = functools.cache(gpus.visible)  # asked once per workflow, not once per job


# another config's tables and figures never go over the default's (hashbench.config.output_dirs)
TABLES_DIR, FIGURES_OUT = hbconfig.output_dirs(CFG, hbconfig.load(Path(workflow.basedir) / "config" / "config.yaml"))
FIGURE_DIR = layout.FIGURE_DIR.format(out=FIGURES_OUT, protocol="{protocol}")
DATA_DIR, RUN_DIR = layout.DATA_DIR, layout.RUN_DIR
SPLIT_FILES = {  # rule prepare_split's outputs, the inputs of every step that reads the split
    "dataset": f"{DATA_DIR}/{layout.DATASET}",
    "split": f"{DATA_DIR}/{layout.SPLIT}",
    "meta": f"{DATA_DIR}/{layout.SPLIT_META}",
}


wildcard_constraints:
    protocol=r"[A-Za-z0-9_.-]+",
    method=r"[A-Za-z0-9_.-]+",
    bits=r"\d+",
    backbone=r"[a-z0-9]+",
    seed=r"\d+",
    resize=r"\d+",


def source_files(wildcards):
    """The files a protocol's split is built from: its list files (image-lists) or label file."""
    spec = CFG["protocol_defs"][wildcards.protocol]
    return list(spec.get("lists", {}).values()) + ([spec["label_file"]] if "label_file" in spec else [])


def split_json(wildcards):
    return json.dumps(hbconfig.split_spec(CFG, wildcards.protocol), sort_keys=True)


def cache_json(wildcards):
    return json.dumps(hbconfig.cache_spec(CFG, wildcards.protocol), sort_keys=True)


def features_json(wildcards):
    return json.dumps(hbconfig.features_spec(CFG, wildcards.protocol), sort_keys=True)


def run_json(wildcards):
    spec = hbconfig.run_spec(CFG, wildcards.protocol, wildcards.method, int(wildcards.bits), int(wildcards.seed))
    return json.dumps(spec, sort_keys=True)


def selection_json(wildcards):
    return json.dumps(hbconfig.selection_spec(CFG, wildcards.protocol, wildcards.method), sort_keys=True)


def selection_input(wildcards):
    """The selection.json of a method the config gives a grid (``selection.grid``); else nothing."""
    if hbconfig.selection_spec(CFG, wildcards.protocol, wildcards.method) is None:
        return []
    return layout.SELECTION.format(protocol=wildcards.protocol, method=wildcards.method)


def selection_arg(wildcards, input):
    return f"--selection {input.selection}" if input.selection else ""


def trainer_settings(protocol, method):
    """A deep method's hyperparameters on ``protocol``, defaults filled in (None for a shallow method)."""
    cls = registry.get(method)
    if not cls.is_deep:
        return None
    return {**cls.hyperparameters(), **hbconfig.method_params(CFG, protocol, method)}


def pretrained_weights(protocol, method):
    """The weights file a deep method's jobs on ``protocol`` read: its ``weights`` file, or the
    backbone's ImageNet weights fetched by rule pretrained_weights; None without pretrained weights."""
    settings = trainer_settings(protocol, method)
    if not settings or not settings["pretrained"]:
        return None
    return settings["weights"] or layout.weights_file(settings["backbone"])


def feature_weights(wildcards):
    """The weights file of a protocol's fc7 features: its feature_weights, else AlexNet's ImageNet weights."""
    return CFG["protocol_defs"][wildcards.protocol].get("feature_weights") or layout.weights_file("alexnet")


def run_weights(wildcards):
    return pretrained_weights(wildcards.protocol, wildcards.method) or []


def weights_arg(wildcards, input):
    return f"--weights {input.weights}" if input.weights else ""


# a weights file the config names must exist before anything runs: one line naming it
for _protocol in CFG["protocols"]:
    _named = {f"protocol_defs.{_protocol}.feature_weights": CFG["protocol_defs"][_protocol].get("feature_weights")}
    for _method in CFG["methods"]:
        _settings = trainer_settings(_protocol, _method)
        if _settings and _settings["pretrained"]:
            _named[f"weights of {_method} on {_protocol}"] = _settings["weights"]
    for _field, _file in _named.items():
        if _file and not Path(_file).is_file():
            raise WorkflowError(f"hashbench: config field {_field}: pretrained weights file not found: {_file}")


def external_codes(wildcards):
    """An outside method's code file of one run (config external); a missing one stops the workflow
    while it plans, naming the file, before any job runs."""
    path = hbconfig.external_codes(CFG, wildcards.method, wildcards.protocol, wildcards.bits, wildcards.seed)
    if not Path(path).is_file():
        raise WorkflowError(f"hashbench: config field external.{wildcards.method}.codes: no codes for "
                            f"({wildcards.protocol}, {wildcards.bits} bits, seed {wildcards.seed}): {path} not found")
    return path


def eval_json(wildcards):
    return json.dumps(hbconfig.eval_spec(CFG, wildcards.protocol), sort_keys=True)


def is_deep(method):
    return registry.get(method).is_deep


def restricted(path, names):
    """A path template with its {method} restricted to ``names`` (none: matching nothing)."""
    return path.replace("{method}", "{method,%s}" % ("|".join(map(re.escape, names)) or "(?!)"))


def of_kind(path, deep):
    """A path template with its {method} restricted to the configured deep (GPU) or shallow (CPU)
    methods, so that each kind has its own training and selection rule and a cluster profile can
    send them to different partitions."""
    return restricted(path, [m for m in CFG["methods"] if is_deep(m) == deep])


def run_dir(deep):
    return of_kind(RUN_DIR, deep)


# the run folders of outside codes (config external): rule external_codes stores them as runs
EXTERNAL_RUN_DIR = restricted(RUN_DIR, list(CFG["external"]))


def train_features(wildcards):
    """A shallow method reads the protocol's features; a deep one the images."""
    if is_deep(wildcards.method):
        return []
    kind = CFG["protocol_defs"][wildcards.protocol]["features"]
    return f"{DATA_DIR}/{layout.features_file(kind)}".format(protocol=wildcards.protocol)


def image_cache(wildcards):
    """The protocol's image cache, for image files with the pipeline's cache on; else nothing."""
    spec = CFG["protocol_defs"][wildcards.protocol]
    if not SOURCES[spec["source"]].files or not settings.pipeline_spec(spec.get("pipeline"))["cache"]:
        return []
    resize = settings.pipeline_spec(spec.get("pipeline"))["resize"]
    return f"{DATA_DIR}/{layout.image_cache_file(resize)}".format(protocol=wildcards.protocol)


def train_images(wildcards):
    """A deep method reads the protocol's image cache (when it has one)."""
    return image_cache(wildcards) if is_deep(wildcards.method) else []


def existing_if_partial(paths):
    """With tables.partial, only the paths that exist (tables and figures of the runs done so far)."""
    return [p for p in paths if Path(p).exists()] if CFG["tables"]["partial"] else paths


def metrics_files(protocols, seeds, methods=None):
    """The metrics files of the configured runs (of ``methods``, default all configured and those
    with outside codes); with tables.partial only those that exist."""
    paths = [
        str(layout.run_dir(protocol, method, bits, seed) / layout.METRICS)
        for protocol in protocols
        for method in (hbconfig.table_methods(CFG) if methods is None else methods)
        for bits in CFG["bits"]
        for seed in seeds
    ]
    return existing_if_partial(paths)


def shipped_references():
    """The reference runs shipped for the configured protocols (hashbench/reference/runs), which the
    reproduction report compares with: a new one remakes the report."""
    return [str(path) for p in CFG["protocols"] if (files := reference_files(p))[0].exists() for path in files]


def imbalance_metrics(wildcards):
    """The imbalance figure compares HashNet with HashNet-W on every configured protocol."""
    from hashbench.stages.imbalance import UNWEIGHTED, WEIGHTED

    absent = [m for m in (WEIGHTED, UNWEIGHTED) if m not in CFG["methods"]]
    if absent:
        raise WorkflowError(f"hashbench: the imbalance figure compares {WEIGHTED} with {UNWEIGHTED}; "
                            f"add {', '.join(absent)} to methods")
    return metrics_files(CFG["protocols"], CFG["seeds"], [WEIGHTED, UNWEIGHTED])


def figure_metrics(wildcards):
    """One protocol's figures read the metrics of the figure seed ..."""
    return metrics_files([wildcards.protocol], [hbconfig.figures_spec(CFG, wildcards.protocol)["seed"]])


def figure_runs(wildcards):
    """... and the stored outputs of the figure methods' deep runs at the figure length and seed."""
    spec = hbconfig.figures_spec(CFG, wildcards.protocol)
    runs = [
        str(layout.run_dir(wildcards.protocol, method, spec["at_bits"], spec["seed"]) / name)
        for method in spec["deep_methods"]
        for name in (layout.RUN_RECORD, layout.CODES, layout.CONTINUOUS)
    ]
    return existing_if_partial(runs)


def run_folders(wildcards, input):
    """The run folders of a rule's ``runs`` input files, once each."""
    return " ".join(sorted({str(Path(path).parent) for path in input.runs}))


def figure_names():
    """precision always; loss, histogram and t-SNE when a figure method (HashNet, DHN) is configured."""
    return layout.figure_names(bool(hbconfig.figures_spec(CFG, CFG["protocols"][0])["deep_methods"]))
