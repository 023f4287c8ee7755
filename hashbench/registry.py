"""Finds hashing methods: the built-in modules of ``methods/`` and third-party plugins.

Built-ins are the HashMethod subclasses defined in the modules of the ``hashbench.methods``
package (the top-level ``methods/`` folder). Third-party packages declare theirs under the
entry-point group ``hashbench.methods`` (``NAME = "package.module:Class"``); the entry-point name
must equal the class's ``name``. Method modules import heavy dependencies (torch) lazily, so that
listing methods stays cheap while Snakemake builds its DAG.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from importlib.metadata import entry_points

from hashbench.base import HashMethod
from hashbench.errors import HashbenchError

ENTRY_POINT_GROUP = "hashbench.methods"


def _builtin() -> dict[str, type[HashMethod]]:
    import hashbench.methods as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, HashMethod) and obj.__module__ == module.__name__ \
                    and "name" in vars(obj):
                found[obj.name] = obj
    return found


def _plugins() -> dict[str, type[HashMethod]]:
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (inspect.isclass(cls) and issubclass(cls, HashMethod)) or getattr(cls, "name", None) != ep.name:
            raise HashbenchError(f"entry point '{ep.name} = {ep.value}' in group {ENTRY_POINT_GROUP}: expected a "
                                 f"HashMethod subclass whose name is '{ep.name}'")
        found[ep.name] = cls
    return found


@functools.cache
def methods() -> dict[str, type[HashMethod]]:
    """Every registered method by name; a plugin may not shadow a built-in."""
    builtin, plugins = _builtin(), _plugins()
    clash = sorted(set(builtin) & set(plugins))
    if clash:
        raise HashbenchError(f"plugin method name(s) {', '.join(clash)} clash with built-in methods")
    return {**builtin, **plugins}


def get(name: str, field: str = "method") -> type[HashMethod]:
    found = methods()
    if name not in found:
        raise HashbenchError(f"config field '{field}': unknown method '{name}'; available: {', '.join(sorted(found))}")
    return found[name]


def create(name: str, n_bits: int, seed: int, params: dict) -> HashMethod:
    cls = get(name)
    cls.check_params(params, field=f"method_params.{name}")
    return cls(n_bits=n_bits, seed=seed, **params)
