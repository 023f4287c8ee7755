"""The ``hashbench`` command line; the workflow's rules are thin calls to these subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path
import json
import logging
import sys

from hashbench.errors import HashbenchError


def _json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _prepare(args):
    from hashbench.data import splits

    splits.prepare(args.protocol, args.spec, args.out)


def _workers(text: str) -> int | None:
    if text == "auto":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer or 'auto', got {text!r}")
    return int(text)


# Each execution setting (``hashbench.settings.EXECUTION_DEFAULTS``) as a job's option; the workflow
# passes them as resources (``job_options``, ``job_resources``): jobs that read images without training
# take the ``LOADER_SETTINGS``, training and selection jobs all of them.
EXECUTION_OPTIONS = {
    "device": {"choices": ("auto", "cpu", "cuda")},
    "workers": {"type": _workers, "help": "image loader processes, or 'auto': one per thread"},
    "checkpoint_every": {"type": int, "help": "iterations between a deep training's checkpoints"},
    "history_every": {"type": int, "help": "iterations between the loss history's rows"},
}
LOADER_SETTINGS = ("device", "workers")


def job_options(keys=tuple(EXECUTION_OPTIONS)) -> str:
    """The command-line options of the execution settings ``keys``, each read from the rule's resources."""
    return " ".join(f"--{key.replace('_', '-')} {{resources.run_{key}}}" for key in keys)


def job_resources(execution: dict) -> dict:
    """The config's execution block as the rules' resources (null workers: 'auto')."""
    return {f"run_{key}": "auto" if value is None else value for key, value in execution.items()}


def _execution(args, keys=tuple(EXECUTION_OPTIONS)) -> dict:
    """The execution settings of a job, from its options."""
    return {key: getattr(args, key) for key in keys}


def _add_execution(s, training: bool) -> None:
    """The execution options; ``training``: all of them, else the loaders' (``LOADER_SETTINGS``)."""
    from hashbench.settings import EXECUTION_DEFAULTS

    for key in EXECUTION_OPTIONS if training else LOADER_SETTINGS:
        s.add_argument(f"--{key.replace('_', '-')}", default=EXECUTION_DEFAULTS[key], **EXECUTION_OPTIONS[key])
    s.add_argument("--weights", default=None, help="the pretrained weights file (rule pretrained_weights)")


def _features(args):
    from hashbench.stages import features

    features.write_features(args.data, args.spec, args.out, args.threads, _execution(args, LOADER_SETTINGS),
                            args.weights)


def _cache_images(args):
    from hashbench.stages import features

    features.write_image_cache(args.data, args.spec, args.out, args.threads, args.workers)


def _weights(args):
    from hashbench.deep import weights

    weights.fetch(args.backbone, args.out)


def _train(args):
    from hashbench.stages import train

    train.train(args.spec, args.data, args.out, args.threads, args.selection, _execution(args), args.weights)


def _select(args):
    from hashbench.stages import select

    select.select(args.spec, args.data, args.out, args.threads, _execution(args), args.weights)


def _evaluate(args):
    from hashbench.stages import evaluate

    evaluate.evaluate(args.run, args.data, args.spec, args.out, args.per_query)


def _export_split(args):
    from hashbench.stages import external

    record = external.export_split(args.data, args.out)
    print(f"{args.out}: {record['protocol']} " + ", ".join(f"{n} {s}" for n, s in record["sizes"].items()))


def _import_codes(args):
    from hashbench.stages import external

    external.import_codes(args.codes, args.data, args.out, args.method, args.bits, args.seed)


