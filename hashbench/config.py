"""The workflow configuration: JSON-schema validation with one-line errors, and run identities."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path

import jsonschema
import yaml

from hashbench.errors import HashbenchError
from hashbench import reference, settings
from hashbench.settings import EXECUTION_DEFAULTS, FEATURE_PIPELINE, PIPELINE_DEFAULTS, pipeline_spec

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
    from hashbench import registry

    cfg = copy.deepcopy(dict(config))
    schema = _schema()
    for key in cfg:
        if key not in schema["properties"]:
            near = difflib.get_close_matches(key, schema["properties"], n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; expected one of {', '.join(schema['properties'])}"
            raise HashbenchError(f"config field '{key}': not a config key{hint}")
    for name, spec in (cfg.get("protocol_defs") or {}).items():
        if isinstance(spec, dict) and isinstance(spec.get("pipeline"), dict) and "workers" in spec["pipeline"]:
            raise HashbenchError(f"config field 'protocol_defs.{name}.pipeline.workers': an execution setting, which no "
                                 "result depends on: set execution.workers instead")
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(cfg))
    if error is not None:
        expected = error.schema.get("description") if isinstance(error.schema, dict) else None
        hint = f"; expected {expected}" if expected else ""
        raise HashbenchError(f"config field '{_field(error.absolute_path)}': {error.message}{hint}")
    _fill_defaults(cfg, schema)
    cfg["execution"] = settings.execution(cfg.get("execution"))
    _check_training(cfg)
    read_tuning(cfg["tuning"])  # a bad record names its file before any job runs
    for i, name in enumerate(cfg["protocols"]):
        if name not in cfg["protocol_defs"]:
            known = ", ".join(sorted(cfg["protocol_defs"])) or "none"
            raise HashbenchError(f"config field 'protocols[{i}]': unknown protocol '{name}'; defined: {known}")
    for name, spec in cfg["protocol_defs"].items():
        _check_protocol(name, spec)
    for name in cfg["protocols"]:
        declared = cfg["protocol_defs"][name].get("sizes", {}).get("database")
        if declared is not None:
            check_precision_at(cfg, name, declared, "its sizes.database")
    for i, name in enumerate(cfg["methods"]):
        registry.get(name, field=f"methods[{i}]")
    _check_external(cfg)
    for i, name in enumerate(cfg["figures"]["methods"]):
        registry.get(name, field=f"figures.methods[{i}]")
    if cfg["figures"]["seed"] is not None and cfg["figures"]["seed"] not in cfg["seeds"]:
        raise HashbenchError(f"config field 'figures.seed': seed {cfg['figures']['seed']} is not among seeds "
                             f"{cfg['seeds']}")
    for block in ("figures", "selection"):
        if cfg[block]["bits"] is not None and cfg[block]["bits"] not in cfg["bits"]:
            raise HashbenchError(f"config field '{block}.bits': {cfg[block]['bits']} is not among bits {cfg['bits']}")
    if cfg["selection"]["seed"] is not None and cfg["selection"]["seed"] not in cfg["seeds"]:
        raise HashbenchError(f"config field 'selection.seed': seed {cfg['selection']['seed']} is not among seeds "
                             f"{cfg['seeds']}")
    for name, grid in cfg["selection"]["grid"].items():
        method = registry.get(name, field=f"selection.grid.{name}")
        for param, values in grid.items():
            for i, value in enumerate(values):
                method.check_params({param: value}, field=f"selection.grid.{name}.{param}[{i}]")
    for field, params in [("method_params", cfg["method_params"])] + [
            (f"protocol_defs.{p}.method_params", spec.get("method_params", {})) for p, spec in cfg["protocol_defs"].items()]:
        for name, values in params.items():
            for key in values:
                if key in EXECUTION_DEFAULTS:
                    raise HashbenchError(f"config field '{field}.{name}.{key}': an execution setting, which no result "
                                         f"depends on: set execution.{key} instead")
            registry.get(name, field=f"{field}.{name}").check_params(values, field=f"{field}.{name}")
    return cfg


EXTERNAL_NAME = r"[A-Za-z0-9_.-]+"  # a method name the run folders and the workflow's wildcards take


def _check_external(cfg: dict) -> None:
    """An outside method's name is new and folder-safe; its code template names one file per run."""
    import re
    import string

    from hashbench import registry

    for name, spec in cfg["external"].items():
        field = f"config field 'external.{name}"
        if not re.fullmatch(EXTERNAL_NAME, name):
            raise HashbenchError(f"{field}': a method name of letters, digits, '_', '.' and '-' only")
        if name in registry.methods() or name in cfg["methods"]:
            raise HashbenchError(f"{field}': '{name}' is a registered method; give the outside codes another name")
        fields = {f for _, f, _, _ in string.Formatter().parse(spec["codes"]) if f is not None}
        if not fields <= {"protocol", "bits", "seed"}:
            raise HashbenchError(f"{field}.codes': unknown placeholder(s) {', '.join(sorted(fields - {'protocol', 'bits', 'seed'}))}; "
                                 "expected {protocol}, {bits} and {seed}")
        for key, values in (("protocol", cfg["protocols"]), ("bits", cfg["bits"]), ("seed", cfg["seeds"])):
            if len(values) > 1 and key not in fields:
                raise HashbenchError(f"{field}.codes': needs {{{key}}}: one file per {key} of {values}")


