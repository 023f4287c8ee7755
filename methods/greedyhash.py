"""GreedyHash: Towards Fast Optimization for Accurate Hash Coding in CNN (Su, Zhang, Liu & Tian,
NeurIPS 2018).

Follows the released code, ssppp/GreedyHash ``cifar1.py`` (class ``hash``, class ``CNN``, the
training loop). The head is the hash layer fc(d -> K) (PyTorch's default initialisation, as the
released ``fc_plus``) and, on its output h, a classifier fc(K -> C) without bias that reads
b = sgn(h): sgn in the forward pass, the identity gradient in the backward pass
(``hashbench.deep.losses.sign_straight_through``; the "greedy" update). Loss: the cross-entropy of
the classifier on b plus ``alpha`` (0.1) times mean | |h| - 1 |^3, the released penalty that keeps
h near the codes. Codes h = sgn(z); the continuous codes are h itself (no tanh).
Multi-label data (ours: the released code is single-label): binary cross-entropy per label.
Training recipe (``RECIPE``), the released ``cifar1.py`` (``optimizer``, ``adjust_learning_rate``):
SGD with plain momentum 0.9, weight decay 5e-4, lr 1e-3 for every layer (the head too), x0.1 after
30 of 50 epochs (60% of the budget).
Simplified: the released script keeps the epoch with the best test accuracy, which reads the query
labels: not done here.
"""

from hashbench.codes import multi_label
from hashbench.params import Real
from hashbench.deep.method import DeepHashMethod


class GreedyHash(DeepHashMethod):
    name = "GreedyHash"
    STYLE = ("#8c6d31", "2")
    CLAIM_GROUP = "published after HashNet"
    supervised = True
    RECIPE = {"optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "nesterov": False, "weight_decay": 5e-4, "lr_gamma": 0.1}
    PRETRAINED_HEAD_LR_MULT = 1.0
    LR_STEP_FRACTION = 0.6
    prepared = ("multi_label_",)

    PARAMS = {"alpha": Real(0)}

    def __init__(self, n_bits=32, seed=0, alpha=0.1, **training):
        super().__init__(n_bits, seed, **training)
        self.alpha = alpha

    def build_head(self, feature_dim, n_labels):
        from torch import nn

        class HashAndClassify(nn.Module):
            def __init__(self, n_bits):
                super().__init__()
                self.hash = nn.Linear(feature_dim, n_bits)
                self.classifier = nn.Linear(n_bits, n_labels, bias=False)

            def forward(self, x):
                return self.hash(x)

        self._head = HashAndClassify(self.n_bits)
        return self._head

    def prepare(self, Y, rng):
        self.multi_label_ = multi_label(Y)

    def activation(self, z, iteration):
        return z

    def loss(self, codes, labels, index):
        import torch.nn.functional as F

        from hashbench.deep.losses import sign_straight_through

        logits = self._head.classifier(sign_straight_through(codes))
        if self.multi_label_:
            classification = F.binary_cross_entropy_with_logits(logits, labels)
        else:
            classification = F.cross_entropy(logits, labels.argmax(1))
        return classification + self.alpha * ((codes.abs() - 1).abs() ** 3).mean()
