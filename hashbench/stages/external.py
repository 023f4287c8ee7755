"""Codes trained anywhere: a prepared protocol's split written out in the list-file form other code
reads (``export_split``), and codes from another code base read back, checked and stored as a run
(``import_codes``) that evaluation, tables, claims and figures treat like any other.

The export (``hashbench export-split --data data/<protocol> --out DIR``):
  train.txt, query.txt, database.txt   one item a line, in the split's stored order: its id, then
                                       its label vector as 0/1 separated by spaces (the form of
                                       HashNet's and DeepHash-pytorch's list files: path, labels)
  split.npz                            <set>_ids and <set>_labels of each set, and <set>_images
                                       (N, H, W[, 3]) uint8 for a protocol of in-memory images
  export.json                          protocol, split checksum, sizes, id kind, the code formats
An item's id is its image path for a source of image files, else its row in dataset.npz.

Codes (``CODE_FORMATS``), one file per (code length, seed), values -1/+1, 0/1 or bool:
  .npz   arrays ``query`` (n_query, bits) and ``database`` (n_database, bits) in the exported
         order; with ``query_ids`` and ``database_ids`` (the exported ids) in any order
  .npy   one (n_query + n_database, bits) matrix: the queries' rows, then the database's, in the
         exported order
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hashbench import __version__, health, io, settings
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.layout import CODES, EXPORT_ARRAYS, EXPORT_META, RUN_RECORD

log = logging.getLogger("hashbench")
CODE_SETS = ("query", "database")
CODE_FORMATS = {
    ".npz": "arrays query (n_query, bits) and database (n_database, bits) in the exported order, or with "
            "query_ids and database_ids (the exported ids) in any order",
    ".npy": "one (n_query + n_database, bits) matrix, the queries' rows first, in the exported order",
}


def item_ids(data: splits.ProtocolData) -> np.ndarray:
    """Each dataset item's id: its image path (image files) or its row in dataset.npz."""
    return data.items().astype(str) if data.files else np.arange(data.labels.shape[0])


def export_split(data_dir, out_dir) -> dict:
    """Write a prepared protocol's train, query and database items (ids, labels, and the images of
    a protocol of in-memory images) for code outside hashbench; returns export.json's content."""
    data = splits.load(data_dir)
    out_dir = Path(out_dir)
    ids = item_ids(data)
    images = None if data.files else data.items()
    arrays = {}
    for name in splits.SPLITS:
        rows = data.split[name]
        arrays[f"{name}_ids"], arrays[f"{name}_labels"] = ids[rows], data.labels[rows]
        if images is not None:
            arrays[f"{name}_images"] = images[rows]
        lines = [f"{item} {' '.join(map(str, label))}" for item, label in zip(ids[rows], data.labels[rows].tolist())]
        with io.atomic_path(out_dir / f"{name}.txt") as tmp:
            tmp.write_text("\n".join(lines) + "\n")
    io.save_npz(out_dir / EXPORT_ARRAYS, **arrays)
    record = {
        "protocol": data.protocol,
        "checksum": data.checksum,
        "sizes": {name: int(data.split[name].size) for name in splits.SPLITS},
        "ids": "image path" if data.files else "row of dataset.npz",
        "code_formats": CODE_FORMATS,
    }
    io.write_json(out_dir / EXPORT_META, record)
    log.info("exported %s (%s) to %s", data.protocol,
             ", ".join(f"{n} {s}" for n, s in record["sizes"].items()), out_dir)
    return record


def _as_signs(codes: np.ndarray, path, name: str) -> np.ndarray:
    """-1/+1, 0/1 or bool values as int8 -1/+1."""
    if codes.dtype == bool:
        return np.where(codes, 1, -1).astype(np.int8)
    if not np.issubdtype(codes.dtype, np.number):
        raise HashbenchError(f"{path}: {name} holds {codes.dtype} values; expected -1/+1, 0/1 or bool codes")
    values = set(np.unique(codes).tolist())
    if values <= {-1, 1}:
        return codes.astype(np.int8)
    if values <= {0, 1}:
        return np.where(codes > 0, 1, -1).astype(np.int8)
    shown = ", ".join(f"{v:g}" for v in sorted(values)[:4]) + (", ..." if len(values) > 4 else "")
    raise HashbenchError(f"{path}: {name} holds the values {shown}; expected -1/+1 or 0/1 codes")


