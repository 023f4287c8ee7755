"""CSQ: Central Similarity Quantization for Efficient Image and Video Retrieval (Yuan, Wang, Tay, Xie,
Feng, Fu & Li, CVPR 2020).

Follows the released code, yuanli2333/Hadamard-Matrix-for-hashing: ``train.py`` (``train``,
``Hash_center_multilables``), ``my_pairwise_loss.py``, ``network.py`` (``AlexNetFc``), ``options.py``
(defaults) and ``Tutorial_ hash_center_generation.ipynb`` (the centres). Hash centres, one per
class, fixed before training (``hash_centres``): when K is a power of two and C <= 2K, the first C
rows of [H_K; -H_K] (H_K the Hadamard matrix, scipy.linalg.hadamard), pairwise Hamming distance
K/2 or K; otherwise random centres with K/2 entries -1 each, redrawn (up to 10,000 times) until
the minimum pairwise distance is >= 20/64 K and the mean >= K/2, the notebook's rule at 64 bits
(if no draw meets it: the draw with the largest minimum, logged). An item's centre: its class's;
multi-label, the sign of the mean of its labels' centres, ties (and items without a label) taking
the entries of one random vector drawn with the centres. Continuous codes u = tanh(head(x)).
Loss (``train``): BCE((u + 1)/2, (c + 1)/2) towards the centre, plus ``pairwise_weight`` (0.2)
times the unweighted pairwise likelihood (alpha = 10/K) between the first and second half of the
batch, plus ``quantization_weight`` (0.05) times mean (|u| - 1)^2. Where code and paper differ:
``pairwise_weight: 0`` is the paper's loss (central similarity and quantization only; the released
``train.py`` adds the pairwise term from the first epoch on); ``head: released`` (default) is the
released ``AlexNetFc`` hash layer fc(d->d), ReLU, fc(d->d), ReLU, fc(d->K), PyTorch's default
initialisation; ``head: linear`` one fc(d->K), weights N(0, 0.01). Codes h = sgn(z).
Training recipe (``RECIPE``), the released ``train.py`` (``main``: ``torch.optim.Adam`` over two
parameter groups; ``adjust_learning_rate``) with ``options.py``'s defaults: Adam, betas (0.9, 0.999),
no weight decay; the hash layer at lr 1e-3 and the backbone at 0.01 of it (``multi_lr``), so lr 1e-5
with the head at 100x on a pretrained backbone; x0.7 every 10 of its 90 epochs (a ninth of the budget).
"""

import logging

import numpy as np

from hashbench.params import Integer, Options, Real
from hashbench.deep.method import DeepHashMethod

log = logging.getLogger("hashbench")
HEADS = ("released", "linear")


def hash_centres(n_classes: int, n_bits: int, rng: np.random.Generator, tries: int = 10000) -> np.ndarray:
    """C x K centres in {-1, +1} (the module docstring's rule), as float32."""
    from scipy.linalg import hadamard

    if n_bits & (n_bits - 1) == 0 and n_classes <= 2 * n_bits:
        h = hadamard(n_bits)
        return np.concatenate([h, -h])[:n_classes].astype(np.float32)
    best, best_min = None, -1
    for _ in range(tries):
        centres = np.ones((n_classes, n_bits), np.float32)
        for row in centres:
            row[rng.choice(n_bits, round(n_bits / 2), replace=False)] = -1
        distance = (n_bits - centres @ centres.T) / 2
        pairs = distance[np.triu_indices(n_classes, 1)]
        if pairs.size == 0 or (pairs.min() >= 20 / 64 * n_bits and pairs.mean() >= n_bits / 2):
            return centres
        if pairs.min() > best_min:
            best, best_min = centres, pairs.min()
    log.warning("CSQ: no random centres met the minimum distance %.1f in %d draws; using the draw with minimum %d",
                20 / 64 * n_bits, tries, best_min)
    return best


class CSQ(DeepHashMethod):
    name = "CSQ"
    STYLE = ("#843c39", "3")
    CLAIM_GROUP = "published after HashNet"
    supervised = True
    RECIPE = {"optimizer": "adam", "lr": 1e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "lr_gamma": 0.7}
    PRETRAINED_HEAD_LR_MULT = 100.0
    LR_STEP_FRACTION = 1 / 9

    PARAMS = {"quantization_weight": Real(0), "pairwise_weight": Real(0), "centre_tries": Integer(1),
              "head": Options(HEADS)}

    def __init__(self, n_bits=32, seed=0, quantization_weight=0.05, pairwise_weight=0.2, head="released",
                 centre_tries=10000, **training):
        super().__init__(n_bits, seed, **training)
        self.quantization_weight = quantization_weight
        self.pairwise_weight = pairwise_weight
        self.head = head
        self.centre_tries = centre_tries

    def build_head(self, feature_dim, n_labels):
        """The hash layer, with the centres and the tie-breaking vector as buffers (checkpointed)."""
        import torch
        from torch import nn

        if self.head == "linear":
            head = super().build_head(feature_dim, n_labels)
        else:
            head = nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.ReLU(), nn.Linear(feature_dim, feature_dim),
                                 nn.ReLU(), nn.Linear(feature_dim, self.n_bits))
        rng = np.random.default_rng(self.seed)
        head.register_buffer("centres", torch.from_numpy(hash_centres(n_labels, self.n_bits, rng, self.centre_tries)))
        head.register_buffer("tie", torch.from_numpy(rng.choice(np.array([-1, 1], np.float32), self.n_bits)))
        self._head = head
        return head

    def centres_of(self, labels):
        """Each item's centre: the sign of the sum of its labels' centres, zeros from the tie vector."""
        import torch

        total = labels @ self._head.centres
        return torch.where(total > 0, 1.0, torch.where(total < 0, -1.0, self._head.tie)).to(total.dtype)

    def loss(self, codes, labels, index):
        import torch.nn.functional as F

        from hashbench.deep.losses import similarity_between, softplus

        loss = F.binary_cross_entropy((codes + 1) / 2, (self.centres_of(labels) + 1) / 2)
        if self.pairwise_weight:
            half = len(codes) // 2
            u1, u2, l1, l2 = codes[:half], codes[half:2 * half], labels[:half], labels[half:2 * half]
            inner = 10.0 / self.n_bits * (u1 @ u2.T)
            loss = loss + self.pairwise_weight * (softplus(inner) - similarity_between(l1, l2) * inner).mean()
        return loss + self.quantization_weight * ((codes.abs() - 1) ** 2).mean()
