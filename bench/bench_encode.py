"""Encoding speed of a trained deep method's network on a CPU, by batch size.

    python bench/bench_encode.py [--images 20000] [--bits 64] [--threads 1] [--batches 256 64 32]

A deep run of the embedded protocols encodes every image once at the end of training (70,000 on
``fashion``). This times ``hashbench.deep.trainer.outputs`` of the small CNN with a hash layer, in
one process, on ``--images`` random 28x28 one-channel images (``fashion``'s shape) at each batch
size, and prints images per second, the ratio to the first batch size and whether the outputs
(and so the codes) are the same bit for bit. The workflow's jobs run one thread each; the default
batch on a CPU is ``hashbench.deep.trainer.encode_batch_size``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hashbench.deep.backbones import SmallCNN
from hashbench.deep.images import ArrayImages
from hashbench.deep.trainer import encode_batch_size, outputs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--bits", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, nargs="+", default=[256, 64, 32])
    p.add_argument("--repeats", type=int, default=2, help="the best of this many passes per batch size")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    network = torch.nn.Sequential(SmallCNN(1, (28, 28)), torch.nn.Linear(256, args.bits)).eval()
    images = ArrayImages(np.random.default_rng(0).integers(0, 256, (args.images, 28, 28), dtype=np.uint8), 255.0)
    print(f"{args.images} images 28x28, small CNN + {args.bits}-bit hash layer, {args.threads} thread(s); "
          f"the CPU default batch: {encode_batch_size(torch.device('cpu'))}")
    first = None
    for batch in args.batches:
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            z = outputs(network, images, batch)
            best = min(best, time.perf_counter() - start)
        if first is None:
            first = (batch, best, z)
        same, same_codes = np.array_equal(z, first[2]), np.array_equal(z >= 0, first[2] >= 0)
        print(f"batch {batch:5d}: {args.images / best:8.0f} images/s  {first[1] / best:5.2f}x batch {first[0]}  "
              f"outputs {'identical' if same else 'DIFFER'} (codes {'identical' if same_codes else 'DIFFER'})")


if __name__ == "__main__":
    main()
