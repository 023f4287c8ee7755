"""The base class of deep hashing methods: a method supplies its head, activation and loss; the
shared loop in ``hashbench.deep.loop`` owns seeding, device, optimisation, checkpoints and logging.

The contract of a deep method, in one place (the plugin tutorial, examples/hashbench-dpsh, follows it).
A subclass sets ``name`` (and ``supervised``), takes its own hyperparameters as ``__init__``
keyword arguments next to ``**training``, and overrides ``loss``; every other hook has a default.
Tensors are torch tensors on the training device (import torch inside the hooks: listing methods
stays cheap). Each training step, the loop draws a mini-batch and calls, in this order:
  z = network(images)           backbone, then the head from ``build_head``: (B, K) outputs
  g = activation(z, iteration)  continuous codes for training; default tanh(z)
  observe(g.detach(), index)    default nothing; where state that lives across steps is updated
                                (e.g. DPSH's bank of every training item's outputs)
  loss(g, labels, index)        the training loss J(g), a scalar; backpropagated, one SGD step
and every ``execution.history_every`` steps once more, under torch.no_grad(), on h = binarize(z):
  loss(h, labels, index)        L(h), for the loss figure (HashNet Fig. 6); must not change state.
``labels`` is the batch's rows of the training label matrix (B x C, 0/1 floats); ``index`` (B,
int64, on the device) the batch's positions in the training subset, 0..n-1, in the order of the
``Y`` given to ``prepare``: the row numbers of any per-item state.
Hooks:
  build_head(feature_dim, n_labels)  the hash layer, a torch module from the backbone's features to
                               K outputs; default fc(d -> K), weights N(0, 0.01), bias 0.
                               ``n_labels`` is C, for heads with a classifier or class codewords;
                               tensors registered as buffers (fixed codewords) are checkpointed
                               with the weights
  prepare(Y, rng)              once before the first step of a fresh run (e.g. CNNH's stage 1),
                               with the training labels (n x C) and the run's numpy RNG
  observe(codes, index)        see above
  activation(z, iteration)     see above; ``iteration`` counts from 0 (continuation schedules)
  binarize(z)                  binary codes in the space the loss reads; default sgn(z) in {-1,+1}
  loss(codes, labels, index)   see above
  diagnostics(z)               numbers about the trained outputs z of the database, stored in
                               run.json under "diagnostics" (e.g. DNNH's dead outputs); default none
  validate()                   the hyperparameters' ranges (call super().validate() first), checked
                               when the config is read
The codes stored for evaluation are always sgn(z) of the trained network (eval mode), one pass.
State that survives a resume: the network's weights and buffers, the optimiser, every RNG and the
loss history are checkpointed by the loop. A method's own state that is not a weight (what
``prepare`` computed, a bank ``observe`` updates) must be named in the class attribute
``prepared``: those attributes are saved with every checkpoint, as they are at that step, and a
resumed run restores them instead of calling ``prepare``; whatever a resumed run would recompute
differently is state, and belongs there. Tensors come back on the CPU: move them to the codes'
device in the hook that uses them.
Public losses (``hashbench.deep.losses``, stable API for plugins): ``similarity`` and
``similarity_between`` (s_ij of label rows), ``softplus`` (a stable log(1 + e^x)), ``pairwise_likelihood`` (HashNet's and DHN's),
``log_cosh``, ``triplet_ranking`` (DNNH's), ``cauchy_cross_entropy`` (DCH's) and
``sign_straight_through`` (GreedyHash's sgn with the identity gradient); names starting with ``_``
are not API.
The trainer's settings (``TRAINING``, shared by every deep method and written once in the config's
``training`` block): backbone, pretrained, weights, iterations, batch_size, lr (of the backbone;
the hash layer learns ``head_lr_mult`` times faster: by default 10 with a pretrained backbone, as in
the released code, and 1 when the backbone trains from scratch, where the 10x head destabilises
training on the embedded protocols), momentum 0.9 with Nesterov (``nesterov``: the released PyTorch
code; false for the released Caffe solver's plain momentum), weight_decay 5e-4, lr_step / lr_gamma
(step decay), tf32 (false: float32 throughout; true lets CUDA matrix products and convolutions use
TF32), as in the released HashNet code; the iteration count and batch size defaults are sized for
the embedded protocols. A method's own hyperparameters are the other ``__init__`` arguments.
How the run executes (``execution``: device, checkpoint_every, history_every, workers; defaults
``hashbench.config.EXECUTION_DEFAULTS``) is no hyperparameter: the runner sets it, run.json records
it, and no result depends on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashbench.base import HashMethod, require_int, require_number
from hashbench.config import EXECUTION_DEFAULTS
from hashbench.layout import CHECKPOINT, CONTINUOUS


class DeepHashMethod(HashMethod):
    is_deep = True
    prepared: tuple[str, ...] = ()
    TRAINING = ("backbone", "pretrained", "weights", "iterations", "batch_size", "lr", "head_lr_mult", "momentum",
                "nesterov", "weight_decay", "lr_step", "lr_gamma", "tf32")

    def __init__(self, n_bits=32, seed=0, backbone="smallcnn", pretrained=False, weights=None, iterations=600,
                 batch_size=64, lr=0.01, head_lr_mult=None, momentum=0.9, nesterov=True, weight_decay=5e-4, lr_step=200,
                 lr_gamma=0.5, tf32=False):
        super().__init__(n_bits, seed)
        self.backbone = backbone
        self.pretrained = pretrained
        self.weights = weights
        self.iterations = iterations
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr_mult = head_lr_mult
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.lr_step = lr_step
        self.lr_gamma = lr_gamma
        self.tf32 = tf32
        self.execution = dict(EXECUTION_DEFAULTS)  # set by the runner (hashbench.stages.train)
        self.checkpoint_path = None  # set by the runner: where to checkpoint and resume
        self.weights_file = None  # set by the runner: the pretrained weights file (default: ``weights``)

    # --- hooks ---------------------------------------------------------------------------------
    def build_head(self, feature_dim: int, n_labels: int):
        from torch import nn

        head = nn.Linear(feature_dim, self.n_bits)
        nn.init.normal_(head.weight, 0.0, 0.01)
        nn.init.zeros_(head.bias)
        return head

    def prepare(self, Y: np.ndarray, rng: np.random.Generator) -> None:
        pass

    def observe(self, codes, index) -> None:
        pass

    def activation(self, z, iteration: int):
        return z.tanh()

    def binarize(self, z):
        return (z >= 0).to(z.dtype) * 2 - 1

    def loss(self, codes, labels, index):
        raise NotImplementedError

    # --- HashMethod ----------------------------------------------------------------------------
    def validate(self) -> None:
        super().validate()
        require_int("iterations", self.iterations, 1)
        require_int("batch_size", self.batch_size, 2)
        require_int("lr_step", self.lr_step, 1)
        require_number("lr", self.lr, lambda v: v > 0, "a positive learning rate")
        require_number("momentum", self.momentum, lambda v: 0 <= v < 1, "a number in [0, 1)")
        require_number("weight_decay", self.weight_decay, lambda v: v >= 0, "a non-negative number")
        require_number("lr_gamma", self.lr_gamma, lambda v: 0 < v <= 1, "a decay factor in (0, 1]")
        if self.head_lr_mult is not None:
            require_number("head_lr_mult", self.head_lr_mult, lambda v: v > 0, "a positive number or null")

    def head_lr(self) -> float:
        multiplier = self.head_lr_mult if self.head_lr_mult is not None else 10.0 if self.pretrained else 1.0
        return self.lr * multiplier

    def fit(self, X, Y):
        """X: an image set (``hashbench.deep.images``) or an (n, C, H, W) float array in [0, 1]."""
        from hashbench.deep.images import as_image_set
        from hashbench.deep.loop import train

        X = as_image_set(X)
        self.validate()
        require_int("batch_size", self.batch_size, 2, len(X), " (the training set size)")
        train(self, X, np.asarray(Y, dtype=np.float32))
        return self

    def encode(self, X):
        return self.encode_with_continuous(X)[0]

    def encode_with_continuous(self, X):
        """The codes sgn(z) and the non-binarized outputs g at the end of training (HashNet Fig. 7),
        from one pass over X."""
        import torch

        from hashbench.deep.loop import forward

        z = forward(self, X)
        self.diagnostics_ = self.diagnostics(z)
        return (z >= 0).astype(np.int8) * 2 - 1, self.activation(torch.from_numpy(z), self.iterations).numpy()

    def diagnostics(self, z: np.ndarray) -> dict:
        return {}

    # --- run hooks (hashbench.stages.train) ----------------------------------------------------
    def inputs(self, data, protocol_def: dict, threads: int | None):
        """The protocol's images; torch and the image loaders on the job's ``threads``."""
        import torch

        if threads:
            torch.set_num_threads(threads)
        return data.deep_input(protocol_def, threads, self.execution["workers"])

    def start_run(self, out_dir: Path) -> None:
        self.checkpoint_path = Path(out_dir) / CHECKPOINT

    def encode_database(self, X):
        """The codes and the non-binarized outputs g of the database (HashNet Fig. 7), one pass."""
        codes, continuous = self.encode_with_continuous(X)
        return codes, {CONTINUOUS: {"database": continuous}}

    def log_loss_history(self, history: list) -> None:
        pass  # the training loop logs its loss as it goes

    def end_run(self, out_dir: Path) -> None:
        """The checkpoint is kept until now, so that a job killed while encoding does not train again."""
        if self.checkpoint_path is not None:
            Path(self.checkpoint_path).unlink(missing_ok=True)
