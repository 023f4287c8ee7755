"""What a protocol's methods read besides the split: the shallow methods' features and, for image
files, the image cache the deep methods' loaders read instead of decoding every file."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hashbench import io, settings
from hashbench.data import splits
from hashbench.data.sources import SOURCES
from hashbench.errors import HashbenchError
from hashbench.layout import features_meta_file

log = logging.getLogger("hashbench")


def write_features(data_dir, spec: dict, out_path, threads: int | None = None, execution: dict | None = None,
                   weights=None) -> Path:
    """The shallow methods' features ``spec['features']`` (``hashbench.config.features_spec``) of
    every item, zero-centred by the training-set mean: ``pixels`` (scaled to [0, 1]) or
    ``alexnet-fc7`` (4096-d fc7 activations of the ImageNet-pretrained AlexNet on the centre crop of
    the protocol's image pipeline, or the mean over ten crops) from the weights file ``weights``
    (default: ``feature_weights``, else torchvision's). Beside them, their metadata
    (``layout.FEATURES_META``): kind, shape, split checksum, pipeline and the weights' sha256."""
    execution = settings.execution(execution)
    data = splits.load(data_dir)
    kind = spec["features"]
    meta = {"kind": kind, "split_checksum": data.checksum}
    if kind == "pixels":
        if data.files:
            raise HashbenchError(f"features: 'pixels' needs in-memory images; source '{data.source}' is image files "
                                 "of varying size: use alexnet-fc7")
        images = data.items()
        x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(SOURCES[data.source].pixel_max)
    else:
        from hashbench.deep import weights as weight_files  # torch
        from hashbench.shallow.features import alexnet_fc7

        source = weights if weights is not None else spec.get("feature_weights")
        images = data.pipeline_images(spec.get("pipeline"), threads, execution["workers"])
        x, device = alexnet_fc7(images, source, execution["device"])
        meta.update({"pipeline": {k: images.pipeline[k] for k in settings.FEATURE_PIPELINE},
                     "augment": images.pipeline["augment"], "device": device, "execution": execution,
                     "weights": weight_files.record(source) or "torchvision (not a workflow input)"})
    x -= x[data.split["train"]].mean(axis=0)
    meta["shape"] = list(x.shape)
    with io.atomic_path(out_path) as tmp:
        np.save(tmp, x)
    io.write_json(Path(out_path).parent / features_meta_file(kind), meta)
    return Path(out_path)


def write_image_cache(data_dir, spec: dict, out_path, threads: int | None = None, workers: int | None = None) -> Path:
    """Decode and resize every image file of the protocol once, at its pipeline's resize size
    (``hashbench.config.cache_spec``), with ``workers`` loader processes (default one per thread)."""
    from hashbench.deep.images import write_cache  # torch

    data = splits.load(data_dir)
    if not data.files:
        raise HashbenchError(f"{data_dir}: source '{data.source}' holds its images in memory; "
                             "only image files are cached")
    pipeline = settings.pipeline_spec(spec.get("pipeline"))
    paths = data.items()
    log.info("caching %d images at %dx%d in %s", len(paths), pipeline["resize"], pipeline["resize"], out_path)
    write_cache(paths, pipeline["resize"], out_path, settings.loader_workers(workers, threads))
    return Path(out_path)
