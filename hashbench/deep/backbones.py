"""Backbones by name: a small CNN for the embedded protocols, and torchvision's AlexNet / ResNets.

``create(name, pretrained, weights, in_channels, image_size)`` returns (module, feature dim).
With ``pretrained`` the ImageNet weights come from ``weights`` (a saved state_dict; in the workflow
always a file, ``hashbench.deep.weights``) or, when that is None, torchvision's standard
cache/download; if they cannot be loaded the run stops with an error, never continuing from random
weights.
"""

from __future__ import annotations

import torch
from torch import nn

from hashbench.deep import weights as files
from hashbench.errors import HashbenchError

TORCHVISION = {"alexnet": 4096, "resnet18": 512, "resnet34": 512, "resnet50": 2048}
NAMES = ("smallcnn", *TORCHVISION)


class SmallCNN(nn.Module):
    """Two 3x3 conv-BN-ReLU-maxpool blocks and a 256-unit fully connected layer.

    Each block applies its ReLU after the 2x2 max-pool: max and ReLU commute exactly (both are
    monotone), in the outputs and in the gradients (a window's gradient reaches the same element, or
    none when its maximum is not positive), so this is the conv-BN-ReLU-maxpool network bit for bit,
    with the ReLU on a quarter of the values."""

    def __init__(self, in_channels: int, image_size: tuple[int, int]):
        super().__init__()
        h, w = image_size[0] // 4, image_size[1] // 4
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * h * w, 256), nn.ReLU(),
        )

    def forward(self, x):
        return self.net(x)


class AlexNetFc7(nn.Module):
    """AlexNet up to fc7 (4096-d after ReLU), the representation HashNet's hash layer reads.

    torchvision's adaptive average pool to 6x6 is the identity on the 6x6 maps of a 224 crop (the
    Caffe AlexNet has none) and its CUDA backward has no deterministic kernel, so it runs only on
    maps of another size."""

    def __init__(self, alexnet):
        super().__init__()
        self.features, self.avgpool = alexnet.features, alexnet.avgpool
        self.fc = alexnet.classifier[:6]

    def forward(self, x):
        maps = self.features(x)
        if tuple(maps.shape[-2:]) != tuple(nn.modules.utils._pair(self.avgpool.output_size)):
            maps = self.avgpool(maps)
        return self.fc(torch.flatten(maps, 1))


def create(name: str, pretrained: bool, weights, in_channels: int, image_size: tuple[int, int]):
    if name == "smallcnn":
        if pretrained:
            raise HashbenchError("pretrained: the smallcnn backbone has no pretrained weights; set pretrained: false")
        return SmallCNN(in_channels, image_size), 256
    if name not in TORCHVISION:
        raise HashbenchError(f"backbone: unknown backbone '{name}'; expected one of {', '.join(NAMES)}")
    if in_channels != 3:
        raise HashbenchError(f"backbone: {name} needs 3-channel images, got {in_channels}")
    import torchvision

    model = torchvision.models.get_model(name, weights=None)
    if pretrained:
        state = files.torchvision_state(name) if weights is None else files.load(weights, name)
        files.load_into(model, name, state, weights or "torchvision weights")
    if name == "alexnet":
        return AlexNetFc7(model), TORCHVISION[name]
    model.fc = nn.Identity()
    return model, TORCHVISION[name]