def external_codes(cfg: dict, method: str, protocol: str, bits: int, seed: int) -> str:
    """The code file of an outside method's run (config ``external``)."""
    return cfg["external"][method]["codes"].format(protocol=protocol, bits=int(bits), seed=int(seed))


def table_methods(cfg: dict) -> list[str]:
    """The methods of the tables and figures: the configured ones, then those with outside codes."""
    return [*cfg["methods"], *cfg.get("external", {})]


def _check_training(cfg: dict) -> None:
    """The ``training`` block holds the deep trainer's settings (``DeepHashMethod.TRAINING``) only."""
    from hashbench.deep.method import DeepHashMethod

    for key in cfg["training"]:
        if key in EXECUTION_DEFAULTS:
            raise HashbenchError(f"config field 'training.{key}': an execution setting, which no result depends on: "
                                 f"set execution.{key} instead")
        if key not in DeepHashMethod.TRAINING:
            raise HashbenchError(f"config field 'training.{key}': not a training setting; expected one of "
                                 f"{', '.join(DeepHashMethod.TRAINING)}")
    try:
        DeepHashMethod(**cfg["training"]).validate()
    except HashbenchError as exc:
        raise HashbenchError(f"config field 'training': {exc}") from None


def _check_protocol(name: str, spec: dict) -> None:
    """What the schema cannot say: which keys each kind of source needs."""
    from hashbench.data import sources

    field = f"config field 'protocol_defs.{name}"
    source = sources.SOURCES.get(spec["source"])
    if source is None:
        raise HashbenchError(f"{field}.source': unknown source '{spec['source']}'; "
                             f"expected one of {', '.join(sorted(sources.SOURCES))}")
    for needs in source.needs:
        if needs not in spec:
            raise HashbenchError(f"{field}': source '{spec['source']}' needs '{needs}'")
    if "missing" in spec and not source.files:
        raise HashbenchError(f"{field}.missing': only sources of image files take it, not '{spec['source']}'")
    if source.fixes_split and "split" in spec:
        raise HashbenchError(f"{field}.split': the files of source '{spec['source']}' fix the split; remove 'split'")
    if not source.fixes_split and "split" not in spec:
        raise HashbenchError(f"{field}': source '{spec['source']}' needs 'split' (query and train sizes)")
    if source.composed != ("compose" in spec):
        raise HashbenchError(f"{field}.compose': " + (f"source '{spec['source']}' needs it (query_pool, database)"
                                                     if source.composed else "only composed sources take it ("
                                                     + ", ".join(n for n, s in sources.SOURCES.items() if s.composed) + ")"))
    if source.composed and "unseen" in spec.get("split", {}):
        raise HashbenchError(f"{field}.split.unseen': source '{spec['source']}' fixes query and database; "
                             "hold out classes of a source the split draws from")
    if not source.fixes_split and "query_overlap" in spec:
        fixed = ", ".join(n for n, s in sources.SOURCES.items() if s.fixes_split)
        raise HashbenchError(f"{field}.query_overlap': only sources whose files fix the split ({fixed}) can overlap; "
                             "remove 'query_overlap'")
    if source.files and spec["features"] == "pixels":
        raise HashbenchError(f"{field}.features': 'pixels' needs in-memory images of one size; image files "
                             "need 'alexnet-fc7'")
    pipeline = pipeline_spec(spec.get("pipeline"))
    if pipeline["crop"] > pipeline["resize"]:
        raise HashbenchError(f"{field}.pipeline.crop': {pipeline['crop']} exceeds resize {pipeline['resize']}")


