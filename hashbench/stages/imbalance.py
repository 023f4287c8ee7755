"""HashNet's advantage over HashNet-W against the imbalance of the training pairs (beyond the paper).

HashNet's claim is that its weighted loss matters more as dissimilar pairs outnumber similar ones.
For every configured protocol this stage measures the dissimilar:similar ratio of the training split
(``hashbench.data.composed.pair_ratio``) and, at every code length, MAP(HashNet) - MAP(HashNet-W):
the mean and sample std over the seeds (the two methods' runs paired by seed), and the p-value of
the tables' paired randomization test over the queries on the seed-averaged per-query AP
(``hashbench.stats``). Written as figures/imbalance.png, .pdf and .csv.
"""

from __future__ import annotations

import numpy as np

from hashbench import stats
from hashbench.data import composed, splits
from hashbench.stages import stored

WEIGHTED, UNWEIGHTED = "HashNet", "HashNet-W"
COLUMNS = ("protocol", "ratio", "bits", "map_hashnet", "map_hashnet_w", "advantage_mean", "advantage_std",
           "p_value", "seeds")


def ratios(data_dirs) -> dict[str, float]:
    """Each prepared protocol's dissimilar:similar ratio over its training pairs, by protocol name."""
    out = {}
    for directory in data_dirs:
        data = splits.load(directory)
        out[data.protocol] = composed.pair_ratio(data.labels[data.split["train"]])
    return out


def rows(spec: dict, metrics_files, data_dirs) -> list[tuple]:
    """One row (COLUMNS) per (protocol, bits), protocols by increasing ratio."""
    found, _, folders = stored.collect(metrics_files, spec["protocols"], [WEIGHTED, UNWEIGHTED], spec["bits"],
                                       spec["seeds"], spec.get("partial", False))
    by_protocol = ratios(data_dirs)
    out = []
    for protocol in sorted(spec["protocols"], key=lambda p: by_protocol[p]):
        for bits in spec["bits"]:
            seeds = [s for s in spec["seeds"]
                     if (protocol, WEIGHTED, bits, s) in found and (protocol, UNWEIGHTED, bits, s) in found]
            if not seeds:
                continue
            maps = {m: np.array([found[protocol, m, bits, s]["map"] for s in seeds]) for m in (WEIGHTED, UNWEIGHTED)}
            gap = maps[WEIGHTED] - maps[UNWEIGHTED]
            per_query = {m: stored.seed_averaged_ap(folders[protocol, m, bits, s] for s in seeds)
                         for m in (WEIGHTED, UNWEIGHTED)}
            p = stats.paired_randomization_test(per_query[WEIGHTED], per_query[UNWEIGHTED], spec["resamples"])
            out.append((protocol, by_protocol[protocol], bits, maps[WEIGHTED].mean(), maps[UNWEIGHTED].mean(),
                        gap.mean(), gap.std(ddof=1) if gap.size > 1 else float("nan"), p, len(seeds)))
    return out


def figure(table: list[tuple], alpha: float):
    from hashbench.stages.figures import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    bits = sorted({r[2] for r in table})
    for i, b in enumerate(bits):
        part = [r for r in table if r[2] == b]
        x = np.array([r[1] for r in part]) * 1.04 ** (i - (len(bits) - 1) / 2)  # side by side at each ratio
        y, err = np.array([r[5] for r in part]), np.nan_to_num(np.array([r[6] for r in part]))
        line = ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{b} bits")
        significant = np.array([r[7] < alpha for r in part])
        ax.scatter(x[significant], y[significant], s=90, facecolors="none", edgecolors=line[0].get_color())
    for protocol, ratio in sorted({(r[0], r[1]) for r in table}, key=lambda t: t[1]):
        ax.annotate(f"{protocol}\n{ratio:.1f}:1", (ratio, 1), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="dissimilar : similar training pairs", ylabel="MAP(HashNet) - MAP(HashNet-W)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title=f"mean ± std over seeds; ring: p < {alpha}", title_fontsize=8)
    fig.tight_layout()
    return fig


def build(spec: dict, metrics_files, data_dirs, out_dir):
    """spec: protocols, bits, seeds, partial, alpha, resamples."""
    from hashbench.stages.figures import save

    table = rows(spec, metrics_files, data_dirs)
    return save(figure(table, spec["alpha"]), table, out_dir, "imbalance", COLUMNS)
