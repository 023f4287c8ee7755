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
  loss(g, labels, index)        the training loss J(g), a scalar; backpropagated, one optimiser step
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
The trainer's settings (``TRAINING``, written once in the config's ``training`` block and per
method in ``method_params``): backbone, pretrained, weights, iterations, batch_size (the budget,
the same for every method: sized for the embedded protocols), tf32 (false: float32 throughout;
true lets CUDA matrix products and convolutions use TF32), ``recipe`` and the optimiser settings.
The optimiser is part of a method's recipe (``hashbench.deep.optim`` builds it with torch.optim):
a class declares the one its authors' released code uses in ``RECIPE`` (the base class's is the
suite's SGD, HashNet's released PyTorch solver), and every optimiser setting left unset (null)
takes the recipe's value:
  optimizer      sgd | adam | rmsprop
  momentum, nesterov (sgd; rmsprop's momentum), betas, eps (adam; rmsprop's eps), smoothing
                 (rmsprop's alpha), weight_decay
  lr             the backbone's learning rate. Null: with a pretrained backbone the released
                 (fine-tuning) rate ``RECIPE["lr"]``; from scratch, where that rate does not carry
                 over, the rate chosen on validation for the protocol (the tuning record the config
                 names in ``tuning``, applied by ``hashbench.config.method_params``), else the
                 optimiser's usual from-scratch rate (``optim.USUAL_LR``)
  head_lr_mult   the hash layer's rate over the backbone's. Null: the recipe's
                 ``PRETRAINED_HEAD_LR_MULT`` with a pretrained backbone (the released per-group
                 rates), 1 from scratch (a 10x head destabilises training from scratch)
  lr_step, lr_gamma  step decay: x lr_gamma every lr_step updates. Null lr_step: the recipe's
                 ``lr_step_fraction`` of the iterations (the released schedule's shape kept
                 whatever the budget; a fraction >= 1 never decays, as the released runs)
``recipe: released`` (default) is the above; ``recipe: shared`` gives every method the one trainer
the suite used before recipes (``SHARED_RECIPE``: SGD, Nesterov momentum 0.9, weight decay 5e-4,
lr 0.01 from scratch, x0.5 every third of the iterations) and no tuned rate, for comparing "each
as released, equally tuned" with "one trainer for all".
A method's own hyperparameters are the other ``__init__`` arguments.
How the run executes (``execution``: device, checkpoint_every, history_every, workers; defaults
``hashbench.config.EXECUTION_DEFAULTS``) is no hyperparameter: the runner sets it, run.json records
it, and no result depends on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashbench.base import HashMethod, check_type, require_int, require_number
from hashbench.errors import HashbenchError
from hashbench.config import EXECUTION_DEFAULTS
from hashbench.layout import CHECKPOINT, CONTINUOUS


RECIPES = ("released", "shared")
# The base class's recipe: HashNet's released PyTorch solver (thuml/HashNet pytorch/src/train.py:
# SGD, Nesterov momentum 0.9, weight decay 5e-4, lr 3e-4, hash layer x10, x0.5 every 2,000 of 10,000
# iterations).
BASE_RECIPE = {"optimizer": "sgd", "lr": 3e-4, "momentum": 0.9, "nesterov": True, "betas": (0.9, 0.999), "eps": 1e-8,
               "smoothing": 0.99, "weight_decay": 5e-4, "lr_gamma": 0.5}
# The one trainer every deep method shared before recipes (``recipe: shared``).
SHARED_RECIPE = {**BASE_RECIPE, "lr": 0.01, "lr_step_fraction": 1 / 3, "head_lr_mult_pretrained": 10.0}
READS = {"sgd": ("momentum", "nesterov"), "adam": ("betas", "eps"), "rmsprop": ("smoothing", "eps", "momentum")}
OPTIMISER_SETTINGS = ("optimizer", "lr", "momentum", "nesterov", "betas", "eps", "smoothing", "weight_decay",
                      "lr_step", "lr_gamma")


class DeepHashMethod(HashMethod):
    is_deep = True
    prepared: tuple[str, ...] = ()
    TRAINING = ("backbone", "pretrained", "weights", "iterations", "batch_size", "tf32", "recipe", "head_lr_mult",
                *OPTIMISER_SETTINGS)
    RECIPE = BASE_RECIPE
    TUNED_AS: str | None = None  # whose tuned learning rate this method trains with (an ablation: its parent's)
    PRETRAINED_HEAD_LR_MULT = 10.0
    LR_STEP_FRACTION = 0.2

    def __init__(self, n_bits=32, seed=0, backbone="smallcnn", pretrained=False, weights=None, iterations=600,
                 batch_size=64, tf32=False, recipe="released", optimizer=None, lr=None, head_lr_mult=None,
                 momentum=None, nesterov=None, betas=None, eps=None, smoothing=None, weight_decay=None, lr_step=None,
                 lr_gamma=None):
        super().__init__(n_bits, seed)
        self.backbone = backbone
        self.pretrained = pretrained
        self.weights = weights
        self.iterations = iterations
        self.batch_size = batch_size
        self.tf32 = tf32
        self.recipe = recipe
        self.optimizer = optimizer
        self.lr = lr
        self.head_lr_mult = head_lr_mult
        self.momentum = momentum
        self.nesterov = nesterov
        self.betas = betas
        self.eps = eps
        self.smoothing = smoothing
        self.weight_decay = weight_decay
        self.lr_step = lr_step
        self.lr_gamma = lr_gamma
        self.execution = dict(EXECUTION_DEFAULTS)  # set by the runner (hashbench.stages.train)
        self.checkpoint_path = None  # set by the runner: where to checkpoint and resume
        self.weights_file = None  # set by the runner: the pretrained weights file (default: ``weights``)

    @classmethod
    def recipe_of(cls, recipe: str = "released") -> dict:
        """The optimiser settings of ``recipe`` for this class: ``RECIPE`` (released) or
        ``SHARED_RECIPE``, with the head multiplier and the schedule's fraction."""
        if recipe == "shared":
            return dict(SHARED_RECIPE)
        return {**BASE_RECIPE, **cls.RECIPE, "lr_step_fraction": cls.LR_STEP_FRACTION,
                "head_lr_mult_pretrained": cls.PRETRAINED_HEAD_LR_MULT}

    def resolved(self, every: bool = False) -> dict:
        """The optimiser settings this method trains with (run.json records them): each set one, else
        the recipe's (the module docstring's rules for lr, head_lr_mult and lr_step); those its
        optimiser reads, or ``every`` one."""
        from hashbench.deep.optim import USUAL_LR

        recipe = self.recipe_of(self.recipe)
        out = {key: recipe[key] if getattr(self, key) is None else getattr(self, key)
               for key in OPTIMISER_SETTINGS if key not in ("lr", "lr_step")}
        out["lr"] = self.lr if self.lr is not None else recipe["lr"] if self.pretrained else (
            recipe["lr"] if self.recipe == "shared" else USUAL_LR[out["optimizer"]])
        out["lr_step"] = self.lr_step if self.lr_step is not None else max(
            1, round(recipe["lr_step_fraction"] * self.iterations))
        mult = self.head_lr_mult if self.head_lr_mult is not None else (
            recipe["head_lr_mult_pretrained"] if self.pretrained else 1.0)
        out["head_lr"] = out["lr"] * mult
        if every:
            return out
        kept = ("optimizer", "lr", "head_lr", "lr_step", "lr_gamma", "weight_decay", *READS.get(out["optimizer"], ()))
        return {key: out[key] for key in kept}

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
        if self.recipe not in RECIPES:
            raise HashbenchError(f"recipe: expected one of {', '.join(RECIPES)}, got {self.recipe!r}")
        released = self.recipe_of("released")
        for key in OPTIMISER_SETTINGS:  # the types of the set ones, from the released recipe's values
            value = getattr(self, key)
            if value is not None and key in released:
                check_type(key, value, released[key])
        from hashbench.deep.optim import OPTIMIZERS

        optimizer = self.optimizer if self.optimizer is not None else released["optimizer"]
        if optimizer not in OPTIMIZERS:
            raise HashbenchError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        settings = self.resolved(every=True)
        require_int("lr_step", settings["lr_step"], 1)
        require_number("lr", settings["lr"], lambda v: v > 0, "a positive learning rate")
        require_number("momentum", settings["momentum"], lambda v: 0 <= v < 1, "a number in [0, 1)")
        require_number("weight_decay", settings["weight_decay"], lambda v: v >= 0, "a non-negative number")
        require_number("lr_gamma", settings["lr_gamma"], lambda v: 0 < v <= 1, "a decay factor in (0, 1]")
        require_number("eps", settings["eps"], lambda v: v > 0, "a positive number")
        require_number("smoothing", settings["smoothing"], lambda v: 0 <= v < 1, "a number in [0, 1)")
        betas = settings["betas"]
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                                      for b in betas):
            raise HashbenchError(f"betas: expected two numbers in [0, 1), got {betas!r}")
        if self.head_lr_mult is not None:
            require_number("head_lr_mult", self.head_lr_mult, lambda v: v > 0, "a positive number or null")

    def head_lr(self) -> float:
        return self.resolved()["head_lr"]

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
