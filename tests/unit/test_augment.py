"""The device-side image pipeline (``augment: device``) against the PIL path it replaces."""

import threading

import numpy as np
import pytest
import torch

from hashbench import layout
from hashbench.data import splits
from hashbench.deep import images
from hashbench.deep.augment import DeviceAugment, normalisation_table, sample_seeds
from hashbench.deep.trainer import Batches
from hashbench.errors import HashbenchError
from hashbench.stages.features import write_image_cache
from image_fixtures import PREFIX, released_lists

PIPELINE = {"resize": 40, "crop": 32}


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """The toy image-list protocol with its image cache at 40 x 40."""
    root = tmp_path_factory.mktemp("augment")
    spec = {"source": "image-lists", "lists": released_lists(root), "path_prefix": PREFIX,
            "image_root": str(root / "images"), "features": "alexnet-fc7", "labels": "single", "topk": 20, "seed": 0,
            "pipeline": PIPELINE}
    splits.prepare("toy", spec, root / "data")
    write_image_cache(root / "data", spec, root / "data" / layout.image_cache_file(40), workers=0)
    return splits.load(root / "data")


def training_batches(data, pipeline, n=3, batch=6):
    source = data.pipeline_images(pipeline, workers=0)[data.split["train"]]
    drawn = Batches(np.random.default_rng(3), len(source), batch, 0, n, seed=3)
    return [(i.copy(), x.clone()) for i, x in source.train_batches(drawn, device="cpu")]


@pytest.mark.parametrize("cache", [True, False])
def test_random_crops_on_the_device_are_the_pil_paths_tensors_bit_for_bit(cached, cache):
    """The Caffe setting (train_crop: random): the same crops, flips and normalised values, from the
    cache (one numba kernel) and from decoded files (loader processes, then the kernel)."""
    pipeline = {**PIPELINE, "train_crop": "random", "cache": cache}
    pil = training_batches(cached, {**pipeline, "augment": "pil"})
    device = training_batches(cached, {**pipeline, "augment": "device"})
    for (i0, x0), (i1, x1) in zip(pil, device):
        np.testing.assert_array_equal(i0, i1)
        assert x1.shape == (6, 3, 32, 32) and x1.dtype == torch.float32
        assert x1.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(x1, x0, rtol=0, atol=0)
    assert not torch.equal(device[0][1], device[1][1])


def test_random_resized_crops_draw_the_same_boxes_and_differ_from_pil_by_rounding_only(cached):
    """train_crop: random-resized: the same crop boxes as torchvision's RandomResizedCrop under the
    sample's seed, resized by torchvision's tensor resize instead of PIL's: at most one uint8 level."""
    pipeline = {**PIPELINE, "train_crop": "random-resized"}
    pil = training_batches(cached, {**pipeline, "augment": "pil"})
    device = training_batches(cached, {**pipeline, "augment": "device"})
    std = torch.tensor(images.IMAGENET_STD).view(1, 3, 1, 1)
    for (i0, x0), (i1, x1) in zip(pil, device):
        np.testing.assert_array_equal(i0, i1)
        levels = ((x1 - x0) * std * 255).abs()
        assert float(levels.max()) < 1.01 and float(levels.mean()) < 0.2


@pytest.mark.parametrize("ten_crop", [False, True])
def test_encoding_crops_on_the_device_are_the_pil_paths_tensors(cached, ten_crop):
    pipeline = {**PIPELINE, "ten_crop": ten_crop}
    pil = torch.cat(list(cached.pipeline_images({**pipeline, "augment": "pil"}, workers=0).encode_batches(8, "cpu")))
    device = torch.cat(list(cached.pipeline_images({**pipeline, "augment": "device"}, workers=0).encode_batches(8, "cpu")))
    assert device.shape == ((36, 10, 3, 32, 32) if ten_crop else (36, 3, 32, 32))
    torch.testing.assert_close(device, pil, rtol=0, atol=0)


@pytest.mark.parametrize("crop", ["random", "random-resized"])
def test_the_gpu_kernels_give_the_cpu_kernels_tensors(crop):
    """What a GPU runs (``train``/``encode`` on uint8 tensors on the device), here on CPU tensors,
    against the numba kernel that reads the cache: the same tensors."""
    augment = DeviceAugment({"resize": 40, "crop": 32, "train_crop": crop, "ten_crop": True})
    array = np.random.default_rng(0).integers(0, 256, (20, 40, 40, 3), dtype=np.uint8)
    rows = np.array([3, 17, 0, 9, 9, 12])
    draws = augment.draw(sample_seeds(7, 2, len(rows)))
    torch.testing.assert_close(augment.train(torch.from_numpy(array[rows]), draws),
                               augment.cpu_train(array, rows, draws), rtol=0, atol=0)
    torch.testing.assert_close(augment.encode(torch.from_numpy(array[rows])), augment.cpu_encode(array, rows),
                               rtol=0, atol=0)


def test_the_normalisation_table_is_torchvisions_to_tensor_and_normalize():
    from torchvision import transforms as T

    levels = torch.arange(256, dtype=torch.uint8).view(16, 16, 1).expand(16, 16, 3).numpy().copy()
    expected = T.Compose([T.ToTensor(), T.Normalize(images.IMAGENET_MEAN, images.IMAGENET_STD)])(levels)
    table = normalisation_table()
    for c in range(3):
        torch.testing.assert_close(table[c][torch.from_numpy(levels[..., c].astype(np.int64))], expected[c],
                                   rtol=0, atol=0)


def test_batch_buffers_are_reused_only_once_released():
    augment = DeviceAugment({"resize": 40, "crop": 32, "train_crop": "random", "ten_crop": False})
    array = np.random.default_rng(1).integers(0, 256, (8, 40, 40, 3), dtype=np.uint8)
    rows = np.arange(4)
    first = augment.cpu_train(array, rows, augment.draw(sample_seeds(0, 0, 4)))
    kept = first.clone()
    second = augment.cpu_train(array, rows, augment.draw(sample_seeds(0, 1, 4)))
    assert first.data_ptr() != second.data_ptr()  # still referenced: a new buffer
    torch.testing.assert_close(first, kept, rtol=0, atol=0)
    pointer = second.data_ptr()
    del second
    third = augment.cpu_train(array, rows, augment.draw(sample_seeds(0, 2, 4)))
    assert third.data_ptr() == pointer  # the released buffer, not the one ``first`` still holds


def test_an_error_in_the_background_thread_is_raised_in_training_and_closing_stops_it():
    def items():
        yield 1
        raise HashbenchError("broken.jpg: cannot read the image")

    stream = images.background(items())
    assert next(stream) == 1
    with pytest.raises(HashbenchError, match="broken.jpg"):
        next(stream)
    endless = images.background(iter(range(10**9)), depth=2)
    assert next(endless) == 0
    endless.close()
    assert not any(t.name == "hashbench-batches" and t.is_alive() for t in threading.enumerate())


def test_training_on_the_device_path_is_a_function_of_the_seed(cached):
    """Two runs, and a run with loader processes decoding the files, give the same codes."""
    from hashbench import registry

    def codes(pipeline, workers=0):
        source = cached.pipeline_images({**PIPELINE, "train_crop": "random", **pipeline}, workers=workers)
        method = registry.create("HashNet", 8, 0, {"iterations": 6, "batch_size": 6})
        method.fit(source[cached.split["train"]], cached.labels[cached.split["train"]])
        return method.encode(source[cached.split["query"]])

    first = codes({})
    np.testing.assert_array_equal(codes({}), first)
    np.testing.assert_array_equal(codes({"cache": False}, workers=2), first)
