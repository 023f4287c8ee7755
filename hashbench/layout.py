"""The file layout of a benchmark, spelled once: the workflow's rules declare these paths and the
stages read and write them. Directory templates use Snakemake's ``{wildcard}`` syntax; the names
of the files inside a directory are constants, joined by the rules (``f"{DATA_DIR}/{SPLIT}"``) and
by the stages (``Path(data_dir) / SPLIT``).

  data/<protocol>/                     DATA_DIR: one protocol's data (``hashbench.data.splits``)
    dataset.npz, split.npz, split.json   the items, the shared split and its checksum
    features-<kind>.npy, .json           the shallow methods' features and their metadata (weights' sha256)
    images-<resize>.npy                  image files decoded and resized once (the image cache)
  results/runs/<p>/<m>/<b>bits/seed<s>/  RUN_DIR: one run
    codes.npz, run.json, metrics.json, per_query.npz (each query's AP), continuous.npz (deep methods),
    checkpoint.pt (while training)
  data/weights/<backbone>-imagenet.pt  WEIGHTS: torchvision's ImageNet weights, fetched once (rule pretrained_weights)
  results/selection/<p>/<m>.json       SELECTION: hyperparameters chosen on a validation hold-out
                        <m>.work/      its working folder while it runs (scores, checkpoints)
  results/export/<p>/                  EXPORT_DIR: the split for code outside hashbench (train.txt, query.txt,
                                       database.txt, split.npz, export.json; snakemake export)
  results/table1.csv|md, table2.csv|md, metrics.csv   (the folder: config tables.out, default results)
  results/reproduction.csv|md          the cells against the shipped reference run (hashbench/reference/runs)
  results/published.csv|md, index.html   values reported elsewhere beside ours; the one results page
  results/reference/<protocol>.json|npz   the configured runs as a reference run (snakemake reference)
  figures/<protocol>/<figure>.png|pdf|csv   FIGURE_DIR (the folder: config figures.out, default figures)
  figures/imbalance.png|pdf|csv        IMBALANCE_FIGURE: HashNet - HashNet-W against the pair ratio
  logs/<step>/...log                   one log per job
  benchmarks/<step>/...tsv             one wall-time and memory record per job
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = "data/{protocol}"
DATASET, SPLIT, SPLIT_META = "dataset.npz", "split.npz", "split.json"
FEATURES = "features-{kind}.npy"
FEATURES_META = "features-{kind}.json"
WEIGHTS = "data/weights/{backbone}-imagenet.pt"
IMAGE_CACHE = "images-{resize}.npy"

RUNS = "results/runs"
RUN_SUBDIR = "{protocol}/{method}/{bits}bits/seed{seed}"
RUN_DIR = f"{RUNS}/{RUN_SUBDIR}"
CODES, RUN_RECORD, METRICS, PER_QUERY = "codes.npz", "run.json", "metrics.json", "per_query.npz"
CONTINUOUS, CHECKPOINT = "continuous.npz", "checkpoint.pt"
SELECTION = "results/selection/{protocol}/{method}.json"
EXPORT_DIR = "results/export/{protocol}"  # a split for code outside hashbench (hashbench.stages.external):
EXPORT_ARRAYS, EXPORT_META = "split.npz", "export.json"  # <set>.txt list files beside these

TABLES = ("table1", "table2")  # MAP, tested per column (hashbench.stages.tables)
METRIC_TABLES = ("table1-ph2", "table1-pn")  # Table 1's methods under P@H<=2 and P@N
METRICS_TABLE = "metrics.csv"
CLAIMS = "claims"  # the paper's claims tested on the runs (.csv, .md; hashbench.stages.claims)
PUBLISHED = "published"  # values reported elsewhere beside ours (.csv, .md; hashbench.stages.published)
PAGE = "index.html"  # one results page beside the tables (hashbench.stages.page)

FIGURE_DIR = "{out}/{protocol}"  # out: config figures.out, default figures
METRIC_FIGURES = ("precision", "search")  # drawn from the runs' metrics
DEEP_FIGURES = ("loss", "histogram", "tsne")  # drawn from the stored outputs of deep runs
FIGURES = METRIC_FIGURES + DEEP_FIGURES
FIGURE_FORMATS = ("png", "pdf", "csv")
IMBALANCE_FIGURE = "figures/imbalance"  # across protocols: HashNet's weighting against the pair ratio

LOGS = {
    "prepare": "logs/prepare/{protocol}.log",
    "image_cache": "logs/image_cache/{protocol}-{resize}.log",
    "features": "logs/features/{protocol}-{kind}.log",
    "weights": "logs/weights/{backbone}.log",
    "select": "logs/select/{protocol}/{method}.log",
    "train": f"logs/train/{RUN_SUBDIR}.log",
    "evaluate": f"logs/evaluate/{RUN_SUBDIR}.log",
    "external": f"logs/external/{RUN_SUBDIR}.log",
    "export": "logs/export/{protocol}.log",
    "tables": "logs/tables.log",
    "page": "logs/page.log",
    "reference": "logs/reference.log",
    "tuning": "logs/tuning.log",
    "figures": "logs/figures/{protocol}.log",
    "imbalance": "logs/figures/imbalance.log",
}


def benchmark_file(step: str) -> str:
    """Where Snakemake's benchmark directive records a job's wall time and memory: beside its log,
    under benchmarks/ (``bench/workflow_times.py`` sums them per rule)."""
    return "benchmarks/" + LOGS[step].removeprefix("logs/").removesuffix(".log") + ".tsv"


def run_dir(protocol: str, method: str, bits: int, seed: int, root=RUNS) -> Path:
    """Where a (protocol, method, bits, seed) run lives under ``root`` (default: results/runs)."""
    return Path(root) / RUN_SUBDIR.format(protocol=protocol, method=method, bits=int(bits), seed=int(seed))


def features_file(kind: str) -> str:
    return FEATURES.format(kind=kind)


def features_meta_file(kind: str) -> str:
    return FEATURES_META.format(kind=kind)


def weights_file(backbone: str) -> str:
    return WEIGHTS.format(backbone=backbone)


def image_cache_file(resize: int) -> str:
    return IMAGE_CACHE.format(resize=int(resize))


def figure_names(deep: bool) -> tuple[str, ...]:
    """The figures of a protocol: precision and search cost always; loss, histogram and t-SNE with a
    deep figure method."""
    return FIGURES if deep else METRIC_FIGURES