def _score(args):
    from hashbench import config, layout
    from hashbench.data import splits
    from hashbench.stages import evaluate, external

    data = splits.load(args.data)
    protocol = data.protocol
    files = [args.default, *args.configfile]
    cfg = config.load(*files)
    if protocol not in cfg["protocol_defs"]:
        raise HashbenchError(f"{args.data}: protocol '{protocol}' is not defined in {', '.join(files)}")
    bits = external.read_codes(args.codes, data)["query"].shape[1]  # the file's length
    out = Path(args.out) if args.out else layout.run_dir(protocol, args.method, bits, args.seed, root="results/scored")
    external.import_codes(args.codes, args.data, out, args.method, bits, args.seed)
    metrics = evaluate.evaluate(out, args.data, config.eval_spec(cfg, protocol), out / layout.METRICS,
                                out / layout.PER_QUERY)
    print(f"{protocol} {args.method} {bits} bits seed {args.seed}: MAP@{metrics['topk']} {metrics['map']:.4f} "
          f"(tie-aware {metrics['map_tie_aware']:.4f}), P@H<=2 {metrics['p_h2']:.4f}; {out}/{layout.METRICS}")


def _tables(args):
    from hashbench.stages import claims, published, reproduction, tables

    spec = {**args.spec, "partial": args.partial or args.spec.get("partial", False)}
    tables.build(spec, args.metrics, args.out)
    claims.build(spec, args.metrics, args.out)
    published.build(spec, args.metrics, args.out)
    reproduction.build(spec, args.metrics, args.out)


def _page(args):
    from hashbench.stages import page

    print(page.build(args.tables, args.figures, args.out))


def _reference(args):
    from hashbench.stages import reproduction

    for path in reproduction.write_reference(args.spec, args.metrics, args.out):
        print(path)


def _imbalance(args):
    from hashbench.stages import imbalance

    imbalance.build({**args.spec, "partial": args.partial or args.spec.get("partial", False)}, args.metrics,
                    args.data, args.out)


def _figures(args):
    from hashbench.stages import figures

    figures.build({**args.spec, "partial": args.partial or args.spec.get("partial", False)}, args.metrics,
                  args.runs, args.data, args.out)


def _tuning_record(args):
    from hashbench.stages import tuning

    tuning.build(args.selections, args.recipe, args.out)
    print(args.out)


def _methods(args):
    from hashbench import registry

    for name, cls in sorted(registry.methods().items()):
        kind = "supervised" if cls.supervised else "unsupervised"
        print(f"{name:12s} {kind:12s} {cls.__module__}  {cls.hyperparameters()}")
    for where, error in registry.broken().items():
        print(f"not loaded: {where}: {error}", file=sys.stderr)


