"""What a hash lookup costs: radius-r search by multi-index hashing against a linear scan.

    python bench/bench_search.py [--queries 1000] [--database 193734] [--bits 64] [--tables 4] [--max-radius 8]

Both searches are faiss's (``pip install faiss-cpu``, the suite's ``bench`` extra), a maintained
library, so the suite writes neither: ``IndexBinaryFlat.range_search`` XORs and popcounts every
database code (the linear scan), ``IndexBinaryMultiHash`` is multi-index hashing (Norouzi, Punjani
and Fleet, CVPR 2012): the code is cut into ``--tables`` substrings, each indexed in a hash table,
and a radius-r query probes every substring within floor(r / tables) bit flips, the pigeonhole
bound that makes the lookup exact, then checks the candidates' full distance.

The codes are synthetic at the NUS-WIDE protocol size (193,734 database codes, 64 bits): random
class centres with each bit flipped with probability --flip, so that small radii hold neighbours as
learned codes do. For every radius r the script checks that both searches return the same items and
prints the mean number returned, each search's queries per second and their ratio, in one process.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def synthetic_codes(n: int, bits: int, centres: int, flip: float, rng) -> np.ndarray:
    """n codes (packed uint8) around ``centres`` random centres, each bit flipped with probability ``flip``."""
    centre = rng.integers(0, 2, (centres, bits), dtype=np.uint8)
    noise = (rng.random((n, bits)) < flip).astype(np.uint8)
    return np.packbits(centre[rng.integers(0, centres, n)] ^ noise, axis=1)


def timed_range_search(index, queries, radius: int):
    start = time.perf_counter()
    lims, _, ids = index.range_search(queries, radius + 1)  # faiss returns distances < its radius
    return time.perf_counter() - start, lims, ids


def same_results(a, b) -> bool:
    (lims_a, ids_a), (lims_b, ids_b) = a, b
    if not np.array_equal(lims_a, lims_b):
        return False
    return all(np.array_equal(np.sort(ids_a[lims_a[i]:lims_a[i + 1]]), np.sort(ids_b[lims_b[i]:lims_b[i + 1]]))
               for i in range(len(lims_a) - 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--database", type=int, default=193734)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--tables", type=int, default=4, help="substrings (hash tables) of multi-index hashing")
    parser.add_argument("--centres", type=int, default=100)
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--max-radius", type=int, default=8)
    args = parser.parse_args()
    try:
        import faiss
    except ImportError:
        raise SystemExit("bench_search.py needs faiss: pip install faiss-cpu (the 'bench' extra)") from None
    if args.bits % 8 or args.bits % args.tables or args.bits // args.tables > 32:
        raise SystemExit("--bits must be a multiple of 8 and of --tables, with at most 32 bits a table")
    faiss.omp_set_num_threads(os.cpu_count() or 1)

    rng = np.random.default_rng(0)
    codes = synthetic_codes(args.database + args.queries, args.bits, args.centres, args.flip, rng)
    database, queries = codes[:args.database], codes[args.database:]
    flat = faiss.IndexBinaryFlat(args.bits)
    flat.add(database)
    start = time.perf_counter()
    mih = faiss.IndexBinaryMultiHash(args.bits, args.tables, args.bits // args.tables)
    mih.add(database)
    build = time.perf_counter() - start

    print(f"{args.queries} queries, {args.database} database codes of {args.bits} bits (synthetic: {args.centres} "
          f"centres, bit flips p = {args.flip}); faiss {faiss.__version__}, {os.cpu_count()} threads")
    print(f"multi-index hashing: {args.tables} tables of {args.bits // args.tables} bits, built in {build:.2f} s")
    print(f"{'r':>3} {'returned/query':>15} {'scan q/s':>12} {'MIH q/s':>12} {'MIH / scan':>11}")
    for r in range(args.max_radius + 1):
        mih.nflip = r // args.tables  # pigeonhole: some substring is within floor(r / tables) flips
        t_scan, *scan = timed_range_search(flat, queries, r)
        t_mih, *hashed = timed_range_search(mih, queries, r)
        if not same_results(scan, hashed):
            raise SystemExit(f"radius {r}: multi-index hashing and the linear scan returned different items")
        returned = scan[0][-1] / args.queries
        print(f"{r:>3} {returned:>15.1f} {args.queries / t_scan:>12.0f} {args.queries / t_mih:>12.0f} "
              f"{t_scan / t_mih:>10.1f}x")


if __name__ == "__main__":
    main()
