"""The paper's figures from stored runs (HashNet Figs. 2-8), as PNG and PDF with their data as CSV.

  precision  (a) P@H<=2 against bits, (b) precision-recall by Hamming radius, (c) P@N (Figs. 2-4)
  search     recall against the fraction of the database a radius-r hash lookup examines (not in
             the paper: what a search costs)
  loss       J(g) on continuous and L(h) on binary codes through training (Fig. 6)
  histogram  |g| of the database's non-binarized codes, 100 bins on [0, 1], sqrt frequency (Fig. 7)
  tsne       t-SNE of database codes on up to 10 classes (Fig. 8)
Each figure's data sits beside it as <name>.csv (panel, series, x, y). A method keeps one colour and
marker in every figure. Figures show one seed (the first configured unless asked otherwise).
"""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

import numpy as np

from hashbench import io, registry
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.layout import CODES, CONTINUOUS, RUN_RECORD
from hashbench.stages import stored

_MARKERS = "od^vs<>ph*DPX"


def style(method: str) -> dict:
    """One colour and marker per method, the same in every figure: the method's ``STYLE``, else
    (a plugin that sets none) one derived from its name."""
    cls = registry.methods().get(method)
    if cls is not None and cls.STYLE is not None:
        color, marker = cls.STYLE
    else:
        h = zlib.crc32(method.encode())
        import matplotlib

        color, marker = matplotlib.colormaps["tab20b"](h % 20), _MARKERS[h // 20 % len(_MARKERS)]
    return {"color": color, "marker": marker, "label": method}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def precision_figure(runs: dict, methods: list[str], bits: list[int], at_bits: int):
    """runs: {(method, bits): metrics}. Returns (figure, data rows)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 4.2))
    rows = []
    for method in methods:
        st = style(method)
        xs = [b for b in bits if (method, b) in runs]
        ys = [runs[method, b]["p_h2"] for b in xs]
        axes[0].plot(xs, ys, markersize=6, **st)
        rows += [("p_h2", method, x, y) for x, y in zip(xs, ys)]
        m = runs.get((method, at_bits))
        if m is None:
            continue
        pr = m["pr_curve"]
        axes[1].plot(pr["recall"], pr["precision"], markersize=4, markevery=max(1, len(pr["recall"]) // 8), **st)
        rows += [("pr", method, r, p) for r, p in zip(pr["recall"], pr["precision"])]
        n = sorted(m["precision_at_n"], key=int)
        axes[2].plot([int(k) for k in n], [m["precision_at_n"][k] for k in n], markersize=5, **st)
        rows += [("p_at_n", method, int(k), m["precision_at_n"][k]) for k in n]
    labels = [("(a) Precision within Hamming radius 2", "Number of bits", "Precision (Hamming dist. <= 2)"),
              (f"(b) Precision-recall curve @ {at_bits} bits", "Recall", "Precision"),
              (f"(c) Precision curve w.r.t. top-N @ {at_bits} bits", "Number of top returned images", "Precision")]
    for ax, (title, xlabel, ylabel) in zip(axes, labels):
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_xticks(bits)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.89, 1))
    return fig, rows


def search_figure(runs: dict, methods: list[str], at_bits: int):
    """Recall against the fraction of the database a radius-r lookup examines, r = 0..K, at
    ``at_bits`` (ann-benchmarks' recall / cost view of a hash table). runs: {(method, bits): metrics}."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    rows = []
    for method in methods:
        m = runs.get((method, at_bits))
        if m is None:
            continue
        pr = m["pr_curve"]
        if "examined" not in pr:
            raise HashbenchError(f"the metrics of ({method}, {at_bits} bits) have no pr_curve.examined (written by "
                                 "an older hashbench); re-run their evaluation: snakemake -R evaluate ...")
        ax.plot(pr["examined"], pr["recall"], markersize=4, **style(method))
        rows += [("search", method, e, r) for e, r in zip(pr["examined"], pr["recall"])]
    ax.set_xscale("log")
    ax.set(title=f"Hash lookup within radius r = 0..K @ {at_bits} bits", xlabel="Fraction of the database examined",
           ylabel="Recall of the relevant items")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, rows


def loss_figure(histories: dict):
    """histories: {method: [[iteration, J(g), L(h)], ...]}. One panel per method."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(histories), figsize=(5 * len(histories), 4), squeeze=False)
    rows = []
    for ax, (method, history) in zip(axes[0], histories.items()):
        h = np.asarray(history, dtype=float)
        ax.plot(h[:, 0], h[:, 1], label="J(g): continuous codes", color=style(method)["color"])
        ax.plot(h[:, 0], h[:, 2], label="L(h): binary codes", color="0.3", alpha=0.8)
        ax.set(title=f"{method}", xlabel="Iteration", ylabel="Loss")
        ax.legend(fontsize=8)
        rows += [(method, series, it, v) for it, j, l_ in h for series, v in (("J(g)", j), ("L(h)", l_))]
    fig.tight_layout()
    return fig, rows


def histogram_figure(continuous: dict, n_bins: int = 100):
    """continuous: {method: non-binarized database codes}. Bars are sqrt(frequency) of |g| on [0, 1]."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(continuous), figsize=(5 * len(continuous), 4), squeeze=False)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for ax, (method, g) in zip(axes[0], continuous.items()):
        counts, _ = np.histogram(np.clip(np.abs(g), 0.0, 1.0), bins=edges)
        ax.bar(edges[:-1], np.sqrt(counts), width=np.diff(edges), align="edge", color=style(method)["color"])
        ax.set(title=method, xlabel="|non-binarized code|", ylabel="sqrt(frequency)", xlim=(0, 1))
        rows += [(method, "count", float(x), int(c)) for x, c in zip(edges[:-1], counts)]
    fig.tight_layout()
    return fig, rows


def tsne_points(labels: np.ndarray, n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to n_points items (seeded) carrying exactly one of the 10 most frequent classes: their indices
    and which of those classes (0..9) they carry."""
    top = np.argsort(-labels.sum(axis=0), kind="stable")[:10]
    eligible = np.flatnonzero(labels[:, top].sum(axis=1) == 1)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(eligible, min(n_points, eligible.size), replace=False))
    return index, labels[index][:, top].argmax(axis=1)


def tsne_figure(codes: dict, labels: np.ndarray, n_points: int, seed: int):
    """codes: {method: binary database codes}; t-SNE (scikit-learn, seeded) of the same items per method."""
    from sklearn.manifold import TSNE

    plt = pyplot()
    index, classes = tsne_points(labels, n_points, seed)
    fig, axes = plt.subplots(1, len(codes), figsize=(5 * len(codes), 5), squeeze=False)
    rows = []
    for ax, (method, c) in zip(axes[0], codes.items()):
        perplexity = min(30.0, (index.size - 1) / 3)
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
            c[index].astype(np.float32))
        ax.scatter(xy[:, 0], xy[:, 1], c=classes, cmap="tab10", s=6, vmin=0, vmax=9)
        ax.set(title=method, xticks=[], yticks=[])
        rows += [(method, int(k), float(x), float(y)) for k, (x, y) in zip(classes, xy)]
    fig.tight_layout()
    return fig, rows


def save(fig, rows, out_dir, name: str, header=("panel", "series", "x", "y")) -> list[Path]:
    """Write <name>.png, <name>.pdf and <name>.csv (``header``, then ``rows``) atomically; close the figure."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = out_dir / f"{name}.{ext}"
        with io.atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120)
        paths.append(path)
    with io.atomic_path(out_dir / f"{name}.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    pyplot().close(fig)
    return paths + [out_dir / f"{name}.csv"]


def build(spec: dict, metrics_files, run_dirs, data_dir, out_dir) -> list[Path]:
    """Every figure of one protocol from its runs' metrics files and the folders of the deep runs
    (``run_dirs``: run.json, codes.npz, continuous.npz) of the figure methods at the figure length
    and seed. spec: protocol, methods, bits, seed, at_bits, deep_methods, tsne_points, partial
    (draw the runs that exist instead of failing on a missing one)."""
    protocol, seed, at_bits = spec["protocol"], spec["seed"], spec["at_bits"]
    found, *_ = stored.collect(metrics_files, [protocol], spec["methods"], spec["bits"], [seed], spec.get("partial"))
    runs = {(m, b): metrics for (_, m, b, _), metrics in found.items()}
    paths = save(*precision_figure(runs, spec["methods"], spec["bits"], at_bits), out_dir, "precision")
    paths += save(*search_figure(runs, spec["methods"], at_bits), out_dir, "search")
    dirs = {}
    for d in map(Path, run_dirs):
        run = io.read_json(d / RUN_RECORD)["spec"]
        if (run["protocol"], run["bits"], run["seed"]) == (protocol, at_bits, seed) and run["method"] in spec["deep_methods"]:
            dirs[run["method"]] = d
    deep = [m for m in spec["deep_methods"] if m in dirs and (m, at_bits) in runs]
    if not deep:
        return paths
    dirs = {m: dirs[m] for m in deep}
    histories = {m: io.read_json(d / RUN_RECORD)["loss_history"] for m, d in dirs.items()}
    paths += save(*loss_figure(histories), out_dir, "loss")
    continuous = {m: io.load_npz(d / CONTINUOUS, ("database",))["database"] for m, d in dirs.items()}
    paths += save(*histogram_figure(continuous), out_dir, "histogram")
    data = splits.load(data_dir)
    codes = {m: io.load_codes(d / CODES)[1] for m, d in dirs.items()}
    labels = data.labels[data.split["database"]]
    paths += save(*tsne_figure(codes, labels, spec["tsne_points"], seed), out_dir, "tsne")
    return paths