def check_precision_at(cfg: dict, protocol: str, n_database: int, where: str) -> None:
    """Refuse an explicit P@N list with an N beyond the protocol's database, known from ``where``
    (the config's declared size, or a prepared split's split.json), before any run is trained."""
    ns = cfg["evaluation"]["precision_at"] or []
    if ns and max(ns) > n_database:
        raise HashbenchError(f"config field 'evaluation.precision_at': N = {max(ns)} exceeds the {n_database} database "
                             f"items of protocol '{protocol}' ({where}); use Ns up to {n_database}, or null for "
                             "100, 200, ..., 1000 capped to the database")


def read(path) -> dict:
    """A config file's mapping; one line naming the file otherwise."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise HashbenchError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        opened = getattr(exc, "context_mark", None)
        detail = f" ({context} on line {opened.line + 1})" if context and opened is not None else ""
        raise HashbenchError(f"{path}{where}: not valid YAML: {problem}{detail}") from None
    if not isinstance(raw, dict):
        raise HashbenchError(f"{path}: expected a YAML mapping at the top level")
    return raw


def merge(base: dict, override: dict) -> dict:
    """``override`` over ``base`` as Snakemake merges a --configfile or --config over the default
    config: mappings merged key by key, every other value replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def load(*paths) -> dict:
    """The validated config of the files ``paths``, each merged over the ones before it (the default
    config first, then each --configfile, as the workflow does)."""
    cfg: dict = {}
    for path in paths:
        cfg = merge(cfg, read(path))
    return validate(cfg)


def typed_overrides(cfg: dict, overrides: dict) -> dict:
    """``cfg`` with the --config values read as YAML: Snakemake reads a nested value
    (``training={"iterations": 100}``) with YAML's base loader, every leaf a string; each such leaf
    is read again as YAML (100, true, null, 0.5). A string that must stay one though it reads as
    another type (a folder named 2017) goes in a --configfile."""
    out = copy.deepcopy(cfg)

    def retype(value, given):
        if isinstance(given, dict) and isinstance(value, dict):
            return {k: retype(v, given[k]) if k in given else v for k, v in value.items()}
        if isinstance(given, list) and isinstance(value, list) and len(given) == len(value):
            return [retype(v, g) for v, g in zip(value, given)]
        if isinstance(value, str) and value == given:
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
        return value

    for key, given in overrides.items():
        if key in out and isinstance(given, (dict, list)):
            out[key] = retype(out[key], given)
    return out


def method_params(cfg: dict, protocol: str, method: str) -> dict:
    """The method's hyperparameters on ``protocol``: for a deep method the values chosen on validation
    in the tuning record (``tuned_params``), under the config's ``training`` block (the trainer's
    settings, ``DeepHashMethod.TRAINING``), under the global method_params, under the protocol's."""
    from hashbench import registry

    cls = registry.get(method)
    training = cfg.get("training", {}) if cls.is_deep else {}
    params = {**training, **cfg["method_params"].get(method, {}),
              **cfg["protocol_defs"][protocol].get("method_params", {}).get(method, {})}
    if not cls.is_deep:
        return params
    return {**tuned_params(cfg.get("tuning"), protocol, cls, params), **params}


