"""Image loading speed of the deep methods: the PIL path against the device path, files against the cache.

    python bench/bench_loader.py [--images 2000] [--batch 72] [--workers 0 2] [--device cpu cuda]

Writes --images synthetic 500 x 375 JPEGs (the typical ImageNet/COCO photo size) to a temporary
folder, prepares them as an image-list protocol, builds its image cache (``hashbench cache-images``)
and prints images per second of
  * the training pipeline (resize 256, a crop of 224: "random" as the released Caffe code or
    "random-resized" as the released PyTorch code, flip, normalise) and the encoding pipeline
    (centre crop; ten crops), from the files and from the cache,
  * for each ``augment``: "pil" (every sample through PIL in a loader process, the former only
    path) and "device" (batches gathered from the cache, cropped, flipped and normalised as tensors
    on the device), for each number of loader workers, with the ratio device / pil;
  * how far the device path's "random-resized" pixels are from PIL's (same crops, torchvision's
    tensor resize against PIL's), in uint8 levels;
then the raw JPEG decode rate of PIL and of torchvision.io.decode_jpeg on the CPU (and on CUDA
when a GPU is present), the step the cache takes off the training path.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hashbench import layout
from hashbench.data import splits
from hashbench.deep import images
from hashbench.deep.trainer import Batches
from hashbench.stages.features import write_image_cache


def synthetic_jpegs(root: Path, n: int, classes: int = 10) -> dict:
    """n 500 x 375 JPEGs with photo-like content (smooth colour fields plus noise) and list files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    lines = []
    yy, xx = np.mgrid[0:375, 0:500].astype(np.float32)
    for i in range(n):
        a, b, c = rng.uniform(0.005, 0.05, 3)
        base = np.stack([np.sin(a * xx + i), np.cos(b * yy), np.sin(c * (xx + yy))], axis=-1)
        pixels = np.clip(127 + 100 * base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        name = f"images/{i:05d}.jpg"
        Image.fromarray(pixels).save(root / name, quality=90)
        lines.append(f"{name} " + " ".join("1" if k == i % classes else "0" for k in range(classes)))
    n_query = max(n // 10, 1)
    lists = {"query": lines[:n_query], "database": lines[n_query:], "train": lines[n_query:n_query + n // 2]}
    paths = {}
    for name, rows in lists.items():
        paths[name] = str(root / f"{name}.txt")
        Path(paths[name]).write_text("\n".join(rows) + "\n")
    return paths


def rate(n: int, run) -> float:
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def training_rate(source, batch: int, iterations: int, device: str) -> float:
    warm_up = Batches(np.random.default_rng(1), len(source), batch, 0, 1, seed=1)  # numba compiles, CUDA starts
    for _ in source.train_batches(warm_up, device):
        pass
    drawn = Batches(np.random.default_rng(0), len(source), batch, 0, iterations, seed=0)

    def run():
        for _, x in source.train_batches(drawn, device):
            pass
        if device == "cuda":
            torch.cuda.synchronize()

    return rate(batch * iterations, run)


def encoding_rate(source, batch: int, device: str) -> float:
    next(iter(source[np.arange(min(batch, len(source)))].encode_batches(batch, device)))  # warm up

    def run():
        for _ in source.encode_batches(batch, device):
            pass
        if device == "cuda":
            torch.cuda.synchronize()

    return rate(len(source), run)


def pixel_difference(data, batch: int) -> tuple[float, float, float]:
    """The device path's random-resized crops against PIL's, in uint8 levels: mean |difference|, the
    share of values that differ, the largest difference (the normalisation undone)."""
    std = torch.tensor(images.IMAGENET_STD).view(1, 3, 1, 1)
    out = []
    for augment in ("pil", "device"):
        source = data.pipeline_images({"train_crop": "random-resized", "augment": augment}, workers=0)
        drawn = Batches(np.random.default_rng(1), len(source), batch, 0, 2, seed=1)
        out.append(torch.cat([x.float() for _, x in source.train_batches(drawn, "cpu")]))
    levels = ((out[1] - out[0]) * std * 255).abs()
    return float(levels.mean()), float((levels > 0.5).float().mean()), float(levels.max())


def decode_rates(paths, device_names) -> dict[str, float]:
    from PIL import Image
    from torchvision.io import decode_jpeg, read_file

    data = [read_file(str(p)) for p in paths]
    out = {"PIL (cpu)": rate(len(paths), lambda: [Image.open(str(p)).convert("RGB") for p in paths])}
    out["torchvision decode_jpeg (cpu)"] = rate(len(data), lambda: [decode_jpeg(d) for d in data])
    if "cuda" in device_names:
        decode_jpeg(data[:8], device="cuda")  # warm up
        torch.cuda.synchronize()

        def gpu():
            for i in range(0, len(data), 64):
                decode_jpeg(data[i:i + 64], device="cuda")
            torch.cuda.synchronize()

        out["torchvision decode_jpeg (cuda, batches of 64)"] = rate(len(data), gpu)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--batch", type=int, default=72, help="training batch (the released 2 x 36)")
    p.add_argument("--iterations", type=int, default=20, help="training batches timed per configuration")
    p.add_argument("--workers", type=int, nargs="+", default=sorted({0, 2, os.cpu_count() or 1}))
    p.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    args = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        lists = synthetic_jpegs(root, args.images)
        print(f"{args.images} synthetic 500x375 JPEGs written in {time.perf_counter() - start:.1f} s "
              f"({sum(f.stat().st_size for f in (root / 'images').iterdir()) / args.images / 1024:.0f} KiB each)")
        spec = {"source": "image-lists", "lists": lists, "image_root": str(root), "features": "alexnet-fc7",
                "labels": "single", "topk": 100, "seed": 0}
        splits.prepare("bench", spec, root / "data")
        data = splits.load(root / "data")
        cache = root / "data" / layout.image_cache_file(256)
        print(f"cache build (decode + resize 256 once), {max(args.workers)} workers: "
              f"{rate(len(data.labels), lambda: write_image_cache(root / 'data', spec, cache, max(args.workers))):.0f}"
              f" images/s, {cache.stat().st_size / 2**20:.0f} MiB")
        print(f"{'pipeline':9s} {'crop':15s} {'device':6s} {'workers':>7s} {'source':>6s} {'pil img/s':>10s} "
              f"{'device img/s':>12s} {'device/pil':>10s}")
        for device in args.device:
            for workers in args.workers:
                for crop in ("random", "random-resized", "centre", "ten-crop"):
                    train = crop in ("random", "random-resized")
                    pipeline = {"workers": workers, "train_crop": crop if train else "random",
                                "ten_crop": crop == "ten-crop"}
                    for where, cached in (("files", False), ("cache", True)):
                        rates = []
                        for augment in ("pil", "device"):
                            source = data.pipeline_images({**pipeline, "cache": cached, "augment": augment}, workers=0)
                            assert isinstance(source.source, images.ImageCache) == cached
                            rates.append(training_rate(source, args.batch, args.iterations, device) if train
                                         else encoding_rate(source, 256, device))
                        print(f"{'training' if train else 'encoding':9s} {crop:15s} {device:6s} {workers:7d} "
                              f"{where:>6s} {rates[0]:10.0f} {rates[1]:12.0f} {rates[1] / rates[0]:9.1f}x")
        mean, share, largest = pixel_difference(data, args.batch)
        print(f"random-resized, device against PIL (same crops): mean |difference| {mean:.3f} uint8 levels, "
              f"{100 * share:.1f}% of values differ, at most {largest:.0f} levels")
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        sample = sorted((root / "images").iterdir())[:500]
        for name, value in decode_rates(sample, devices).items():
            print(f"decode only, {name}: {value:.0f} images/s")


if __name__ == "__main__":
    main()
