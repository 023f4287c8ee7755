"""Image-list protocols: the released list-file format, path rewriting and validation before training.

A list file has one line per image, ``<image path> <0/1 label vector separated by spaces>`` (the
format of the authors' released ``database.txt`` / ``test.txt`` / ``train.txt``); paths contain no
spaces. A listed path is rewritten as follows: a leading ``path_prefix`` (e.g. the authors'
absolute dataset folder) is removed, and a relative path is joined to ``image_root`` (default: the
list file's folder). Every problem of a file is reported at once, in one line, with line numbers:
malformed lines, labels other than 0/1, label vectors of another width, duplicate paths, missing
images and images that do not decode.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")

FORMAT = "<image path> <0/1 label vector>"
SHOWN = 10  # problems spelled out in an error message; the rest are counted
NOT_FOUND = "image not found"


@dataclass
class ImageList:
    paths: list[str]  # rewritten image paths, in file order
    labels: np.ndarray  # (n, C) 0/1 uint8
    source: Path  # the list file
    dropped: list[str] = field(default_factory=list)  # listed images not found, left out (missing: drop)


def _report(source, problems: list[tuple[int, str]]) -> None:
    if problems:
        shown = "; ".join(f"line {n}: {text}" for n, text in problems[:SHOWN])
        more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise HashbenchError(f"{source}: {len(problems)} bad line(s): {shown}{more}")


def rewrite(path: str, image_root: Path, path_prefix: str | None) -> str:
    if path_prefix and path.startswith(path_prefix):
        path = path[len(path_prefix):].lstrip("/")
    return str(image_root / path)  # an absolute path stays as it is


def decode_error(path: str) -> str | None:
    """None if the image at ``path`` exists and decodes, else what is wrong with it."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("RGB", (64, 64))  # JPEG: decode at reduced scale, still reading every block
            image.load()
    except FileNotFoundError:
        return f"{NOT_FOUND}: {path}"
    except Exception as exc:  # PIL raises many types for corrupt data
        return f"cannot decode image {path} ({type(exc).__name__}: {exc})"
    return None


def check_image_root(protocol: str, spec: dict) -> None:
    """One line naming the field when a protocol's ``image_root`` is not a folder, before any image is read."""
    root = spec.get("image_root")
    if root is not None and not Path(root).is_dir():
        raise HashbenchError(f"protocol_defs.{protocol}.image_root: {root} is not a folder; expected the folder the "
                             "list files' image paths are relative to")


