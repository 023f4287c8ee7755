"""CNN features for the shallow methods: AlexNet fc7 of the ImageNet-pretrained network (HashNet Sec. 4.1)."""

from __future__ import annotations

import logging

import numpy as np

from hashbench.deep import backbones
from hashbench.deep.trainer import make_deterministic, outputs, resolve_device, set_precision

log = logging.getLogger("hashbench")


def alexnet_fc7(images, weights=None, device: str = "auto", batch_size: int = 256) -> tuple[np.ndarray, str]:
    """(N, 4096) float32 fc7 activations (after ReLU) of ``images`` (an image set) in float32 on
    ``device`` (an execution setting), and the device; the weights come from ``weights`` (a saved
    state_dict) or torchvision's ImageNet weights, else the run stops."""
    network, _ = backbones.create("alexnet", True, weights, images.channels, images.size)
    where = resolve_device(device)
    make_deterministic(where)
    set_precision(where, tf32=False)
    log.info("extracting AlexNet fc7 features of %d images on %s", len(images), where)
    return outputs(network.to(where).eval(), images, batch_size).astype(np.float32), str(where)
