"""The package's layers, as a contract CI checks: every import, at module level or inside a function,
goes to the same layer or one below, and no modules import each other round a circle.

From the bottom: ``foundation`` (errors, file names, settings: import nothing of the package), ``tools``
(io, metrics, stats, hyperparameter constraints, sgn, the machine and run records), ``blocks`` (the methods' building blocks: the deep
trainer, backbones, image sets, losses; the shallow solvers and features), ``data`` (sources and
prepared splits), ``contracts`` (``HashMethod`` and ``DeepHashMethod``), ``methods`` (one module each,
``hashbench.methods``), ``registry`` (finding methods, their conformance check), ``stages`` (one job
each), ``config`` (the workflow configuration and run identities), ``cli``. A test rather than an
import-linter contract: its graph builder walks ``hashbench/`` on disk and would not see
``hashbench.methods``, which lives in the top-level ``methods/`` folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {
    "foundation": ["hashbench", "hashbench.errors", "hashbench.layout", "hashbench.settings"],
    "tools": ["hashbench.io", "hashbench.metrics", "hashbench.stats", "hashbench.health", "hashbench.machine",
              "hashbench.gpus", "hashbench.threads", "hashbench.reference", "hashbench.params", "hashbench.codes"],
    "blocks": ["hashbench.deep.augment", "hashbench.deep.images", "hashbench.deep.weights", "hashbench.deep.backbones",
               "hashbench.deep.losses", "hashbench.deep.optim", "hashbench.deep.trainer", "hashbench.shallow"],
    "data": ["hashbench.data"],
    "contracts": ["hashbench.method", "hashbench.deep.method"],
    "methods": ["hashbench.methods"],
    "registry": ["hashbench.registry", "hashbench.testing"],
    "stages": ["hashbench.stages"],
    "config": ["hashbench.config"],
    "cli": ["hashbench.cli", "hashbench.__main__"],
}


def modules() -> dict[str, Path]:
    """Every module of the package: hashbench/ and the methods/ folder (hashbench.methods)."""
    found = {}
    for top, package in ((ROOT / "hashbench", "hashbench"), (ROOT / "methods", "hashbench.methods")):
        for path in sorted(top.rglob("*.py")):
            parts = list(path.relative_to(top).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def layer_of(module: str) -> int:
    """The index of ``module``'s layer: that of the longest prefix listed."""
    best, index = "", None
    for i, prefixes in enumerate(LAYERS.values()):
        for prefix in prefixes:
            inside = module.startswith(prefix + ".") and prefix != "hashbench"  # the package root is one module
            if (module == prefix or inside) and len(prefix) > len(best):
                best, index = prefix, i
    if index is None:
        raise AssertionError(f"module {module} is in no layer: add it to LAYERS")
    return index


def imports(module: str, path: Path, known) -> set[str]:
    """The package's modules ``module`` imports, anywhere in it (an ``from a import b`` of a submodule b
    counts as b)."""
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        out.update(name for name in names if name in known and name != module)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {module: imports(module, path, found) for module, path in found.items()}


def test_every_import_goes_down_or_across():
    names = list(LAYERS)
    wrong = [f"{a} ({names[layer_of(a)]}) imports {b} ({names[layer_of(b)]})"
             for a, targets in graph().items() for b in sorted(targets)
             if layer_of(b) > layer_of(a) and not (a == "hashbench" and b == "hashbench.metrics")]
    assert not wrong, "imports from a higher layer:\n" + "\n".join(wrong)


def test_no_import_circles():
    edges = graph()
    circles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize("module", ["hashbench.settings", "hashbench.errors", "hashbench.layout"])
def test_the_foundation_imports_nothing_of_the_package(module):
    found = modules()
    assert imports(module, found[module], found) == set()


def test_an_import_inside_a_function_counts(tmp_path):
    """A lazy import is an arrow too: the check sees it, relative or absolute."""
    found = modules()
    source = tmp_path / "io.py"
    source.write_text("def f():\n    from hashbench.cli import main\n    from .stages import train\n")
    assert imports("hashbench.io", source, found) == {"hashbench.cli", "hashbench.stages.train"}
    assert layer_of("hashbench.cli") > layer_of("hashbench.io")