def read(source, image_root=None, path_prefix: str | None = None, missing: str = "refuse") -> ImageList:
    """Read and validate one list file. ``missing``: what happens to a listed image that is not
    found, "refuse" (a problem, reported with the others) or "drop" (left out, its path in
    ``dropped``); an image that exists and does not decode is always a problem."""
    source = Path(source)
    try:
        lines = source.read_text().splitlines()
    except FileNotFoundError:
        raise HashbenchError(f"{source}: list file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HashbenchError(f"{source}: cannot read the list file ({exc})") from None
    root = Path(image_root) if image_root is not None else source.parent
    problems, paths, labels, numbers, seen = [], [], [], [], {}
    width = width_line = None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            problems.append((number, f"expected '{FORMAT}', got {line.strip()!r}"))
            continue
        bad = next((v for v in fields[1:] if v not in ("0", "1")), None)
        if bad is not None:
            problems.append((number, f"label values must be 0 or 1, got {bad!r}"))
            continue
        if width is None:
            width, width_line = len(fields) - 1, number
        elif len(fields) - 1 != width:
            problems.append((number, f"{len(fields) - 1} labels, expected {width} (as on line {width_line})"))
            continue
        if fields[0] in seen:
            problems.append((number, f"duplicate path {fields[0]} (first on line {seen[fields[0]]})"))
            continue
        seen[fields[0]] = number
        paths.append(rewrite(fields[0], root, path_prefix))
        labels.append([int(v) for v in fields[1:]])
        numbers.append(number)
    if not paths and not problems:
        raise HashbenchError(f"{source}: empty list file; expected one line per image: {FORMAT}")
    with ThreadPoolExecutor(max_workers=8) as pool:  # decoding is I/O and C code: threads overlap it
        errors = list(pool.map(decode_error, paths))
    absent = [missing == "drop" and e is not None and e.startswith(NOT_FOUND) for e in errors]
    problems += [(n, e) for n, e, gone in zip(numbers, errors, absent) if e is not None and not gone]
    _report(source, sorted(problems))
    kept = [i for i, gone in enumerate(absent) if not gone]
    if len(kept) < len(paths) and not kept:
        raise HashbenchError(f"{source}: none of its {len(paths)} images was found (missing: drop); check image_root")
    return ImageList([paths[i] for i in kept], np.asarray(labels, dtype=np.uint8)[kept], source,
                     [paths[i] for i, gone in enumerate(absent) if gone])


def load_split(protocol: str, spec: dict) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[str]]:
    """The image paths, labels and split of the released lists ``spec['lists']`` (query, database,
    train), and the listed images left out because this copy lacks them (``spec['missing']``:
    "drop"; "refuse", the default, stops naming them).

    An image listed in several files (the training images are drawn from the database) is one
    item; it must carry the same labels everywhere. ``spec['query_overlap']`` says what happens to
    queries that are also database or training items: "refuse" (default) stops with an error,
    "drop" removes them from the database and the training set, "allow" keeps them (a query then
    retrieves itself; the released MS-COCO lists hold every query in the database, thuml/HashNet
    issue #41, so the paper's COCO numbers were computed that way). ``spec['sizes']``, when given,
    is checked against the lists' lengths (before any drop).
    """
    field = f"protocol_defs.{protocol}"
    check_image_root(protocol, spec)
    lists = {name: read(spec["lists"][name], spec.get("image_root"), spec.get("path_prefix"), spec.get("missing", "refuse"))
             for name in ("query", "database", "train")}
    widths = {name: found.labels.shape[1] for name, found in lists.items()}
    if len(set(widths.values())) > 1:
        raise HashbenchError(f"{field}.lists: label vectors differ in width between the files "
                             f"({', '.join(f'{n} {w}' for n, w in widths.items())})")
    for name, expected in (spec.get("sizes") or {}).items():
        listed = len(lists[name].paths) + len(lists[name].dropped)
        if listed != expected:
            raise HashbenchError(f"{lists[name].source}: {listed} images, expected {expected} ({field}.sizes.{name})")
    index, paths, labels, split = {}, [], [], {}
    for name in ("database", "query", "train"):
        found, members = lists[name], []
        for path, label in zip(found.paths, found.labels):
            i = index.setdefault(path, len(paths))
            if i == len(paths):
                paths.append(path)
                labels.append(label)
            elif (labels[i] != label).any():
                raise HashbenchError(f"{found.source}: {path} has other labels than in another list of {field}")
            members.append(i)
        split[name] = np.asarray(members, dtype=np.int64)
    policy = spec.get("query_overlap", "refuse")
    for other in ("database", "train"):
        shared = np.intersect1d(split["query"], split[other])
        if shared.size and policy == "refuse":
            raise HashbenchError(f"{field}.lists: {shared.size} image(s) are both query and {other} "
                                 f"(e.g. {paths[shared[0]]}); queries must be held out, or set "
                                 f"{field}.query_overlap to 'drop' (remove them from the {other}) or 'allow'")
        if shared.size and policy == "drop":
            split[other] = split[other][~np.isin(split[other], shared)]
            log.warning("%s: dropped %d queries from the %s (query_overlap: drop)", field, shared.size, other)
    dropped = sorted({path for found in lists.values() for path in found.dropped})
    return np.asarray(paths, dtype=str), np.asarray(labels, dtype=np.uint8), split, dropped
