"""The one training loop of every deep method, as Lightning's Trainer: seeded, deterministic on CPU,
checkpointed, logged. The runner says how to run (execution settings, the checkpoint path, the
pretrained weights file, threads) and gets back what the run measured; the method holds only its
hyperparameters and, after ``fit``, its learned state (``network_``, ``loss_history_``)."""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hashbench import settings
from hashbench.deep import backbones, optim, weights
from hashbench.errors import HashbenchError

log = logging.getLogger("hashbench")


def resolve_device(name: str) -> torch.device:
    """An execution device setting ("auto": cuda if available, else cpu) as a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise HashbenchError("execution.device: 'cuda', but torch sees no CUDA device here; use 'auto' or 'cpu'")
    return torch.device(name)


class Network(torch.nn.Module):
    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, x):
        return self.head(self.backbone(x))


def build(method, X, n_labels: int, weights_file=None) -> Network:
    torch.manual_seed(method.seed)
    body, dim = backbones.create(method.backbone, method.pretrained, weights_file or method.weights, X.channels,
                                 X.size)
    return Network(body, method.build_head(dim, n_labels))


class Batches:
    """The mini-batch index of each iteration, drawn from the run's numpy RNG. A loader may draw
    ahead of training; the RNG state before each draw is kept so that a checkpoint stores the
    state as of the iteration it was taken at."""

    def __init__(self, rng: np.random.Generator, n: int, size: int, start: int, stop: int, seed: int):
        self.rng, self.n, self.size, self.start, self.stop, self.seed = rng, n, size, start, stop, seed
        self.states: dict[int, dict] = {}

    def __iter__(self):
        for iteration in range(self.start, self.stop):
            self.states[iteration] = self.rng.bit_generator.state
            yield iteration, self.rng.choice(self.n, self.size, replace=False)

    def state_before(self, iteration: int) -> dict:
        """The RNG state before drawing ``iteration``'s batch (the current state if not drawn yet)."""
        for old in [k for k in self.states if k < iteration]:
            del self.states[old]
        return self.states.get(iteration, self.rng.bit_generator.state)


def _save_checkpoint(path: Path, state: dict) -> None:
    from hashbench.io import atomic_path, cannot_write

    with atomic_path(path) as tmp:
        try:
            torch.save(state, tmp)
        except RuntimeError as exc:  # torch's writer fails so on a full disk ("enforce fail at inline_container.cc")
            raise cannot_write(path, exc) from None


def checkpoint_state(network, optimizer, scheduler, device: torch.device, numpy_state: dict, history: list,
                     iteration: int, prepared: dict | None = None, parts: list | None = None) -> dict:
    """Everything a resumed run needs: weights, optimiser state (momentum buffers, Adam's moments and
    step counts, RMSprop's averages) and the schedule's state (the decayed learning rates), every RNG (CPU, and the CUDA generator of ``device`` when training on one), the
    loss history, the iteration, what the method's ``prepare`` computed (its ``prepared``
    attributes) and ``parts``: the training seconds of each part of the run so far (one per
    session, each up to its latest checkpoint), so that a resumed run's record has them all."""
    state = {"network": network.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "torch_rng": torch.get_rng_state(),
             "numpy_rng": numpy_state, "history": history, "iteration": iteration, "prepared": prepared or {},
             "parts": parts or []}
    if device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    return state


def restore(path: Path, network, optimizer, scheduler, device: torch.device) -> dict:
    """Load a checkpoint written by ``checkpoint_state`` into a network, optimiser and schedule that
    already live on ``device``. The file is read to the CPU (RNG states must stay CPU byte tensors); weights and
    optimiser state are then copied to wherever the parameters are. Returns the checkpoint."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "scheduler" not in state:
        raise HashbenchError(f"{path}: a checkpoint written before training recipes (it holds no schedule "
                             "state); remove it to train this run from the start")
    network.load_state_dict(state["network"])
    optimizer.load_state_dict(state["optimizer"])  # moves its state to the parameters' device
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return state


def set_precision(device: torch.device, tf32: bool) -> str:
    """float32 throughout unless ``tf32`` lets CUDA's matrix products and convolutions round their
    inputs to TF32 (torch leaves it on for cuDNN convolutions by default: set here either way).
    Returns what ran, for run.json: "fp32", or "fp32 with TF32 matmul/conv" on CUDA."""
    if device.type != "cuda":
        return "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return "fp32 with TF32 matmul/conv" if tf32 else "fp32"


def make_deterministic(device: torch.device) -> None:
    """Deterministic kernels where torch has them. On CUDA: cuBLAS's fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG``, read when cuBLAS starts, so set before any CUDA work unless the
    user set it), cuDNN's deterministic algorithms without autotuning. Everywhere: torch's
    deterministic-algorithms flag, warning where an op has none (``NondeterministicOps`` lists
    them in run.json). ``torch.use_deterministic_algorithms`` also sets the flag in inductor's
    config, importing inductor: 1.7 s per training job. Nothing here is compiled, so the flag is set
    alone where torch offers that."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        set_flag(True, warn_only=True)


