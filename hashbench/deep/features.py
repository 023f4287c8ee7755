"""CNN features for the shallow methods: AlexNet fc7 of the ImageNet-pretrained network (HashNet Sec. 4.1)."""

from __future__ import annotations

import logging

import numpy as np
import torch

from hashbench.deep import backbones
from hashbench.deep.loop import make_deterministic, outputs

log = logging.getLogger("hashbench")


def alexnet_fc7(images, weights=None, batch_size: int = 256) -> np.ndarray:
    """(N, 4096) float32 fc7 activations (after ReLU) of ``images`` (an image set); the weights come
    from ``weights`` (a saved state_dict) or torchvision's ImageNet weights, else the run stops."""
    network, _ = backbones.create("alexnet", True, weights, images.channels, images.size)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    make_deterministic(device)
    log.info("extracting AlexNet fc7 features of %d images on %s", len(images), device)
    return outputs(network.to(device).eval(), images, batch_size).astype(np.float32)
