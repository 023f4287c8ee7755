"""The image pipeline of the image-file protocols: seeded augmentation, crops, errors, fc7 features."""

import json

import numpy as np
import pytest
import torch

from hashbench import io, layout, registry
from hashbench.data import splits

from hashbench.deep import images
from hashbench.deep.trainer import Batches
from hashbench.errors import HashbenchError
from hashbench.stages.features import write_features
from image_fixtures import PREFIX, released_lists


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    lists = released_lists(root)
    spec = {"source": "image-lists", "lists": lists, "path_prefix": PREFIX, "image_root": str(root / "images"),
            "features": "alexnet-fc7", "labels": "single", "topk": 20, "seed": 0,
            "pipeline": {"resize": 72, "crop": 64}}
    splits.prepare("toy", spec, root / "data")
    return root, spec, splits.load(root / "data")


def batches(data, pipeline, n=3, workers=0):
    source = data.pipeline_images(pipeline, workers=workers)[data.split["train"]]
    drawn = Batches(np.random.default_rng(5), len(source), 4, 0, n, seed=5)
    return [(i.copy(), x.clone()) for i, x in source.train_batches(drawn, device="cpu")]


def test_training_batches_are_the_same_whatever_the_number_of_workers(toy_data):
    _, spec, data = toy_data
    serial = batches(data, spec["pipeline"])
    parallel = batches(data, spec["pipeline"], workers=2)
    assert len(serial) == 3
    for (i0, x0), (i1, x1) in zip(serial, parallel):
        assert x0.shape == (4, 3, 64, 64)
        np.testing.assert_array_equal(i0, i1)
        torch.testing.assert_close(x0, x1, rtol=0, atol=0)
    # normalised with the ImageNet statistics; the random crops differ between iterations
    assert -3 < float(serial[0][1].min()) < 0 < float(serial[0][1].max()) < 3
    assert not torch.equal(serial[0][1], serial[1][1])


