"""Retrieval metrics of Hamming ranking, defined here once for the whole suite.

Inputs are {-1,+1} code matrices (n x K, K <= 128) and 0/1 label matrices (n x L). A database item
is *relevant* to a query when they share at least one label (single-label data is the one-hot case).
The Hamming distance between codes is the number of differing bits; it is computed on bit-packed
codes with XOR + popcount, one pass over the database per query, in a compiled kernel that runs the
queries in parallel. Because distances take only K+1 values, the ranking is a counting sort by
distance, never a full argsort: a first pass histograms distance and relevance per query, a second
places only the items at distances that reach into the ranks a metric reads (top R, largest N).

Conventions
-----------
Ranking and ties
    The database is ranked by increasing Hamming distance; items at equal distance are ranked by
    their database index (stable). ``map`` and ``precision_at_n`` use this ranking. Store databases
    in a seeded random order (as the suite's splits are), or the tie order carries class structure.
``map`` - MAP@R
    AP@R of a query = (1/m) * sum over ranks k <= R holding a relevant item of (relevant in top k)/k,
    where m is the number of relevant items in the top R (the normaliser of the HashNet/DHN
    evaluation code). R = ``topk``, capped at the database size.
``map_tie_aware``
    The expected AP@R over all orderings of items tied at equal distance, each ordering equally
    likely (McSherry & Najork, ECIR 2008). Groups wholly inside the top R contribute their expected
    precision sums in closed form; for the group straddling rank R the number of its relevant items
    that make the cut is hypergeometric, and the expectation of the ratio is summed over it exactly.
Queries with no relevant item in the top R
    ``no_relevant="zero"`` (default): such a query has AP 0 and counts in the mean.
    ``no_relevant="exclude"``: as in the authors' released code, such queries are left out of the
    MAP mean; which queries those are is decided by the index-stable top R, and the same queries are
    left out of ``map_tie_aware``. Both modes only affect the two MAP figures.
``p_h2`` - precision within Hamming radius 2
    Per query: relevant items at distance <= 2 over all items at distance <= 2; a query with nothing
    within radius 2 scores 0. Mean over all queries.
``precision_at_n``
    Per query: relevant items among the first N of the index-stable ranking, over N. Mean over all
    queries. An N asked for explicitly must be at most the database size; the default Ns (100, 200,
    ..., 1000) are capped to it: those beyond are left out and listed in ``precision_at_dropped``.
``pr_curve``
    For each radius r = 0..K, the mean over queries of precision (0 when nothing lies within r) and
    recall (relevant within r over relevant in the database; 0 for a query with no relevant item),
    and ``examined``: the mean fraction of the database within radius r, i.e. what a hash lookup of
    radius r returns and must check (the cost axis of the search-cost figure).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

DEFAULT_PRECISION_AT = tuple(range(100, 1001, 100))
NO_RELEVANT_MODES = ("zero", "exclude")


def _bytes(matrix: np.ndarray) -> np.ndarray:
    """The positive entries of an (n, K) matrix as bits, 8 to a byte: (n, ceil(K/8)) uint8."""
    return np.packbits(np.asarray(matrix) > 0, axis=1, bitorder="little")


@intrinsic
def _popcount8(typingctx, byte):
    """Population count of a uint8; a loop of them vectorises to a nibble table lookup."""

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint8(types.uint8), codegen


@intrinsic
def _lowest_bit(typingctx, word):
    """Index of the lowest set bit of a uint64 (64 for 0), compiled to tzcnt."""

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(types.uint64), codegen


_VECTOR_BYTES = 32  # one AVX2 register


@intrinsic
def _at_most(typingctx, keys, start, limit):
    """Bit i set iff keys[start + i] <= limit, for the 32 bytes of keys from ``start`` (32 uint8 or
    16 uint16 keys): one vector compare and a move-mask, which the loop compiler does not find."""
    width = keys.dtype.bitwidth
    lanes = _VECTOR_BYTES * 8 // width

    def codegen(context, builder, signature, args):
        array, begin, bound = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        vector = ir.VectorType(ir.IntType(width), lanes)
        loaded = builder.load(builder.bitcast(builder.gep(data, [begin]), vector.as_pointer()), align=1)
        first = builder.insert_element(ir.Constant(vector, ir.Undefined), bound, ir.Constant(ir.IntType(32), 0))
        splat = builder.shuffle_vector(first, ir.Constant(vector, ir.Undefined),
                                       ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))
        mask = builder.bitcast(builder.icmp_unsigned("<=", loaded, splat), ir.IntType(lanes))
        return builder.zext(mask, ir.IntType(64))

    return types.uint64(keys, types.intp, keys.dtype), codegen


@njit(fastmath={"reassoc"})
def _harmonic(before, t):
    """sum_{p<=t} 1 / (before + p), summed in vector lanes."""
    total = 0.0
    for p in range(1, t + 1):
        total += 1.0 / (before + p)
    return total


@njit
def _tie_aware_ap(hist, relhist, top):
    """Expected AP@top over uniformly random orderings within each distance group."""
    before = 0  # items ranked before the current group
    rel_before = 0  # relevant items among them
    full_sum = 0.0  # expected precision sum of the groups wholly inside the top
    for d in range(hist.shape[0]):
        n = hist[d]
        if n == 0:
            continue
        r = relhist[d]
        t = min(n, top - before)  # slots of this group inside the top
        a = _harmonic(before, t)  # sum_{p<=t} 1/(before+p)
        b = t - (before + 1.0) * a  # sum_{p<=t} (p-1)/(before+p)
        if t == n:
            full_sum += r / t * (rel_before + 1.0) * a
            if t > 1:
                full_sum += r * (r - 1.0) / (t * (t - 1.0)) * b
            before += n
            rel_before += r
            if before >= top:
                break
            continue
        # straddling group: x of its r relevant items fall in its first t slots, x ~ Hypergeom(n, r, t).
        # Its weights relative to the mode's, by the ratio of consecutive terms, walking out from the
        # mode until they vanish, and normalised by their sum (no log-gamma: exact to ~1e-16)
        lo = max(0, t - (n - r))
        hi = min(r, t)
        mode = min(hi, max(lo, (t + 1) * (r + 1) // (n + 2)))
        expected = 0.0
        total = 0.0
        for step in (1, -1):
            x = mode
            weight = 1.0
            if step == -1:
                x = mode - 1
                weight = mode * (n - r - t + mode) / ((r - mode + 1.0) * (t - mode + 1.0))
            while lo <= x <= hi and weight > 0.0:
                total += weight
                if rel_before + x > 0:
                    part = x / t * (rel_before + 1.0) * a
                    if t > 1:
                        part += x * (x - 1.0) / (t * (t - 1.0)) * b
                    expected += weight * (full_sum + part) / (rel_before + x)
                if step == 1:
                    weight *= (r - x) * (t - x) / ((x + 1.0) * (n - r - t + x + 1.0))
                else:
                    weight *= x * (n - r - t + x) / ((r - x + 1.0) * (t - x + 1.0))
                x += step
        return expected / total
    return full_sum / rel_before if rel_before > 0 else 0.0


_QUERIES = 16  # queries per parallel task, which share its buffers
_CHUNK = 2048  # database items a pass works on at a time


@njit(parallel=True, cache=True)
def _rank_queries(qb, db, qlb, dlb, n_bits, top, depth, ns, key_type, ap, ap_tie, hits_top, prec_n, hist,
                  relhist):
    n_db = db.shape[1]
    n_queries = qb.shape[0]
    n_bytes = qb.shape[1]
    n_lbytes = qlb.shape[1]
    n_keys = 2 * n_bits + 2
    for task in prange((n_queries + _QUERIES - 1) // _QUERIES):
        key = np.empty(n_db + 64, key_type)  # padded: the vector compare reads up to 63 keys past the end
        key[n_db:] = 0
        lanes = _VECTOR_BYTES // key.itemsize
        counts = np.empty((4, n_keys), np.int32)
        fill = np.empty(n_bits + 1, np.int64)
        ranked = np.empty(depth + 1, np.bool_)  # relevance by rank, and a spare slot for overflow
        found = np.empty(_CHUNK + 4, np.int64)
        dist = np.empty(_CHUNK, np.uint8)
        shared = np.empty(_CHUNK, np.uint8)
        for i in range(task * _QUERIES, min(n_queries, task * _QUERIES + _QUERIES)):
            # pass 1: key = 2 * Hamming distance + relevant. The database is stored in byte planes
            # (byte b of every item's code, then of its labels, contiguous), so each loop below is
            # one vectorised pass over a chunk: 32 items per instruction, popcounts by nibble lookup
            for start in range(0, n_db, _CHUNK):
                n = min(_CHUNK, n_db - start)
                plane = db[0, start:start + n]
                x = qb[i, 0]
                for j in range(n):
                    dist[j] = _popcount8(plane[j] ^ x)
                for w in range(1, n_bytes):
                    plane = db[w, start:start + n]
                    x = qb[i, w]
                    for j in range(n):
                        dist[j] += _popcount8(plane[j] ^ x)
                plane = dlb[0, start:start + n]
                x = qlb[i, 0]
                for j in range(n):
                    shared[j] = plane[j] & x
                for w in range(1, n_lbytes):
                    plane = dlb[w, start:start + n]
                    x = qlb[i, w]
                    for j in range(n):
                        shared[j] |= plane[j] & x
                part = key[start:start + n]
                for j in range(n):
                    part[j] = (key_type(dist[j]) << 1) | (shared[j] != 0)
            # its histogram, in four interleaved sub-histograms that keep increments of a bin apart
            counts[:] = 0
            c0, c1, c2, c3 = counts[0], counts[1], counts[2], counts[3]
            n4 = n_db // 4
            for j in range(n4):
                c0[key[4 * j]] += 1
                c1[key[4 * j + 1]] += 1
                c2[key[4 * j + 2]] += 1
                c3[key[4 * j + 3]] += 1
            for j in range(4 * n4, n_db):
                c0[key[j]] += 1
            # each distance's insertion point in the ranking, and `cut`: the first distance whose
            # items reach rank `depth`
            h = hist[i]
            hr = relhist[i]
            ranked_before = 0  # items at smaller distances
            cut = n_bits
            for d in range(n_bits + 1):
                hr[d] = c0[2 * d + 1] + c1[2 * d + 1] + c2[2 * d + 1] + c3[2 * d + 1]
                h[d] = hr[d] + c0[2 * d] + c1[2 * d] + c2[2 * d] + c3[2 * d]
                fill[d] = ranked_before
                ranked_before += h[d]
                if ranked_before >= depth and cut == n_bits:
                    cut = d
            # pass 2: counting sort of the first `depth` ranks (distance ascending, database index
            # within ties). A chunk at a time, the items with key <= limit are listed in database
            # order from vector-compare masks (three bits taken without a branch, the rare rest in a
            # loop), then placed at their distance's next rank (past `depth`: the spare slot). Once
            # distance `cut` has filled the last rank, the limit drops below it.
            limit = key_type(2 * cut + 1)
            for start in range(0, n_db, _CHUNK):
                stop = min(n_db, start + _CHUNK)
                n_found = 0
                for base in range(start, stop, 2 * lanes):
                    m = _at_most(key, base, limit) | (_at_most(key, base + lanes, limit) << np.uint64(lanes))
                    if stop - base < 2 * lanes:
                        m &= (np.uint64(1) << np.uint64(stop - base)) - np.uint64(1)
                    for _ in range(3):
                        found[n_found] = base + np.int64(_lowest_bit(m))
                        n_found += m != 0
                        m &= m - np.uint64(1)
                    while m != 0:
                        found[n_found] = base + np.int64(_lowest_bit(m))
                        n_found += 1
                        m &= m - np.uint64(1)
                for c in range(n_found):
                    v = key[found[c]]
                    d = v >> 1
                    pos = fill[d]
                    ranked[min(pos, depth)] = (v & 1) != 0
                    fill[d] = pos + 1
                if fill[cut] >= depth:
                    if cut == 0:
                        break
                    limit = key_type(2 * cut - 1)
            hits = 0
            precision_sum = 0.0
            k_n = 0
            for rank in range(depth):
                if ranked[rank]:
                    hits += 1
                    if rank < top:
                        precision_sum += hits / (rank + 1.0)
                if rank + 1 == top:
                    hits_top[i] = hits
                while k_n < ns.shape[0] and ns[k_n] == rank + 1:
                    prec_n[i, k_n] = hits / (rank + 1.0)
                    k_n += 1
            ap[i] = precision_sum / hits_top[i] if hits_top[i] > 0 else 0.0
            ap_tie[i] = _tie_aware_ap(h, hr, top)


def _as_codes(codes: np.ndarray, what: str) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or not 1 <= codes.shape[1] <= 128:
        raise ValueError(f"{what}: expected an (n, K) code matrix with 1 <= K <= 128, got shape {codes.shape}")
    if not (np.abs(codes) == 1).all():
        raise ValueError(f"{what}: expected codes in {{-1, +1}}")
    return codes


def _as_labels(labels: np.ndarray, n: int, what: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[0] != n:
        raise ValueError(f"{what}: expected a 0/1 label matrix with {n} rows, got shape {labels.shape}")
    if not ((labels == 0) | (labels == 1)).all():
        raise ValueError(f"{what}: expected 0/1 labels")
    return labels


def evaluate(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    topk: int,
    *,
    precision_at: tuple[int, ...] | None = None,
    no_relevant: str = "zero",
    per_query: bool = False,
) -> dict:
    """All retrieval metrics of Hamming ranking; see the module docstring for the definitions.

    Returns a dict with ``map``, ``map_tie_aware``, ``p_h2``, ``precision_at_n`` ({N: value}; by
    default N = 100, ..., 1000 capped to the database size, the dropped ones in
    ``precision_at_dropped``), ``pr_curve`` ({"radius", "precision", "recall", "examined"} lists over radius
    0..K), ``topk`` (R used), ``n_queries`` and ``n_queries_in_map`` (queries counted in the MAP
    means); with ``per_query`` also ``per_query``: {"ap", "ap_tie_aware": per-query AP@R arrays,
    "in_map": which queries the MAP means count}.
    """
    qc = _as_codes(query_codes, "query_codes")
    dc = _as_codes(db_codes, "db_codes")
    if qc.shape[1] != dc.shape[1]:
        raise ValueError(f"query codes have {qc.shape[1]} bits but database codes have {dc.shape[1]}")
    ql = _as_labels(query_labels, qc.shape[0], "query_labels")
    dl = _as_labels(db_labels, dc.shape[0], "db_labels")
    if ql.shape[1] != dl.shape[1]:
        raise ValueError(f"query labels have {ql.shape[1]} columns but database labels have {dl.shape[1]}")
    if no_relevant not in NO_RELEVANT_MODES:
        raise ValueError(f"no_relevant: expected one of {NO_RELEVANT_MODES}, got {no_relevant!r}")
    n_db, n_bits = dc.shape
    dropped = []
    if precision_at is None:
        precision_at = [n for n in DEFAULT_PRECISION_AT if n <= n_db]
        dropped = [n for n in DEFAULT_PRECISION_AT if n > n_db]
    ns = np.array(sorted(set(int(n) for n in precision_at)), dtype=np.int64)
    if ns.size and not 1 <= ns[0] <= ns[-1] <= n_db:
        raise ValueError(f"precision_at: every N must lie in 1..{n_db} (the database size), got {ns.tolist()}")
    if int(topk) < 1:
        raise ValueError(f"topk: expected a positive integer, got {topk}")
    top = min(int(topk), n_db)
    depth = max(top, int(ns[-1]) if ns.size else 0)

    nq = qc.shape[0]
    ap = np.zeros(nq)
    ap_tie = np.zeros(nq)
    hits_top = np.zeros(nq, np.int64)
    prec_n = np.zeros((nq, ns.size))
    hist = np.zeros((nq, n_bits + 1), np.int64)
    relhist = np.zeros((nq, n_bits + 1), np.int64)
    key_type = np.uint8 if 2 * n_bits + 1 <= 255 else np.uint16  # 2 * distance + relevant
    _rank_queries(_bytes(qc), _bytes(dc).T.copy(), _bytes(ql), _bytes(dl).T.copy(), n_bits, top, depth, ns,
                  key_type, ap, ap_tie, hits_top, prec_n, hist, relhist)

    scored = hits_top > 0 if no_relevant == "exclude" else np.ones(nq, bool)
    within = np.cumsum(hist, axis=1)
    rel_within = np.cumsum(relhist, axis=1)
    n_relevant = rel_within[:, -1:]
    precision = np.divide(rel_within, within, out=np.zeros(within.shape), where=within > 0)
    recall = np.divide(rel_within, n_relevant, out=np.zeros(within.shape), where=n_relevant > 0)
    radius2 = min(2, n_bits)
    out = {
        "map": float(ap[scored].mean()) if scored.any() else 0.0,
        "map_tie_aware": float(ap_tie[scored].mean()) if scored.any() else 0.0,
        "p_h2": float(precision[:, radius2].mean()),
        "precision_at_n": {int(n): float(v) for n, v in zip(ns, prec_n.mean(axis=0))},
        "pr_curve": {
            "radius": list(range(n_bits + 1)),
            "precision": precision.mean(axis=0).tolist(),
            "recall": recall.mean(axis=0).tolist(),
            "examined": (within / n_db).mean(axis=0).tolist(),
        },
        "topk": top,
        "n_queries": nq,
        "n_queries_in_map": int(scored.sum()),
        "no_relevant": no_relevant,
    }
    if dropped:
        out["precision_at_dropped"] = dropped
    if per_query:
        out["per_query"] = {"ap": ap, "ap_tie_aware": ap_tie, "in_map": scored}
    return out
