"""Finds hashing methods: the built-in modules of ``methods/`` and third-party plugins.

Built-ins are the HashMethod subclasses defined in the modules of the ``hashbench.methods``
package (the top-level ``methods/`` folder). Third-party packages declare theirs under the
entry-point group ``hashbench.methods`` (``NAME = "package.module:Class"``); the entry-point name
must equal the class's ``name``. Method modules import heavy dependencies (torch, numba, scipy)
where they use them, so that listing methods stays cheap: Snakemake builds its DAG from it and every
job lists methods. A module or plugin that fails to import does not hide the others: it is reported
(``broken()``, ``hashbench methods``) and named in the error of any lookup that might have wanted it.
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


def _builtin(broken: dict[str, str]) -> dict[str, type[HashMethod]]:
    import hashbench.methods as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        try:
            module = importlib.import_module(f"{package.__name__}.{info.name}")
        except Exception as exc:  # a broken module must not take every other method down with it
            broken[f"methods/{info.name}.py"] = f"{type(exc).__name__}: {exc}"
            continue
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, HashMethod) and obj.__module__ == module.__name__ \
                    and "name" in vars(obj):
                found[obj.name] = obj
    return found


def _plugins(broken: dict[str, str]) -> dict[str, type[HashMethod]]:
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:
            broken[f"plugin {ep.name} = {ep.value}"] = f"{type(exc).__name__}: {exc}"
            continue
        if not (inspect.isclass(cls) and issubclass(cls, HashMethod)) or getattr(cls, "name", None) != ep.name:
            raise HashbenchError(f"entry point '{ep.name} = {ep.value}' in group {ENTRY_POINT_GROUP}: expected a "
                                 f"HashMethod subclass whose name is '{ep.name}'")
        found[ep.name] = cls
    return found


@functools.cache
def _scan() -> tuple[dict[str, type[HashMethod]], dict[str, str]]:
    broken: dict[str, str] = {}
    builtin, plugins = _builtin(broken), _plugins(broken)
    clash = sorted(set(builtin) & set(plugins))
    if clash:
        raise HashbenchError(f"plugin method name(s) {', '.join(clash)} clash with built-in methods")
    return {**builtin, **plugins}, broken


def methods() -> dict[str, type[HashMethod]]:
    """Every registered method by name; a plugin may not shadow a built-in."""
    return _scan()[0]


def broken() -> dict[str, str]:
    """The method modules and plugins that failed to import, with their error."""
    return _scan()[1]


def get(name: str, field: str = "method") -> type[HashMethod]:
    found, failed = _scan()
    if name not in found:
        hint = "".join(f"; {where} failed to import ({error})" for where, error in failed.items())
        raise HashbenchError(f"config field '{field}': unknown method '{name}'; available: "
                             f"{', '.join(sorted(found))}{hint}")
    return found[name]


def create(name: str, n_bits: int, seed: int, params: dict) -> HashMethod:
    cls = get(name)
    cls.check_params(params, field=f"method_params.{name}")
    return cls(n_bits=n_bits, seed=seed, **params)
