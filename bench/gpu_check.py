"""The paper's training path at GPU scale: is the GPU kept busy, and does a killed run resume exactly?

    python bench/gpu_check.py [--images 4000] [--iterations 300] [--batch 512] [--kill-at 150]
    python bench/gpu_check.py --device cpu --images 96 --iterations 6 --batch 8 --kill-at 3 --resize 72 --crop 64

Writes --images synthetic photo-like images as a protocol image cache (uint8, resize x resize; the
file rule image_cache writes), and a saved AlexNet state_dict standing in for the ImageNet weights;
then trains HashNet with the released Caffe solver's setting (AlexNet, batch --batch, random crop
and mirror on the device path, lr 0.0002, plain momentum) twice, each in its own process:
  * uninterrupted, while nvidia-smi samples the GPU's utilisation every 0.2 s;
  * killed (SIGKILL) once its checkpoint at --kill-at is written, then run again to resume.
Prints images/s of training (from the first batch's arrival: the network built, the weights
loaded), GPU utilisation during training (mean and median of the samples),
peak GPU memory, and whether the resumed run's codes of 1,000 images equal the uninterrupted
run's. Target on one modern GPU: utilisation >= 80% while training. Without a GPU it says so and
exits 2 (run the smoke form above on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def synthetic_cache(path: Path, n: int, size: int) -> None:
    """n smooth colour fields with noise, uint8 (n, size, size, 3), as the image cache's .npy."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    for i in range(n):
        a, b, c = rng.uniform(0.01, 0.08, 3)
        base = np.stack([np.sin(a * xx + i), np.cos(b * yy), np.sin(c * (xx + yy))], axis=-1)
        array[i] = np.clip(127 + 100 * base + rng.normal(0, 12, base.shape), 0, 255)
    array.flush()


def worker(args) -> None:
    """One training run in this process: resumes from its checkpoint; prints one JSON line."""
    import torch

    from hashbench import registry
    from hashbench.deep.images import ImageCache, PipelineImages
    from hashbench.deep.trainer import Trainer

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 2))
    work = Path(args.work)
    n = len(ImageCache(work / "images.npy"))
    labels = np.eye(10, dtype=np.float32)[np.arange(n) % 10]
    images = PipelineImages(ImageCache(work / "images.npy"), {"resize": args.resize, "crop": args.crop,
                                                             "train_crop": "random", "ten_crop": False,
                                                             "augment": "device", "cache": True, "workers": 0})
    params = {"backbone": "alexnet", "pretrained": True, "weights": str(work / "alexnet.pt"),
              "iterations": args.iterations, "batch_size": args.batch, "lr": 0.0002, "nesterov": False,
              "lr_step": 2000, "lr_gamma": 0.5, "weighting": "released", "similar_weight": 10}
    method = registry.create("HashNet", 64, 0, params)
    out = work / args.run
    trainer = Trainer({"device": args.device, "checkpoint_every": args.kill_at, "history_every": 10},
                      out / "checkpoint.pt")
    start_iteration = 0
    if trainer.checkpoint_path.exists():
        start_iteration = torch.load(trainer.checkpoint_path, map_location="cpu", weights_only=False)["iteration"]
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    first = {}
    batches = images.train_batches

    def timed(drawn, device):  # the clock starts at the first batch: network built, weights loaded
        for i, item in enumerate(batches(drawn, device)):
            if i == 0:
                first["time"], first["clock"] = time.time(), time.perf_counter()
            yield item

    images.train_batches = timed
    method.fit(images, labels, trainer=trainer)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - first["clock"]
    print(json.dumps({"event": "training", "time": first["time"]}), flush=True)
    print(json.dumps({"event": "trained", "time": time.time()}), flush=True)
    codes = method.encode(images[np.arange(min(1000, n))])
    np.save(out / "codes.npy", codes)
    timed_iterations = args.iterations - start_iteration - 1  # after the first batch's arrival
    print(json.dumps({"event": "done", "seconds": seconds, "iterations": args.iterations - start_iteration,
                      "images_per_s": timed_iterations * args.batch / seconds,
                      "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
                      "nondeterministic": trainer.measured["nondeterministic"]}), flush=True)


def sample_utilisation(stop: threading.Event, samples: list) -> None:
    while not stop.is_set():
        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            samples.append((time.time(), float(out.stdout.split()[0])))
        time.sleep(0.2)


def run(args, name: str, kill_after_checkpoint: bool = False) -> dict:
    command = [sys.executable, __file__, "--worker", "--work", args.work, "--run", name]
    command += [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                if k in ("iterations", "batch", "kill_at", "device", "resize", "crop")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if kill_after_checkpoint:
        checkpoint = Path(args.work) / name / "checkpoint.pt"
        while not checkpoint.exists() and process.poll() is None:
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait()
        return {"killed": True}
    events = {}
    for line in process.stdout:
        record = json.loads(line)
        events[record.pop("event")] = record
    if process.wait() != 0:
        raise SystemExit(f"the {name} run failed (exit {process.returncode})")
    return events


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=4000)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--kill-at", type=int, default=150, help="the checkpoint after which the run is killed")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--resize", type=int, default=256)
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--run", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no GPU available: torch sees no CUDA device (a smoke run on the CPU: --device cpu, see --help)")
        raise SystemExit(2)
    with tempfile.TemporaryDirectory() as tmp:
        args.work = tmp
        start = time.perf_counter()
        synthetic_cache(Path(tmp) / "images.npy", args.images, args.resize)
        import torchvision

        torch.manual_seed(0)
        torch.save(torchvision.models.alexnet().state_dict(), Path(tmp) / "alexnet.pt")
        print(f"{args.images} synthetic {args.resize}x{args.resize} images and AlexNet weights written in "
              f"{time.perf_counter() - start:.1f} s")
        if args.device == "cuda":
            print(f"GPU: {torch.cuda.get_device_name(0)}")
        stop, samples = threading.Event(), []
        sampler = threading.Thread(target=sample_utilisation, args=(stop, samples), daemon=True)
        if args.device == "cuda":
            sampler.start()
        whole = run(args, "whole")
        stop.set()
        during = [u for t, u in samples if whole["training"]["time"] <= t <= whole["trained"]["time"]]
        done = whole["done"]
        print(f"uninterrupted: {done['iterations']} iterations x {args.batch} images in {done['seconds']:.1f} s, "
              f"{done['images_per_s']:.0f} images/s")
        if args.device == "cuda":
            print(f"GPU utilisation while training: mean {np.mean(during):.0f}%, median {np.median(during):.0f}% "
                  f"({len(during)} samples); peak memory {done['peak_memory_gib']:.1f} GiB")
        print(f"ops without a deterministic kernel: {done['nondeterministic'] or 'none'}")
        run(args, "resumed", kill_after_checkpoint=True)
        resumed = run(args, "resumed")["done"]
        a, b = (np.load(Path(tmp) / name / "codes.npy") for name in ("whole", "resumed"))
        print(f"killed at the iteration-{args.kill_at} checkpoint and resumed: {resumed['iterations']} more "
              f"iterations, {resumed['images_per_s']:.0f} images/s")
        print(f"resumed codes equal the uninterrupted run's: {'yes' if np.array_equal(a, b) else 'no'} "
              f"({int((a != b).sum())} of {a.size} bits differ)")


if __name__ == "__main__":
    main()