class NondeterministicOps(warnings.catch_warnings):
    """Within it, torch's warnings that an op has no deterministic kernel (on CUDA: e.g. some pooling
    and scatter backward passes) are collected as ``ops`` (op names, once each) instead of shown;
    every other warning is shown once, as Python would."""

    MARK = " does not have a deterministic implementation"

    def __init__(self):
        super().__init__(record=True)
        self.ops: list[str] = []

    def __enter__(self):
        self._caught = super().__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        super().__exit__(*exc)
        shown = set()
        for w in self._caught:
            text = str(w.message)
            if self.MARK in text:
                op = text.split(self.MARK)[0].strip()
                if op not in self.ops:
                    self.ops.append(op)
            elif (text, w.category, w.filename, w.lineno) not in shown:
                shown.add((text, w.category, w.filename, w.lineno))
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False


class History:
    """The loss history, one [iteration, J(g), L(h)] row every ``every`` iterations and at the last:
    the losses stay on the device and are read back in one transfer when ``rows`` is asked for (a
    log line, a checkpoint, the end), so that training never waits for the device in between."""

    def __init__(self, rows: list, every: int, last: int):
        self._rows, self.every, self.last, self._pending = rows, every, last, []

    def records(self, iteration: int) -> bool:
        """Whether the row of 0-based ``iteration`` is recorded (its L(h) evaluated)."""
        return (iteration + 1) % self.every == 0 or iteration + 1 == self.last

    def add(self, iteration: int, loss, binary_loss) -> None:
        self._pending.append((iteration + 1, torch.stack([loss.detach(), binary_loss.detach()])))

    @property
    def rows(self) -> list:
        if self._pending:
            values = torch.stack([v for _, v in self._pending]).double().cpu().tolist()
            self._rows.extend([it, *v] for (it, _), v in zip(self._pending, values))
            self._pending = []
        return self._rows


