"""The base class of deep hashing methods: a method supplies its head, activation and loss; the
shared loop in ``hashbench.deep.trainer`` owns seeding, device, optimisation, checkpoints and logging.

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
  validate()                   checks across hyperparameters (call super().validate() first);
                               each one's range is declared in ``PARAMS`` (``hashbench.params``);
                               both are checked when the config is read
Class attributes the stages read: ``STYLE``, ``CLAIM_GROUP``, ``TEST_PARAMS`` (``hashbench.method``).
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
How the run executes is no hyperparameter and not the method's: the runner gives a
``hashbench.deep.trainer.Trainer`` the execution settings (device, checkpoint_every,
history_every; ``hashbench.settings.EXECUTION_DEFAULTS``), the checkpoint path, the pretrained
weights file and the job's threads, passes it to ``fit(X, Y, trainer=...)`` and reads back what it
measured (device, threads, precision, nondeterministic ops) for run.json; no result depends on
them. ``fit(X, Y)`` alone trains with the defaults and no checkpoint. The method holds its
hyperparameters and, once fitted, its learned state (``network_``, ``loss_history_``, what
``prepared`` names).
"""

from __future__ import annotations

import numpy as np

from hashbench.deep.optim import OPTIMIZERS, USUAL_LR
from hashbench.method import HashMethod
from hashbench.params import Boolean, Integer, Nullable, Options, Real, Several, check
from hashbench.layout import CONTINUOUS


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
    TEST_PARAMS = {"iterations": 50, "batch_size": 16}  # enough to be told from chance (check_method)
    # the trainer's settings; an optimiser setting left null takes the recipe's value, which needs no check
    PARAMS = {"pretrained": Boolean(), "iterations": Integer(1),
              "batch_size": Integer(2), "tf32": Boolean(), "recipe": Options(RECIPES),
              "optimizer": Nullable(Options(OPTIMIZERS)), "lr": Nullable(Real(0, closed="neither")),
              "head_lr_mult": Nullable(Real(0, closed="neither")), "momentum": Nullable(Real(0, 1, "left")),
              "nesterov": Nullable(Boolean()), "betas": Nullable(Several(2, Real(0, 1, "left"))),
              "eps": Nullable(Real(0, closed="neither")), "smoothing": Nullable(Real(0, 1, "left")),
              "weight_decay": Nullable(Real(0)), "lr_step": Nullable(Integer(1)),
              "lr_gamma": Nullable(Real(0, 1, "right"))}

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
    def head_lr(self) -> float:
        return self.resolved()["head_lr"]

    def fit(self, X, Y, trainer=None):
        """X: an image set (``hashbench.deep.images``) or an (n, C, H, W) float array in [0, 1];
        ``trainer``: the ``hashbench.deep.trainer.Trainer`` that runs it (default: one with the
        execution defaults and no checkpoint)."""
        from hashbench.deep.images import as_image_set
        from hashbench.deep.trainer import Trainer

        X = as_image_set(X)
        self.validate()
        check("batch_size", self.batch_size, Integer(2, len(X)), " (the training set size)")
        (trainer or Trainer()).fit(self, X, np.asarray(Y, dtype=np.float32))
        return self

    def encode(self, X):
        return self.encode_with_continuous(X)[0]

    def encode_with_continuous(self, X):
        """The codes sgn(z) and the non-binarized outputs g at the end of training (HashNet Fig. 7),
        from one pass over X."""
        import torch

        from hashbench.deep.trainer import forward

        z = forward(self, X)
        self.diagnostics_ = self.diagnostics(z)
        return (z >= 0).astype(np.int8) * 2 - 1, self.activation(torch.from_numpy(z), self.iterations).numpy()

    def diagnostics(self, z: np.ndarray) -> dict:
        return {}

    # --- run hooks (hashbench.stages.train) ----------------------------------------------------
    def inputs(self, data, protocol_def: dict, threads: int | None, workers: int | None):
        """The protocol's images, read by ``workers`` loader processes (default one per thread)."""
        return data.deep_input(protocol_def, threads, workers)

    def encode_database(self, X):
        """The codes and the non-binarized outputs g of the database (HashNet Fig. 7), one pass."""
        codes, continuous = self.encode_with_continuous(X)
        return codes, {CONTINUOUS: {"database": continuous}}

    def log_loss_history(self, history: list) -> None:
        pass  # the trainer logs its loss as it goes
