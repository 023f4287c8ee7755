"""What a protocol's methods read besides the split: the shallow methods' features and, for image
files, the image cache the deep methods' loaders read instead of decoding every file."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hashbench import config, io
from hashbench.data import splits
from hashbench.data.sources import SOURCES
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def write_features(data_dir, spec: dict, out_path, threads: int | None = None) -> Path:
    """The shallow methods' features ``spec['features']`` of every item, zero-centred by the
    training-set mean: ``pixels`` (scaled to [0, 1]) or ``alexnet-fc7`` (4096-d fc7 activations of
    the ImageNet-pretrained AlexNet on the centre crop of the protocol's image pipeline)."""
    data = splits.load(data_dir)
    kind = spec["features"]
    if kind == "pixels":
        if data.files:
            raise HashbenchError(f"features: 'pixels' needs in-memory images; source '{data.source}' is image files "
                                 "of varying size: use alexnet-fc7")
        images = data.items()
        x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(SOURCES[data.source].pixel_max)
    else:
        from hashbench.deep.features import alexnet_fc7  # torch

        x = alexnet_fc7(data.pipeline_images(spec.get("pipeline"), threads), spec.get("feature_weights"))
    x -= x[data.split["train"]].mean(axis=0)
    with io.atomic_path(out_path) as tmp:
        np.save(tmp, x)
    return Path(out_path)


def write_image_cache(data_dir, spec: dict, out_path, threads: int | None = None) -> Path:
    """Decode and resize every image file of the protocol once, at its pipeline's resize size."""
    from hashbench.deep.images import write_cache  # torch

    data = splits.load(data_dir)
    if not data.files:
        raise HashbenchError(f"{data_dir}: source '{data.source}' holds its images in memory; "
                             "only image files are cached")
    pipeline = config.pipeline_spec(spec.get("pipeline"))
    paths = data.items()
    log.info("caching %d images at %dx%d in %s", len(paths), pipeline["resize"], pipeline["resize"], out_path)
    write_cache(paths, pipeline["resize"], out_path, config.loader_workers(pipeline, threads))
    return Path(out_path)