@pytest.mark.slow
def test_the_image_cache_gives_the_same_batches_as_the_files(toy_data, tmp_path):
    """Built once by ``hashbench cache-images``; the loaders read it instead of decoding the files,
    and the pipeline's resize of a cached image is the identity, so training and encoding see the
    same pixels. Without ``cache`` (or before it is built) the files are decoded."""
    import shutil
    import subprocess
    import sys

    root, spec, data = toy_data
    shutil.copytree(root / "data", tmp_path / "data")
    cached_dir = tmp_path / "data"
    cache = cached_dir / layout.image_cache_file(72)
    out = subprocess.run([sys.executable, "-m", "hashbench", "cache-images", "--data", str(cached_dir), "--spec",
                          json.dumps(spec), "--out", str(cache), "--threads", "2"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert cache.name == "images-72.npy"
    array = np.load(cache, mmap_mode="r")
    assert array.shape == (len(data.labels), 72, 72, 3) and array.dtype == np.uint8
    cached_data = splits.load(cached_dir)
    source = cached_data.pipeline_images(spec["pipeline"], workers=0)
    assert isinstance(source.source, images.ImageCache)
    assert isinstance(cached_data.pipeline_images({**spec["pipeline"], "cache": False}, workers=0).source, np.ndarray)
    for (i0, x0), (i1, x1) in zip(batches(data, spec["pipeline"]), batches(cached_data, spec["pipeline"])):
        np.testing.assert_array_equal(i0, i1)
        torch.testing.assert_close(x0, x1, rtol=0, atol=0)
    files = next(data.pipeline_images(spec["pipeline"], workers=0).encode_batches(8, "cpu"))
    torch.testing.assert_close(next(source.encode_batches(8, "cpu")), files, rtol=0, atol=0)
    with io.atomic_path(cache) as tmp:  # a cache that does not match the protocol (a new file: the old is mapped)
        np.save(tmp, array[:3])
    with pytest.raises(HashbenchError, match="images-72.npy: holds 3 images"):
        cached_data.pipeline_images(spec["pipeline"], workers=0)


def test_loader_workers_follow_the_jobs_threads():
    from hashbench import settings

    assert settings.loader_workers(None, 6) == 6  # execution.workers: null
    assert settings.loader_workers(0, 6) == 0
    assert settings.loader_workers(None, None) >= 1


def test_encoding_uses_the_centre_crop_or_ten_crops(toy_data):
    _, spec, data = toy_data
    centre = next(data.pipeline_images(spec["pipeline"], workers=0).encode_batches(5, "cpu"))
    ten = next(data.pipeline_images({**spec["pipeline"], "ten_crop": True}, workers=0).encode_batches(5, "cpu"))
    assert centre.shape == (5, 3, 64, 64) and ten.shape == (5, 10, 3, 64, 64)
    torch.testing.assert_close(ten[:, 4], centre)  # TenCrop's fifth crop is the centre crop


def test_a_corrupt_image_found_during_training_stops_the_run_with_its_path(toy_data, tmp_path):
    root, spec, data = toy_data
    source = data.pipeline_images(spec["pipeline"], workers=1)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"garbage")
    source.source = source.source.astype(object)  # room for a longer path
    source.source[data.split["train"][0]] = str(broken)
    method = registry.create("HashNet", 8, 0, {"iterations": 30, "batch_size": 8})
    with pytest.raises(HashbenchError) as err:
        method.fit(source[data.split["train"]], data.labels[data.split["train"]])
    assert str(err.value).startswith(f"{broken}: cannot read the image") and "\n" not in str(err.value)


@pytest.mark.slow
def test_hashnet_trains_and_encodes_from_image_files(toy_data):
    _, spec, data = toy_data
    source = data.pipeline_images(spec["pipeline"], workers=0)
    method = registry.create("HashNet", 8, 0, {"iterations": 15, "batch_size": 8})
    method.fit(source[data.split["train"]], data.labels[data.split["train"]])
    codes = method.encode(source[data.split["query"]])
    assert codes.shape == (6, 8) and set(np.unique(codes)) <= {-1, 1}
    assert len(method.loss_history_) == 15


def test_alexnet_fc7_features_need_the_pretrained_weights(toy_data, tmp_path):
    import torchvision

    root, spec, data = toy_data
    with pytest.raises(HashbenchError, match=r"weights: pretrained weights file not found: .*missing.pt"):
        write_features(root / "data", {**spec, "feature_weights": str(tmp_path / "missing.pt")}, tmp_path / "x.npy")
    torch.manual_seed(0)
    weights = tmp_path / "alexnet.pt"
    torch.save(torchvision.models.alexnet().state_dict(), weights)
    path = write_features(root / "data", {**spec, "feature_weights": str(weights)}, tmp_path / "x.npy")
    x = np.load(path)
    assert x.shape == (36, 4096) and x.dtype == np.float32
    np.testing.assert_allclose(x[data.split["train"]].mean(axis=0), 0, atol=1e-4)  # centred by the training mean


def test_array_images_keep_the_embedded_fast_path(digits_dir):
    data = splits.load(digits_dir)
    source = data.deep_input({})
    assert isinstance(source, images.ArrayImages) and source.channels == 1 and source.size == (8, 8)
    first = next(source.encode_batches(4, "cpu"))
    assert first.shape == (4, 1, 8, 8) and 0 <= float(first.min()) and float(first.max()) <= 1


def test_rng_state_before_an_iteration_survives_a_loader_drawing_ahead():
    drawn = Batches(np.random.default_rng(1), 50, 4, 0, 10, seed=1)
    ahead = iter(drawn)
    seen = [next(ahead) for _ in range(6)]  # a prefetching loader is ahead of training
    rng = np.random.default_rng()
    rng.bit_generator.state = drawn.state_before(3)
    np.testing.assert_array_equal(rng.choice(50, 4, replace=False), seen[3][1])


@pytest.mark.slow
def test_a_run_interrupted_while_the_loader_prefetches_resumes_to_the_same_codes(toy_data, tmp_path, monkeypatch):
    from hashbench.deep import trainer

    _, spec, data = toy_data
    source = data.pipeline_images({"resize": 36, "crop": 32}, workers=2)
    train, query = source[data.split["train"]], source[data.split["query"]]
    params = {"iterations": 12, "batch_size": 8}

    def fit(path):
        method = registry.create("HashNet", 8, 0, params)
        return method.fit(train, data.labels[data.split["train"]],
                          trainer=trainer.Trainer({"checkpoint_every": 5, "device": "cpu"}, path))

    whole = fit(None)
    save = trainer._save_checkpoint

    def save_then_die(path, state):
        save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "checkpoint.pt")
    monkeypatch.setattr(trainer, "_save_checkpoint", save)
    resumed = fit(tmp_path / "checkpoint.pt")
    assert resumed.loss_history_ == whole.loss_history_
    np.testing.assert_array_equal(resumed.encode(query), whole.encode(query))
