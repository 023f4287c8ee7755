"""Evaluation speed at the NUS-WIDE protocol size: the bit-packed kernel vs a plain argsort baseline.

    python bench/bench_metrics.py [--queries 5000] [--database 193734] [--bits 64] [--labels 21]

Prints the kernel's wall time for every metric (MAP@R, tie-aware MAP, P@H<=2, P@N, PR curve), its
peak memory, and the time of a plain implementation (float inner products, one full argsort per
query) run on --baseline-queries queries in the same process and scaled to all queries; with faiss
installed (``pip install faiss-cpu``), also faiss ``IndexBinaryFlat``'s top-R search plus the AP@R
of its ranking (MAP alone), on the same data.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from hashbench.metrics import evaluate


def argsort_baseline(qc, dc, ql, dl, topk, ns):
    """What the kernel replaces: per query a float distance row and a full stable argsort."""
    n_bits = qc.shape[1]
    ns = np.asarray(ns)
    aps, ph2, prec, pr_p, pr_r = [], [], [], [], []
    for i in range(qc.shape[0]):
        dist = 0.5 * (n_bits - dc.astype(np.float32) @ qc[i].astype(np.float32))
        rel = (dl @ ql[i]) > 0
        order = np.argsort(dist, kind="stable")
        ranked = rel[order]
        hits = np.cumsum(ranked)
        top = ranked[:topk]
        aps.append((hits[:topk][top] / (np.flatnonzero(top) + 1)).mean() if top.any() else 0.0)
        prec.append(hits[ns - 1] / ns)
        counts = np.bincount(dist.astype(np.int64), minlength=n_bits + 1).cumsum()
        rel_counts = np.bincount(dist[rel].astype(np.int64), minlength=n_bits + 1).cumsum()
        p = np.divide(rel_counts, counts, out=np.zeros(n_bits + 1), where=counts > 0)
        pr_p.append(p)
        pr_r.append(rel_counts / max(rel.sum(), 1))
        ph2.append(p[2])
    return float(np.mean(aps))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--database", type=int, default=193734)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--labels", type=int, default=21)
    parser.add_argument("--topk", type=int, default=5000)
    parser.add_argument("--baseline-queries", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    qc = rng.choice(np.array([-1, 1], np.int8), (args.queries, args.bits))
    dc = rng.choice(np.array([-1, 1], np.int8), (args.database, args.bits))
    ql = (rng.random((args.queries, args.labels)) < 0.1).astype(np.uint8)
    dl = (rng.random((args.database, args.labels)) < 0.1).astype(np.uint8)
    ns = tuple(range(100, 1001, 100))

    evaluate(qc[:8], dc[:2000], ql[:8], dl[:2000], 100, precision_at=(100,))  # compile / load the kernel
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = evaluate(qc, dc, ql, dl, args.topk, precision_at=ns)
        times.append(time.perf_counter() - start)
    kernel = min(times)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    nb = min(args.baseline_queries, args.queries)
    start = time.perf_counter()
    baseline_map = argsort_baseline(qc[:nb], dc, ql[:nb], dl, args.topk, ns)
    baseline = (time.perf_counter() - start) * args.queries / nb
    check = evaluate(qc[:nb], dc, ql[:nb], dl, args.topk, precision_at=ns)["map"]
    assert abs(check - baseline_map) < 1e-9, (check, baseline_map)

    print(f"protocol size: {args.queries} queries x {args.database} database items, {args.bits} bits, "
          f"{args.labels} labels, MAP@{args.topk}")
    print(f"kernel (all metrics): {kernel:.2f} s (best of {args.repeats}: {', '.join(f'{t:.2f}' for t in times)}); "
          f"peak memory {peak_gib:.2f} GiB; MAP {result['map']:.4f}")
    print(f"argsort baseline: {baseline:.1f} s (measured on {nb} queries, scaled to {args.queries}); "
          f"speed-up {baseline / kernel:.0f}x")
    faiss_map(qc, dc, ql, dl, args.topk, kernel, result["map"])


def faiss_map(qc, dc, ql, dl, topk, kernel, our_map) -> None:
    """faiss's exhaustive binary top-R search, then AP@R of its ranking (ties in faiss's own order)."""
    try:
        import faiss
    except ImportError:
        print("faiss: not installed (pip install faiss-cpu) - skipped")
        return
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = faiss.IndexBinaryFlat(qc.shape[1])
    index.add(np.packbits(dc > 0, axis=1))
    queries = np.packbits(qc > 0, axis=1)
    start = time.perf_counter()
    _, ranked = index.search(queries, topk)
    search = time.perf_counter() - start
    aps = np.empty(len(qc))
    for i0 in range(0, len(qc), 250):  # relevance of the returned items, a block of queries at a time
        rel = (dl[ranked[i0:i0 + 250]] & ql[i0:i0 + 250, None, :]).any(axis=2)
        hits = np.cumsum(rel, axis=1)
        found = hits[:, -1]
        precision_sum = np.sum(np.where(rel, hits / np.arange(1, topk + 1), 0.0), axis=1)
        aps[i0:i0 + 250] = np.divide(precision_sum, found, out=np.zeros(len(found)), where=found > 0)
    total = time.perf_counter() - start
    print(f"faiss IndexBinaryFlat top-{topk} search: {search:.2f} s, with AP@{topk}: {total:.2f} s "
          f"(MAP {aps.mean():.4f}; ties ranked in faiss's order, ours by database index: MAP {our_map:.4f}); "
          f"ours (every metric) / faiss (MAP only): {kernel / total:.2f}")


if __name__ == "__main__":
    main()