class Trainer:
    """Trains a DeepHashMethod. ``execution``: how (``hashbench.settings.EXECUTION_DEFAULTS`` under the
    given keys: device, checkpoint_every, history_every); ``checkpoint_path``: where to checkpoint
    and resume from (None: no checkpoints); ``weights_file``: the pretrained weights file (default:
    the method's ``weights``); ``threads``: torch's CPU threads (None: as they are)."""

    def __init__(self, execution: dict | None = None, checkpoint_path=None, weights_file=None,
                 threads: int | None = None):
        self.execution = settings.execution(execution)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.weights_file = weights_file
        self.threads = threads
        self.measured: dict = {}

    def fit(self, method, X, Y: np.ndarray) -> dict:
        """Fit ``method`` on the image set X (``hashbench.deep.images``) and labels Y; sets its
        network_ and loss_history_ (``History``: one [iteration, J(g), L(h)] row every
        ``history_every`` iterations); resumes from the checkpoint when there is one. Returns what
        the run measured and trained with, for run.json: device, threads, precision,
        nondeterministic ops, execution, optimiser settings, the weights file's record and
        ``earlier_parts``: the training seconds of the killed sessions this run resumed from (also
        kept as ``measured``)."""
        began = time.perf_counter()
        if self.threads:
            torch.set_num_threads(self.threads)
        execution = self.execution
        device = resolve_device(execution["device"])
        make_deterministic(device)
        measured = {"device": str(device), "precision": set_precision(device, method.tf32),
                    "threads": torch.get_num_threads(),  # CPU results depend on it
                    "execution": dict(execution), "optimiser": method.resolved(),
                    "weights": weights.record(self.weights_file or method.weights) if method.pretrained else None}
        rng = np.random.default_rng(method.seed)
        network = build(method, X, Y.shape[1], self.weights_file).to(device, memory_format=torch.channels_last)
        head_params = list(network.head.parameters())
        head_ids = {id(p) for p in head_params}
        optimizer, scheduler = optim.build(method, [p for p in network.parameters() if id(p) not in head_ids],
                                           head_params)
        rows, start, earlier = [], 0, []
        checkpoint = self.checkpoint_path

        def save(iteration: int, numpy_state: dict, history_rows: list) -> None:
            prepared = {name: getattr(method, name) for name in method.prepared}
            parts = [*earlier, time.perf_counter() - began]
            _save_checkpoint(checkpoint, checkpoint_state(network, optimizer, scheduler, device, numpy_state, history_rows,
                                                          iteration, prepared, parts))

        if checkpoint is not None and checkpoint.exists():
            state = restore(checkpoint, network, optimizer, scheduler, device)
            rng.bit_generator.state = state["numpy_rng"]
            rows, start, earlier = state["history"], state["iteration"], list(state.get("parts", []))
            for name, value in state["prepared"].items():
                setattr(method, name, value)
            log.info("resuming from %s at iteration %d", checkpoint, start)
        else:
            method.prepare(Y, rng)
            if checkpoint is not None and method.prepared:  # a costly preparation is not redone after a kill
                save(0, rng.bit_generator.state, rows)
        labels = torch.from_numpy(Y).to(device)
        history = History(rows, execution["history_every"], method.iterations)
        every = execution["checkpoint_every"]
        network.train()
        bar = tqdm(range(start, method.iterations), initial=start, total=method.iterations, desc=method.name,
                   disable=None, mininterval=2.0)
        batches = Batches(rng, len(X), method.batch_size, start, method.iterations, method.seed)
        with NondeterministicOps() as nondeterministic:
            for it, (index, images) in zip(bar, X.train_batches(batches, device)):
                z = network(images)
                batch_index = torch.from_numpy(index).to(device, non_blocking=True)
                batch_labels = labels[batch_index]
                codes = method.activation(z, it)
                method.observe(codes.detach(), batch_index)
                loss = method.loss(codes, batch_labels, batch_index)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                if history.records(it):
                    with torch.no_grad():
                        history.add(it, loss, method.loss(method.binarize(z), batch_labels, batch_index))
                if (it + 1) % 50 == 0 or it + 1 == method.iterations:
                    last = history.rows[-1] if history.rows else [it + 1, float("nan"), float("nan")]
                    bar.set_postfix(loss=f"{last[1]:.4f}", refresh=False)
                    log.info("iteration %d loss J(g) %.6f L(h) %.6f", *last)
                if checkpoint is not None and ((it + 1) % every == 0 or it + 1 == method.iterations):
                    # the last one too: a job killed while encoding resumes with training done; the runner
                    # removes the checkpoint once the codes are written
                    save(it + 1, batches.state_before(it + 1), history.rows)
        method.network_ = network.eval()
        method.loss_history_ = history.rows
        self.measured = {**measured, "nondeterministic": nondeterministic.ops, "earlier_parts": earlier}
        return self.measured


def encode_batch_size(device: torch.device) -> int:
    """How many images a trained network encodes at once: 64 on a CPU, where a batch's activations
    stay in the caches (same outputs as in batches of 256; speed: bench/bench_encode.py), 256 on an
    accelerator."""
    return 64 if device.type == "cpu" else 256


def forward(method, X) -> np.ndarray:
    """Hash-layer outputs z of the trained network."""
    network = method.network_
    return outputs(network, X, encode_batch_size(next(network.parameters()).device))


@torch.no_grad()
def outputs(network, X, batch_size: int) -> np.ndarray:
    """A network's outputs on an image set, in batches on the network's device; for ten crops per
    image (N, 10, C, H, W) the mean over the crops."""
    from hashbench.deep.images import as_image_set

    device = next(network.parameters()).device
    X, out = as_image_set(X), []
    for images in tqdm(X.encode_batches(batch_size, device), total=-(-len(X) // batch_size), desc="encoding",
                       disable=None, mininterval=2.0):
        if images.dim() == 5:
            n, crops = images.shape[:2]
            out.append(network(images.flatten(0, 1).contiguous(memory_format=torch.channels_last))
                       .view(n, crops, -1).mean(1).cpu())
        else:
            out.append(network(images).cpu())
    return torch.cat(out).numpy()
