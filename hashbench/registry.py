"""Finds hashing methods: the built-in modules of ``methods/`` and third-party plugins.

Built-ins are the HashMethod subclasses defined in the modules of the ``hashbench.methods``
package (the top-level ``methods/`` folder). Third-party packages declare theirs under the
entry-point group ``hashbench.methods`` (``NAME = "package.module:Class"``); the entry-point name
must equal the class's ``name`` and may not be a built-in's. Method modules import heavy
dependencies (torch, numba, scipy) where they use them, so that listing methods stays cheap:
Snakemake builds its DAG from it and every job lists methods. A module or plugin that fails to
import, or a plugin that breaks those rules, does not hide the others: it is reported
(``broken()``, ``hashbench methods``) and named in the error of any lookup that might have wanted it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from importlib.metadata import entry_points

from hashbench.method import HashMethod
from hashbench.errors import HashbenchError

ENTRY_POINT_GROUP = "hashbench.methods"


def _builtin(broken: dict[str, str]) -> dict[str, type[HashMethod]]:
    import hashbench.methods as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):  # a helper of a method (e.g. _cnnh_targets), not one itself
            continue
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


def _plugins(broken: dict[str, str], builtin: dict[str, type[HashMethod]]) -> dict[str, type[HashMethod]]:
    """The entry points' classes by name. One that fails to import, is not a HashMethod whose
    ``name`` is the entry point's, or takes a built-in's name is reported in ``broken`` and
    skipped; the others load."""
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"plugin {ep.name} = {ep.value}"
        try:
            cls = ep.load()
        except Exception as exc:
            broken[where] = f"{type(exc).__name__}: {exc}"
            continue
        if not (inspect.isclass(cls) and issubclass(cls, HashMethod)):
            broken[where] = f"expected a HashMethod subclass, got {cls!r}"
        elif getattr(cls, "name", None) != ep.name:
            broken[where] = (f"the entry point's name must be the class's name, which is "
                             f"{getattr(cls, 'name', None)!r}")
        elif ep.name in builtin:
            taken = builtin[ep.name]
            broken[where] = (f"the name clashes with the built-in {ep.name} "
                             f"({taken.__module__}:{taken.__qualname__}); the built-in is used")
        else:
            found[ep.name] = cls
    return found


@functools.cache
def _scan() -> tuple[dict[str, type[HashMethod]], dict[str, str]]:
    broken: dict[str, str] = {}
    builtin = _builtin(broken)
    return {**builtin, **_plugins(broken, builtin)}, broken


def methods() -> dict[str, type[HashMethod]]:
    """Every registered method by name; a plugin never shadows a built-in (it is reported instead)."""
    return _scan()[0]


def broken() -> dict[str, str]:
    """The method modules and plugins that failed to import or to register, with their error."""
    return _scan()[1]


def get(name: str, field: str = "method") -> type[HashMethod]:
    found, failed = _scan()
    if name not in found:
        hint = "".join(f"; {where} not loaded ({error})" for where, error in failed.items())
        raise HashbenchError(f"config field '{field}': unknown method '{name}'; available: "
                             f"{', '.join(sorted(found))}{hint}")
    return found[name]


def create(name: str, n_bits: int, seed: int, params: dict) -> HashMethod:
    cls = get(name)
    cls.check_params(params, field=f"method_params.{name}")
    return cls(n_bits=n_bits, seed=seed, **params)
