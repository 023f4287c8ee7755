"""Pretrained weights as a file: resolved once into ``data/weights/`` (``hashbench.layout.WEIGHTS``)
by the workflow's ``pretrained_weights`` rule, declared as an input of every job that reads them, and
recorded by sha256 in run.json and in the features' metadata.

A backbone with ``weights: null`` reads torchvision's ImageNet weights, which the rule takes from
torchvision's cache (``$TORCH_HOME``) or downloads there once; a compute node then never fetches
anything. ``weights: PATH`` names a saved state_dict instead, which the jobs read where it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from hashbench import io
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def _not_a_state_dict(what, name: str, why: str) -> HashbenchError:
    return HashbenchError(f"weights: {what} is not a {name} state_dict ({why})")


def load_into(model, name: str, state: dict, what) -> None:
    """Load ``state`` into ``model`` (torchvision's ``name``); one line naming ``what`` when it does not fit."""
    try:
        model.load_state_dict(state)
    except Exception as exc:
        raise _not_a_state_dict(what, name, f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def load(path, name: str) -> dict:
    """The state_dict saved in ``path`` for backbone ``name``; one line naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise HashbenchError(f"weights: pretrained weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise _not_a_state_dict(path, name, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from None
    if not isinstance(state, dict):
        raise _not_a_state_dict(path, name, f"it holds a {type(state).__name__}")
    return state


def torchvision_state(name: str) -> dict:
    """torchvision's ImageNet weights of ``name``, from its cache or a download."""
    import torchvision

    try:
        return torchvision.models.get_model_weights(name).DEFAULT.get_state_dict(progress=False)
    except Exception as exc:
        raise HashbenchError(f"pretrained: the ImageNet weights of {name} could not be loaded from torchvision's "
                             f"cache or download ({type(exc).__name__}: {exc}); put them in torchvision's cache "
                             "($TORCH_HOME) on a machine that is online, or set weights: PATH to a saved "
                             "state_dict") from None


def fetch(name: str, out) -> dict:
    """Write torchvision's ImageNet weights of backbone ``name`` to ``out`` (the rule
    ``pretrained_weights``), checked to load into the backbone; returns their record."""
    import torchvision

    state = torchvision_state(name)
    load_into(torchvision.models.get_model(name, weights=None), name, state, "torchvision's ImageNet weights")
    with io.atomic_path(out) as tmp:
        torch.save(state, tmp)
    log.info("%s ImageNet weights written to %s", name, out)
    return record(out)


def record(path) -> dict | None:
    """What run.json and the features' metadata say of a weights file: its path and sha256."""
    if path is None:
        return None
    return {"file": str(path), "sha256": io.file_sha256(path)}