def tuning_file(tuning: str | None) -> Path | None:
    """The tuning record the config's ``tuning`` names: "shipped" (``hashbench.reference.TUNING``), a file, or None."""
    if tuning is None:
        return None
    return reference.TUNING if tuning == "shipped" else Path(tuning)


def read_tuning(tuning: str | None) -> dict | None:
    """The tuning record (``hashbench.stages.tuning``) the config names, read once per file."""
    path = tuning_file(tuning)
    if path is None:
        return None
    key = str(path.resolve())
    if key not in _TUNING_CACHE:
        from hashbench.stages.tuning import load

        _TUNING_CACHE[key] = load(path)
    return _TUNING_CACHE[key]


_TUNING_CACHE: dict[str, dict] = {}


def tuned_params(tuning: str | None, protocol: str, cls, params: dict) -> dict:
    """What the tuning record chose for ``cls`` (a deep method class; its ablations read their
    parent's choice, ``TUNED_AS``) on ``protocol``: applied where the method trains from scratch by
    the recipe the record was made for; {} otherwise, or when the record has no entry for them."""
    record = read_tuning(tuning)
    if record is None or params.get("pretrained", False) or params.get("recipe", "released") != record["recipe"]:
        return {}
    entry = record["protocols"].get(protocol, {}).get(cls.TUNED_AS or cls.name)
    return dict(entry["chosen"]) if entry else {}


# What each output depends on, and nothing else, listed by inclusion: the workflow's rules pass these as
# params, which Snakemake compares to re-make an output whose determinants changed; execution settings
# travel as resources, which it does not compare. ``undeclared_keys`` (a test runs it on the schema)
# names any config key that is neither in an identity below nor declared execution-only.
SPLIT_KEYS = ("source", "root", "lists", "label_file", "image_root", "path_prefix", "missing", "query_overlap", "sizes",
              "labels", "seed", "split", "compose")  # the split is drawn from these, before features or pipeline are read
RUN_PROTOCOL_KEYS = (*SPLIT_KEYS, "features")  # a run's, besides its method's pipeline or features (run_protocol_def)
PIPELINE_EXECUTION = ("cache",)  # how images are read, not which pixels: the cache holds the files' pixels
RUN_PIPELINE_KEYS = tuple(k for k in PIPELINE_DEFAULTS if k not in PIPELINE_EXECUTION)  # a deep run's
# Where every other key counts: each key of a protocol definition, and each top-level block.
PROTOCOL_KEYS_ELSEWHERE = {
    "pipeline": "a deep run's (RUN_PIPELINE_KEYS); a shallow run's fc7 features (FEATURE_PIPELINE)",
    "feature_weights": "a shallow run's fc7 features (features_spec)",
    "topk": "evaluation (eval_spec), selection, tables", "also_topk": "evaluation (eval_spec), tables",
    "paper": "tables (tables_spec)", "method_params": "a run's params (method_params)",
}
TOP_LEVEL_KEYS = {
    "protocols": "which runs", "methods": "which runs", "bits": "which runs; a run's bits",
    "seeds": "which runs; a run's seed", "external": "which runs: codes from outside (external_codes)",
    "protocol_defs": "a run's protocol_def (above)",
    "method_params": "a run's params", "training": "a run's params", "tuning": "a run's params (tuned_params)",
    "evaluation": "evaluation (eval_spec), tables", "tables": "tables (tables_spec)",
    "figures": "figures (figures_spec)", "selection": "selection (selection_spec)",
    "execution": "execution only: no identity",
}