def _ordered(codes: np.ndarray, given_ids: np.ndarray, exported: np.ndarray, path, name: str) -> np.ndarray:
    """Rows keyed by item id put in the exported order; ids that are not the set's exported ids refused."""
    given, wanted = given_ids.astype(str), exported.astype(str)
    position, known = {item: i for i, item in enumerate(given)}, set(wanted)
    if given.size != wanted.size or len(position) != given.size or not known <= position.keys():
        stray = next((g for g in given if g not in known), None)
        detail = f"'{stray}' is not one of them" if stray is not None else f"{len(position)} distinct ids given"
        raise HashbenchError(f"{path}: {name}_ids are not the {exported.size} exported {name} ids ({detail}); "
                             "expected the ids of hashbench export-split's " + f"{name}.txt")
    return codes[[position[item] for item in wanted]]


def read_codes(path, data: splits.ProtocolData, bits: int | None = None) -> dict[str, np.ndarray]:
    """The query and database codes of a code file (``CODE_FORMATS``) as int8 -1/+1 in the split's
    order, checked against the split's sizes, its ids and (when given) the code length ``bits``."""
    path = Path(path)
    sizes = {name: int(data.split[name].size) for name in CODE_SETS}
    if path.suffix not in CODE_FORMATS:
        raise HashbenchError(f"{path}: expected a .npz or .npy code file, got '{path.suffix or 'no suffix'}'")
    if not path.is_file():
        raise HashbenchError(f"{path}: file not found")
    if path.suffix == ".npy":
        try:
            matrix = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise HashbenchError(f"{path}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
        rows = sizes["query"] + sizes["database"]
        if matrix.ndim != 2 or matrix.shape[0] != rows:
            raise HashbenchError(f"{path}: expected a ({rows}, bits) matrix ({sizes['query']} queries, then "
                                 f"{sizes['database']} database items), got shape {matrix.shape}")
        raw = {"query": matrix[:sizes["query"]], "database": matrix[sizes["query"]:]}
    else:
        with np.load(path, allow_pickle=False) as stored:
            files = set(stored.files)
        missing = [name for name in CODE_SETS if name not in files]
        if missing:
            raise HashbenchError(f"{path}: no array {', '.join(missing)}; expected {CODE_FORMATS['.npz']}")
        keyed = [f"{name}_ids" for name in CODE_SETS if f"{name}_ids" in files]
        raw = io.load_npz(path, CODE_SETS + tuple(keyed))
    ids = item_ids(data)
    codes = {}
    for name in CODE_SETS:
        matrix = np.asarray(raw[name])
        if matrix.ndim != 2 or matrix.shape[0] != sizes[name] or (bits is not None and matrix.shape[1] != bits):
            expected = f"({sizes[name]}, {bits if bits is not None else 'bits'})"
            raise HashbenchError(f"{path}: {name} codes: expected shape {expected}, got {matrix.shape}")
        matrix = _as_signs(matrix, path, name)
        if f"{name}_ids" in raw:
            matrix = _ordered(matrix, raw[f"{name}_ids"], ids[data.split[name]], path, name)
        codes[name] = matrix
    if codes["query"].shape[1] != codes["database"].shape[1]:
        raise HashbenchError(f"{path}: query codes have {codes['query'].shape[1]} bits, database codes "
                             f"{codes['database'].shape[1]}")
    return codes


def import_codes(codes_file, data_dir, out_dir, method: str, bits: int, seed: int) -> dict:
    """Store an outside method's codes for (the prepared protocol in ``data_dir``, ``bits``, ``seed``)
    as a run: codes.npz and a run.json naming the file (and its sha256) in place of a training."""
    data = splits.load(data_dir)
    protocol = data.protocol
    codes = read_codes(codes_file, data, bits)
    spec = {"protocol": protocol, "method": method, "bits": int(bits), "seed": int(seed),
            "external": {"codes": str(codes_file), "sha256": io.file_sha256(codes_file)}}
    run_health = health.diagnose(codes["database"])
    if run_health["degenerate"]:
        log.warning("degenerate codes: %s (%d bits, seed %d) on %s: %s", method, bits, seed, protocol,
                    "; ".join(run_health["reasons"]))
    out_dir = Path(out_dir)
    io.save_codes(out_dir / CODES, codes["query"], codes["database"])
    record = {
        "spec": spec,
        "params": {},
        "features": "external",
        "config_hash": settings.digest(spec),
        "split_checksum": data.checksum,
        "fit_seconds": None,  # trained elsewhere: not measured here
        "encode_seconds": None,
        "loss_history": [],
        "device": None,
        "health": run_health,
        "hashbench_version": __version__,
    }
    io.write_json(out_dir / RUN_RECORD, record)
    log.info("%s (%d bits, seed %d) on %s: %d query and %d database codes from %s", method, bits, seed, protocol,
             len(codes["query"]), len(codes["database"]), codes_file)
    return record
