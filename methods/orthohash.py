"""OrthoHash: One Loss for All (Hoe, Ng, Aditya, Chan, Lim & Ng, NeurIPS 2021).

Follows the released code, kamwoh/orthohash: ``functions/loss/orthohash.py`` (``OrthoHashLoss``),
``models/alexnet.py`` (``CosSim``, the hash layer of ``AlexNet``), ``scripts/train_hashing.py`` and
``main.py`` (codebook and defaults). The head: fc(d -> K) without bias (weights N(0, 0.01)) and a
batch normalisation (momentum 0.1); its output v is the continuous code. Each class has a fixed
codeword, drawn once, +-1 with probability 1/2 each (``--codebook-method B``, the default), kept
as a buffer of the head. Loss: the cross-entropy of the scaled cosine logits with an additive
margin, s (cos(v, c_y) - m) for the item's class and s cos(v, c_j) for the others, s = 8, m = 0.2;
multi-label (the released ``label_smoothing``, its default there): the cross-entropy against the
labels divided by their count. ``quantization_weight`` (0, as released) adds 1 - cos(v, sgn(v))
(``quan_type cs``). Codes h = sgn(z) of the trained network (the batch normalisation's running
statistics).
Training recipe (``RECIPE``), ``main.py``'s config with ``configs.optimizer`` / ``configs.scheduler``
and ``scripts/train_hashing.py`` (``backbone_lr_scale``): Adam, betas (0.9, 0.999), weight decay
5e-4; the hash layer at lr 1e-4 and the backbone at 0.1 of it, so lr 1e-5 with the head at 10x on a
pretrained backbone; x0.1 once, after 80% of the epochs (``step_size = 0.8 epochs``).
Simplified: the "arc" margin and the "bce"/"imbalance" multi-label
losses are not implemented.
"""

from hashbench.codes import multi_label
from hashbench.params import Real
from hashbench.deep.method import DeepHashMethod


class OrthoHash(DeepHashMethod):
    name = "OrthoHash"
    STYLE = ("#7b4173", "4")
    CLAIM_GROUP = "published after HashNet"
    supervised = True
    RECIPE = {"optimizer": "adam", "lr": 1e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 5e-4, "lr_gamma": 0.1}
    LR_STEP_FRACTION = 0.8
    prepared = ("multi_label_",)

    PARAMS = {"scale": Real(0, closed="neither"), "margin": Real(0), "quantization_weight": Real(0)}

    def __init__(self, n_bits=32, seed=0, scale=8.0, margin=0.2, quantization_weight=0.0, **training):
        super().__init__(n_bits, seed, **training)
        self.scale = scale
        self.margin = margin
        self.quantization_weight = quantization_weight

    def build_head(self, feature_dim, n_labels):
        """fc without bias and batch normalisation, the class codewords as a buffer (checkpointed)."""
        import torch
        from torch import nn

        fc = nn.Linear(feature_dim, self.n_bits, bias=False)
        nn.init.normal_(fc.weight, 0.0, 0.01)
        head = nn.Sequential(fc, nn.BatchNorm1d(self.n_bits, momentum=0.1))
        generator = torch.Generator().manual_seed(self.seed)
        head.register_buffer("codebook", torch.bernoulli(torch.full((n_labels, self.n_bits), 0.5),
                                                         generator=generator) * 2 - 1)
        self._head = head
        return head

    def prepare(self, Y, rng):
        self.multi_label_ = multi_label(Y)

    def activation(self, z, iteration):
        return z

    def loss(self, codes, labels, index):
        import torch.nn.functional as F

        cos = F.normalize(codes, dim=1) @ F.normalize(self._head.codebook, dim=1).T
        logits = self.scale * (cos - self.margin * labels)
        if self.multi_label_:
            target = labels / labels.sum(1, keepdim=True).clamp(min=1)
            loss = -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
        else:
            loss = F.cross_entropy(logits, labels.argmax(1))
        if self.quantization_weight:
            loss = loss + self.quantization_weight * (1 - F.cosine_similarity(codes, codes.detach().sign(), dim=1)).mean()
        return loss
