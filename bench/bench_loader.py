"""Image loading speed of the deep methods: decoding the files every time vs the protocol's image cache.

    python bench/bench_loader.py [--images 2000] [--batch 72] [--workers 0 2 4]

Writes --images synthetic 500 x 375 JPEGs (the typical ImageNet/COCO photo size) to a temporary
folder, prepares them as an image-list protocol, and prints images per second of
  * the training pipeline (resize 256, random-resized crop 224, flip, normalise) reading the files,
  * building the image cache (``hashbench cache-images``: decode and resize once),
  * the same training pipeline reading the cache,
  * the encoding pipeline (resize, centre crop) from files and from the cache,
for each number of loader workers, and the ratio cache / files; then the raw JPEG decode rate of
PIL and of torchvision.io.decode_jpeg on the CPU (and on CUDA when a GPU is present), the step the
cache takes off the training path.
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
from hashbench.deep.loop import Batches
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


def training_rate(source, batch: int, iterations: int) -> float:
    drawn = Batches(np.random.default_rng(0), len(source), batch, 0, iterations, seed=0)
    return rate(batch * iterations, lambda: [x for _, x in source.train_batches(drawn, "cpu")])


def encoding_rate(source, batch: int) -> float:
    return rate(len(source), lambda: [x for x in source.encode_batches(batch, "cpu")])


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
        print(f"{'pipeline':10s} {'workers':>7s} {'files img/s':>12s} {'cache img/s':>12s} {'cache/files':>12s}")
        for workers in args.workers:
            pipeline = {"workers": workers}
            files, cached = data.pipeline_images({**pipeline, "cache": False}), data.pipeline_images(pipeline)
            assert isinstance(cached.source, images.ImageCache)
            for name, measure in (("training", lambda s: training_rate(s, args.batch, args.iterations)),
                                  ("encoding", lambda s: encoding_rate(s, 256))):
                a, b = measure(files), measure(cached)
                print(f"{name:10s} {workers:7d} {a:12.0f} {b:12.0f} {b / a:11.2f}x")
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        sample = sorted((root / "images").iterdir())[:500]
        for name, value in decode_rates(sample, devices).items():
            print(f"decode only, {name}: {value:.0f} images/s")


if __name__ == "__main__":
    main()