def undeclared_keys(schema: dict) -> list[str]:
    """The config keys of ``schema`` that no identity above lists and none declares execution-only."""
    protocol = schema["properties"]["protocol_defs"]["additionalProperties"]["properties"]
    pipeline = protocol["pipeline"]["properties"]
    return ([k for k in schema["properties"] if k not in TOP_LEVEL_KEYS]
            + [f"protocol_defs.<p>.{k}" for k in protocol if k not in RUN_PROTOCOL_KEYS + tuple(PROTOCOL_KEYS_ELSEWHERE)]
            + [f"protocol_defs.<p>.pipeline.{k}" for k in pipeline if k not in RUN_PIPELINE_KEYS + PIPELINE_EXECUTION]
            + [f"execution.{k}" for k in schema["properties"]["execution"]["properties"] if k not in EXECUTION_DEFAULTS])


def split_spec(cfg: dict, protocol: str) -> dict:
    """What a protocol's dataset and split depend on (``SPLIT_KEYS``): source, lists or label file,
    root and path prefix, sizes, labels, seed, split sizes, overlap policy."""
    spec = cfg["protocol_defs"][protocol]
    return {k: spec[k] for k in SPLIT_KEYS if k in spec}


def cache_spec(cfg: dict, protocol: str) -> dict:
    """What the image cache depends on besides the split's items: the resize."""
    return {"pipeline": {"resize": pipeline_spec(cfg["protocol_defs"][protocol].get("pipeline"))["resize"]}}


def features_spec(cfg: dict, protocol: str) -> dict:
    """What the shallow methods' features depend on besides the split (and the cache and weights
    files, inputs of their rule): the kind and, for fc7 features, the weights and encoding crops."""
    spec = cfg["protocol_defs"][protocol]
    if spec["features"] == "pixels":
        return {"features": "pixels"}
    pipeline = {k: v for k, v in (spec.get("pipeline") or {}).items() if k in FEATURE_PIPELINE}
    return {"features": spec["features"], **{k: spec[k] for k in ("feature_weights",) if spec.get(k) is not None},
            **({"pipeline": pipeline} if pipeline else {})}


def run_protocol_def(cfg: dict, protocol: str, deep: bool) -> dict:
    """The part of a protocol's definition a run of a deep (images through the pipeline) or shallow
    (features) method depends on (``RUN_PROTOCOL_KEYS``, then the pipeline's ``RUN_PIPELINE_KEYS``
    or the features' ``features_spec``); declared keys only, as the config states them."""
    spec = cfg["protocol_defs"][protocol]
    out = {k: spec[k] for k in RUN_PROTOCOL_KEYS if k in spec}
    if deep:
        pipeline = {k: v for k, v in (spec.get("pipeline") or {}).items() if k in RUN_PIPELINE_KEYS}
    else:
        feature = features_spec(cfg, protocol)
        out.update({k: v for k, v in feature.items() if k != "pipeline"})
        pipeline = feature.get("pipeline", {})
    return {**out, **({"pipeline": pipeline} if pipeline else {})}


def run_spec(cfg: dict, protocol: str, method: str, bits: int, seed: int) -> dict:
    """Everything a (protocol, method, bits, seed) training run depends on; its digest is the config hash."""
    from hashbench import registry

    return {
        "protocol": protocol,
        "protocol_def": run_protocol_def(cfg, protocol, registry.get(method).is_deep),
        "method": method,
        "params": method_params(cfg, protocol, method),
        "bits": int(bits),
        "seed": int(seed),
    }


def execution(cfg: dict) -> dict:
    """How jobs run, not what they compute (config block ``execution``): recorded in run.json, part of
    no identity."""
    return dict(cfg["execution"])


def tables_spec(cfg: dict) -> dict:
    """What the tables are built from: the configured runs, each protocol's R and paper dataset."""
    return {
        "protocols": {p: {k: cfg["protocol_defs"][p].get(k) for k in ("topk", "paper", "also_topk")
                          if cfg["protocol_defs"][p].get(k) is not None} for p in cfg["protocols"]},
        "order": cfg["protocols"],  # the column order (the rule passes the spec as JSON with sorted keys)
        "methods": table_methods(cfg), "bits": cfg["bits"], "seeds": cfg["seeds"], "partial": cfg["tables"]["partial"],
        "external": list(cfg.get("external", {})),  # methods whose codes were trained outside hashbench
        "alpha": cfg["tables"]["alpha"], "resamples": cfg["tables"]["resamples"],
        "no_relevant": cfg["evaluation"]["no_relevant"],  # the reproduction report compares like with like
    }


