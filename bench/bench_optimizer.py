"""What torch.optim costs a deep training job: the wall time of a fresh process's first optimiser
step with torch.optim (SGD with Nesterov momentum, Adam), and the steps after it, against the same
update written with plain tensor operations, which imports nothing more.

    python bench/bench_optimizer.py [--repeats 3] [--steps 20]

Each measurement is a fresh Python process (the cost is paid once per process: torch.optim imports
torch._dynamo on a first step): import torch, build the embedded protocols' small CNN, then time one
forward/backward/update step on a batch of 64 random 28 x 28 images, then ``--steps`` more. Prints
the medians for each variant beside the plain update's: the first step's excess is the fixed price
per job of hashbench.deep.optim over the hand-written SGD the suite had before.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CHILD = """
import time, torch
from hashbench.deep.backbones import create
torch.manual_seed(0); torch.set_num_threads(1)
body, dim = create("smallcnn", False, None, 1, (28, 28))
net = torch.nn.Sequential(body, torch.nn.Linear(dim, 64))
params = [p for p in net.parameters()]
x = torch.rand(64, 1, 28, 28)
kind = "{kind}"
if kind == "sgd":
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4, foreach=True)
elif kind == "adam":
    opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
buf = [torch.zeros_like(p) for p in params]


def step():
    loss = net(x).tanh().square().mean()
    net.zero_grad()
    loss.backward()
    if kind == "plain":
        with torch.no_grad():
            for p, b in zip(params, buf):
                g = p.grad + 5e-4 * p
                b.mul_(0.9).add_(g)
                p.sub_(0.01 * (g + 0.9 * b))
    else:
        opt.step()


net(x).sum().backward()  # autograd's own first-use cost, outside both timings
start = time.perf_counter()
step()
first = time.perf_counter() - start
start = time.perf_counter()
for _ in range({steps}):
    step()
print(first, (time.perf_counter() - start) / {steps})
"""


def measure(kind: str, steps: int) -> tuple[float, float]:
    """(seconds of the first step, mean seconds of the next ``steps``) in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD.format(kind=kind, steps=steps)], check=True,
                         capture_output=True, text=True)
    first, rest = out.stdout.strip().splitlines()[-1].split()
    return float(first), float(rest)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    times = {}
    for kind in ("plain", "sgd", "adam"):
        runs = [measure(kind, args.steps) for _ in range(args.repeats)]
        times[kind] = tuple(statistics.median(r[i] for r in runs) for i in (0, 1))
    print(f"a fresh process's first step, then the mean of the next {args.steps}; medians of {args.repeats}:")
    plain_first, plain_step = times["plain"]
    for kind, (first, step) in times.items():
        print(f"  {kind:6s} first step {first:6.3f} s (+{first - plain_first:6.3f} s over plain)   "
              f"then {1000 * step:6.1f} ms a step (x{step / plain_step:.2f} plain)")


if __name__ == "__main__":
    main()
