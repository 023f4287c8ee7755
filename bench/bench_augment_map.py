"""Does the device path's resize change what a model learns? MAP of HashNet trained with
``train_crop: random-resized`` through the PIL path and through the device path, same seeds.

    python bench/bench_augment_map.py [--seeds 0 1 2] [--iterations 300]

The two paths draw the same crop boxes and flips; they differ only in how a box is resized to the
crop (PIL's bilinear resize against torchvision's antialiased tensor resize, at most one uint8
level). Data: scikit-learn's 1,797 digits, enlarged to 64 x 64 RGB (resize 64, crop 56), 300
queries, the rest the database, 1,000 of it for training; a small CNN from scratch. Prints each
seed's MAP over the whole database for both paths, the mean difference and the paired
randomization test over queries of the seed-averaged AP (``hashbench.stats``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    from sklearn.datasets import load_digits

    from hashbench import metrics, registry, stats
    from hashbench.deep.images import PipelineImages
    from hashbench.deep.trainer import Trainer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--iterations", type=int, default=300)
    args = p.parse_args()
    torch.set_num_threads(1)
    digits = load_digits()
    grey = np.kron(digits.images / 16.0, np.ones((8, 8)))
    tint = np.stack([0.6 + 0.4 * ((digits.target >> k) & 1) for k in range(3)], 1)[:, None, None, :]
    images = np.clip(255 * grey[..., None] * tint, 0, 255).astype(np.uint8)
    labels = np.eye(10, dtype=np.float32)[digits.target]
    order = np.random.default_rng(0).permutation(len(labels))
    query, database = order[:300], order[300:]
    train = database[:1000]
    ap, maps = {}, {}
    for augment in ("pil", "device"):
        source = PipelineImages(images, {"resize": 64, "crop": 56, "train_crop": "random-resized", "ten_crop": False,
                                         "augment": augment, "cache": True, "workers": 0})
        for seed in args.seeds:
            method = registry.create("HashNet", 32, seed, {"iterations": args.iterations, "batch_size": 64})
            method.fit(source[train], labels[train], trainer=Trainer({"device": "cpu"}))
            result = metrics.evaluate(method.encode(source[query]), method.encode(source[database]), labels[query],
                                      labels[database], len(database), precision_at=(), per_query=True)
            maps[augment, seed], ap[augment, seed] = result["map"], result["per_query"]["ap"]
            print(f"seed {seed} {augment:6s}: MAP {result['map']:.4f}", flush=True)
    diff = [maps["device", s] - maps["pil", s] for s in args.seeds]
    a, b = (np.mean([ap[k, s] for s in args.seeds], axis=0) for k in ("device", "pil"))
    print(f"device - pil: mean {np.mean(diff):+.4f} MAP over {len(args.seeds)} seeds (each: "
          + ", ".join(f"{d:+.4f}" for d in diff) + f"); paired randomization test p = "
          f"{stats.paired_randomization_test(a, b, 10000, 0):.3f}")


if __name__ == "__main__":
    main()