def _at_bits(cfg: dict, block: str) -> int:
    """The code length a figure or a selection is made at: the block's ``bits``, else 64 if configured,
    else the longest."""
    bits = cfg[block]["bits"]
    return bits if bits is not None else (64 if 64 in cfg["bits"] else max(cfg["bits"]))


def selection_spec(cfg: dict, protocol: str, method: str) -> dict | None:
    """What choosing ``method``'s hyperparameters on ``protocol`` depends on (``hashbench.stages.select``),
    or None when the config gives the method no grid."""
    grid = cfg["selection"]["grid"].get(method)
    if not grid:
        return None
    seed = cfg["selection"]["seed"]
    return {**run_spec(cfg, protocol, method, _at_bits(cfg, "selection"), cfg["seeds"][0] if seed is None else seed),
            "grid": grid, "validation": cfg["selection"]["validation"], "topk": cfg["protocol_defs"][protocol]["topk"]}


def output_dirs(cfg: dict, default: dict) -> tuple[str, str]:
    """Where ``cfg``'s tables and figures go: ``tables.out`` and ``figures.out`` where set; else
    ``results`` and ``figures`` when ``cfg`` is the ``default`` config (execution aside), and for
    any other config ``results/<name>`` and ``figures/<name>``, the name listing the top-level keys
    that differ and a digest of the difference, so that an override never writes over the default
    tables. The runs (results/runs/) are shared whatever the config."""
    def identity(c):
        return {k: v for k, v in c.items() if k != "execution"} | {
            "tables": {k: v for k, v in c["tables"].items() if k != "out"},
            "figures": {k: v for k, v in c["figures"].items() if k != "out"}}

    ours, theirs = identity(cfg), identity(default)
    differs = [k for k in TOP_LEVEL_KEYS if k in ours and ours[k] != theirs.get(k)]  # in the schema's order
    name = "-".join(differs[:4]) + f"-{settings.digest({k: ours[k] for k in differs})[:6]}" if differs else ""
    tables, figures = cfg["tables"]["out"], cfg["figures"]["out"]
    return (tables if tables is not None else "/".join(filter(None, ("results", name))),
            figures if figures is not None else "/".join(filter(None, ("figures", name))))


def figures_spec(cfg: dict, protocol: str) -> dict:
    """What one protocol's figures are drawn from: at_bits (figures.bits, else 64 if configured, else the
    longest), seed (figures.seed, else the first configured) and the configured deep methods among
    figures.methods (loss curves, histograms, t-SNE; none of those figures without one)."""
    from hashbench import registry

    fig = cfg["figures"]
    at_bits = _at_bits(cfg, "figures")
    deep = [m for m in fig["methods"] if m in cfg["methods"] and registry.get(m).is_deep]
    return {
        "protocol": protocol, "methods": table_methods(cfg), "bits": cfg["bits"],
        "seed": fig["seed"] if fig["seed"] is not None else cfg["seeds"][0], "at_bits": at_bits,
        "deep_methods": deep, "tsne_points": fig["tsne_points"], "partial": cfg["tables"]["partial"],
    }


def imbalance_spec(cfg: dict) -> dict:
    """What the imbalance figure (``hashbench.stages.imbalance``) is drawn from."""
    tables = tables_spec(cfg)  # the same runs and the same test as the tables
    return {"protocols": cfg["protocols"], **{k: tables[k] for k in ("bits", "seeds", "partial", "alpha", "resamples")}}


def eval_spec(cfg: dict, protocol: str) -> dict:
    """What evaluating a run of ``protocol`` depends on: R of MAP@R (and more R) and the evaluation options."""
    pdef = cfg["protocol_defs"][protocol]
    return {"topk": pdef["topk"], **({"also_topk": pdef["also_topk"]} if pdef.get("also_topk") else {}),
            **cfg["evaluation"]}