def _check_config(args):
    from hashbench import config

    files = [args.default, *(f for f in args.config if Path(f).resolve() != Path(args.default).resolve())]
    config.load(*files)
    print(f"{' + '.join(map(str, files))}: ok")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hashbench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("prepare", help="build a protocol's dataset and shared split")
    s.add_argument("--protocol", required=True)
    s.add_argument("--spec", required=True, type=_json_arg, help="the protocol definition as JSON")
    s.add_argument("--out", required=True, help="output folder, data/<protocol>")
    s.set_defaults(func=_prepare)

    for name, what, out, func in [
            ("features", "compute a prepared protocol's features (its 'features' kind)",
             "data/<protocol>/features-<kind>.npy", _features),
            ("cache-images", "decode and resize a prepared protocol's image files once",
             "data/<protocol>/images-<resize>.npy", _cache_images)]:
        s = sub.add_parser(name, help=what)
        s.add_argument("--data", required=True)
        s.add_argument("--spec", required=True, type=_json_arg, help="the protocol definition as JSON")
        s.add_argument("--out", required=True, help=f"the file to write, {out}")
        s.add_argument("--threads", type=int, default=None, help="CPU threads: image loader processes")
        _add_execution(s, training=False)
        s.set_defaults(func=func)

    s = sub.add_parser("weights", help="fetch a backbone's ImageNet weights from torchvision into a file")
    s.add_argument("--backbone", required=True)
    s.add_argument("--out", required=True, help="the file to write, data/weights/<backbone>-imagenet.pt")
    s.set_defaults(func=_weights)

    s = sub.add_parser("train", help="fit one (protocol, method, bits, seed) run and store its codes")
    s.add_argument("--spec", required=True, type=_json_arg, help="the run spec as JSON (hashbench.config.run_spec)")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--threads", type=int, default=None, help="CPU threads: BLAS, numba and torch, and the image loader processes of deep methods")
    s.add_argument("--selection", default=None, help="a selection.json whose chosen hyperparameters the run uses")
    _add_execution(s, training=True)
    s.set_defaults(func=_train)

    s = sub.add_parser("select", help="choose a method's hyperparameters from a grid on a validation hold-out")
    s.add_argument("--spec", required=True, type=_json_arg,
                   help="the selection spec as JSON (hashbench.config.selection_spec)")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="the selection.json to write")
    s.add_argument("--threads", type=int, default=None, help="CPU threads: BLAS, numba and torch")
    _add_execution(s, training=True)
    s.set_defaults(func=_select)

    s = sub.add_parser("evaluate", help="compute every metric of a stored run")
    s.add_argument("--run", required=True)
    s.add_argument("--data", required=True)
    s.add_argument("--spec", required=True, type=_json_arg,
                   help="evaluation options as JSON (hashbench.config.eval_spec): topk, no_relevant, precision_at")
    s.add_argument("--out", required=True, help="the metrics.json to write")
    s.add_argument("--per-query", required=True, help="the per_query.npz to write (each query's AP)")
    s.add_argument("--threads", type=int, default=None, help="CPU threads of the evaluation kernel")
    s.set_defaults(func=_evaluate)

    s = sub.add_parser("export-split", help="write a prepared protocol's train, query and database items (ids, "
                                            "labels, images) for code outside hashbench (hashbench/stages/external.py)")
    s.add_argument("--data", required=True, help="the prepared protocol's folder, data/<protocol>")
    s.add_argument("--out", required=True, help="the folder to write: train.txt, query.txt, database.txt, split.npz")
    s.set_defaults(func=_export_split)

    s = sub.add_parser("score", help="score codes trained outside hashbench (.npz or .npy, in the exported order or "
                                     "keyed by item id) with the workflow's metrics")
    s.add_argument("--data", required=True, help="the prepared protocol's folder, data/<protocol>")
    s.add_argument("--codes", required=True, help="the code file of one length and seed")
    s.add_argument("--method", default="external", help="the name the run is stored under (default: external)")
    s.add_argument("--seed", type=int, default=0, help="the seed the codes were trained with (default 0)")
    s.add_argument("--configfile", nargs="*", default=[], help="config files merged over --default, as the workflow "
                                                               "merges them (the protocol's R and metric options)")
    s.add_argument("--default", default="config/config.yaml", help="the default config (the workflow's configfile)")
    s.add_argument("--out", default=None, help="the run folder to write (default: "
                                               "results/scored/<protocol>/<method>/<bits>bits/seed<seed>)")
    s.set_defaults(func=_score)

    s = sub.add_parser("import-codes", help="store codes trained outside hashbench as a run (the workflow's "
                                            "external_codes rule)")
    s.add_argument("--codes", required=True)
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True, help="the run folder: codes.npz and run.json")
    s.add_argument("--method", required=True)
    s.add_argument("--bits", type=int, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.set_defaults(func=_import_codes)

    s = sub.add_parser("tables", help="Tables 1 and 2 (.csv, .md), metrics.csv and the reproduction report "
                                      "(reproduction.csv, .md) from the stored runs")
    s.add_argument("--spec", required=True, type=_json_arg,
                   help="protocols ({name: {topk, paper}}), methods, bits, seeds as JSON (hashbench.config.tables_spec)")
    s.add_argument("--metrics", nargs="*", default=[], help="the runs' metrics.json files")
    s.add_argument("--out", default="results", help="output folder (default: results)")
    s.add_argument("--partial", action="store_true", help="mark missing runs instead of failing")
    s.set_defaults(func=_tables)

    s = sub.add_parser("page", help="one self-contained HTML page of the tables, figures, cost per method and run "
                                    "records (hashbench/stages/page.py)")
    s.add_argument("--tables", required=True, help="the tables' folder (config tables.out)")
    s.add_argument("--figures", nargs="*", default=[], help="the figures' PNG files")
    s.add_argument("--out", required=True, help="the page to write, <tables>/index.html")
    s.set_defaults(func=_page)

    s = sub.add_parser("reference", help="the reference run of each protocol (<protocol>.json, .npz) from the "
                                         "stored runs, for hashbench/reference/runs")
    s.add_argument("--spec", required=True, type=_json_arg, help="as for tables (hashbench.config.tables_spec)")
    s.add_argument("--metrics", nargs="*", default=[], help="the runs' metrics.json files")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_reference)

    s = sub.add_parser("figures", help="one protocol's figures (PNG, PDF, CSV) from the stored runs")
    s.add_argument("--spec", required=True, type=_json_arg,
                   help="protocol, methods, bits, seed, at_bits, deep_methods, tsne_points as JSON "
                        "(hashbench.config.figures_spec)")
    s.add_argument("--metrics", nargs="*", default=[], help="the runs' metrics.json files")
    s.add_argument("--runs", nargs="*", default=[],
                   help="the folders of the figure methods' deep runs (run.json, codes.npz, continuous.npz)")
    s.add_argument("--data", required=True, help="the protocol's data folder (labels for t-SNE)")
    s.add_argument("--out", required=True, help="output folder, figures/<protocol>")
    s.add_argument("--partial", action="store_true", help="draw the runs that exist instead of failing")
    s.set_defaults(func=_figures)

    s = sub.add_parser("imbalance", help="HashNet's advantage over HashNet-W against each protocol's pair ratio")
    s.add_argument("--spec", required=True, type=_json_arg,
                   help="protocols, bits, seeds, alpha, resamples as JSON (hashbench.config.imbalance_spec)")
    s.add_argument("--metrics", nargs="*", default=[], help="the HashNet and HashNet-W runs' metrics.json files")
    s.add_argument("--data", nargs="+", required=True, help="the protocols' data folders")
    s.add_argument("--out", required=True, help="output folder (figures)")
    s.add_argument("--partial", action="store_true", help="draw the runs that exist instead of failing")
    s.set_defaults(func=_imbalance)

    s = sub.add_parser("doc-tables", help="rewrite the README's and docs' generated tables and numbers from the shipped "
                                          "reference runs (hashbench/stages/doc_tables.py, doc_values.py)")
    s.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    s.add_argument("--check", action="store_true", help="change nothing; exit 2 naming the first table or number "
                                                        "that differs")
    s.set_defaults(func=_doc_tables)

    s = sub.add_parser("tuning-record", help="gather selection.json files into a tuning record (make tune; "
                                             "hashbench/stages/tuning.py)")
    s.add_argument("selections", nargs="+", help="the selection.json files, one per (protocol, method)")
    s.add_argument("--recipe", default="released", help="the training recipe the choices were made for")
    s.add_argument("--out", required=True, help="the record to write")
    s.set_defaults(func=_tuning_record)

    s = sub.add_parser("methods", help="list registered methods and their hyperparameters")
    s.set_defaults(func=_methods)

    s = sub.add_parser("check-config", help="validate config files merged over the default config, as the workflow "
                                            "merges --configfile files")
    s.add_argument("config", nargs="+", help="config files, merged in this order over --default")
    s.add_argument("--default", default="config/config.yaml", help="the default config (the workflow's configfile)")
    s.set_defaults(func=_check_config)
    return p


def _doc_tables(args):
    from hashbench.stages import doc_tables

    for path in doc_tables.update(args.root, args.check):
        print(f"rewrote {path}")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        from hashbench import threads

        threads.limit(getattr(args, "threads", None))  # every step that takes --threads keeps to them
        args.func(args)
    except HashbenchError as exc:
        print(f"hashbench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read or write the stages do not wrap: the file and the cause, in one line
        print(f"hashbench: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
