"""Slow, obviously correct metric definitions that the fast kernel is tested against."""

import itertools

import numpy as np


def hamming(qc, dc):
    return ((qc.shape[1] - qc.astype(float) @ dc.T.astype(float)) / 2).round().astype(int)


def relevance(ql, dl):
    return (ql.astype(int) @ dl.T.astype(int)) > 0


def average_precision(rel_in_order, top):
    rel = np.asarray(rel_in_order[:top], bool)
    if not rel.any():
        return 0.0
    ranks = np.flatnonzero(rel) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def stable_order(dist_row):
    return np.lexsort((np.arange(len(dist_row)), dist_row))


def tie_orderings(dist_row):
    """Every ranking obtained by permuting items inside each distance group."""
    groups = [np.flatnonzero(dist_row == d) for d in np.unique(dist_row)]
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        yield np.concatenate(perms)


def reference(qc, dc, ql, dl, topk, ns, no_relevant="zero", tie_aware=False):
    dist, rel = hamming(qc, dc), relevance(ql, dl)
    top = min(topk, dc.shape[0])
    aps, ties, keep, p_h2, prec = [], [], [], [], []
    pr_p, pr_r, seen = [], [], []
    for i in range(len(qc)):
        order = stable_order(dist[i])
        ranked = rel[i][order]
        aps.append(average_precision(ranked, top))
        keep.append(ranked[:top].any() or no_relevant == "zero")
        if tie_aware:
            ties.append(np.mean([average_precision(rel[i][o], top) for o in tie_orderings(dist[i])]))
        prec.append([ranked[:n].sum() / n for n in ns])
        pp, rr, ee = [], [], []
        for r in range(qc.shape[1] + 1):
            inside = dist[i] <= r
            pp.append(rel[i][inside].mean() if inside.any() else 0.0)
            rr.append(rel[i][inside].sum() / rel[i].sum() if rel[i].any() else 0.0)
            ee.append(inside.mean())
        pr_p.append(pp)
        pr_r.append(rr)
        seen.append(ee)
        p_h2.append(pp[min(2, qc.shape[1])])
    keep = np.array(keep)
    out = {
        "map": float(np.mean(np.array(aps)[keep])) if keep.any() else 0.0,
        "p_h2": float(np.mean(p_h2)),
        "precision_at_n": dict(zip(ns, np.mean(prec, axis=0))) if ns else {},
        "pr_precision": np.mean(pr_p, axis=0),
        "pr_recall": np.mean(pr_r, axis=0),
        "pr_examined": np.mean(seen, axis=0),
    }
    if tie_aware:
        out["map_tie_aware"] = float(np.mean(np.array(ties)[keep])) if keep.any() else 0.0
    return out
