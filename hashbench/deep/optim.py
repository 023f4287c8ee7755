"""A deep method's optimiser and learning-rate schedule, built from its training recipe with
``torch.optim`` (SGD with momentum or Nesterov, Adam, RMSprop) and ``torch.optim.lr_scheduler.StepLR``.

Two parameter groups: the backbone at ``lr``, the hash layer (the method's head) at ``lr`` times
the head multiplier (``DeepHashMethod.head_lr``). The schedule multiplies both by ``lr_gamma`` every
``lr_step`` updates. ``foreach=True`` everywhere, so that the arithmetic does not depend on whether
the parameters live on a CPU or a GPU. torch.optim imports ``torch._dynamo`` on a first step;
``bench/bench_optimizer.py`` times a fresh process's first steps against a hand-written update
(docs/performance.md).
"""

from __future__ import annotations

OPTIMIZERS = ("sgd", "adam", "rmsprop")
# The usual learning rate of each optimiser when a network trains from scratch (torch's Adam and
# Kingma & Ba's 1e-3; 1e-2 for SGD with momentum; RMSprop as Adam): the centre of a tuning grid.
USUAL_LR = {"sgd": 1e-2, "adam": 1e-3, "rmsprop": 1e-3}
# A tuning grid: the usual rate times these, four values over a decade and a half, the same for every method.
GRID_FACTORS = (0.1, 0.316, 1.0, 3.16)


def tuning_grid(optimizer: str) -> list[float]:
    """The learning rates tried on validation for a method whose recipe uses ``optimizer``."""
    return [float(f"{USUAL_LR[optimizer] * factor:.3g}") for factor in GRID_FACTORS]


def build(method, backbone_params: list, head_params: list):
    """(optimizer, scheduler) for ``method`` (a DeepHashMethod), with the settings it resolves from
    its recipe (``DeepHashMethod.resolved``)."""
    import torch

    r = method.resolved()
    groups = [{"params": backbone_params, "lr": r["lr"]}, {"params": head_params, "lr": r["head_lr"]}]
    if r["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(groups, lr=r["lr"], momentum=r["momentum"],
                                    nesterov=r["nesterov"] and r["momentum"] > 0, weight_decay=r["weight_decay"],
                                    foreach=True)
    elif r["optimizer"] == "adam":
        optimizer = torch.optim.Adam(groups, lr=r["lr"], betas=tuple(r["betas"]), eps=r["eps"],
                                     weight_decay=r["weight_decay"], foreach=True)
    else:
        optimizer = torch.optim.RMSprop(groups, lr=r["lr"], alpha=r["smoothing"], eps=r["eps"], momentum=r["momentum"],
                                        weight_decay=r["weight_decay"], foreach=True)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=r["lr_step"], gamma=r["lr_gamma"])
    return optimizer, scheduler
