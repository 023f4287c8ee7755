"""DNNH: Simultaneous Feature Learning and Hash Coding (Lai, Pan, Liu & Yan, CVPR 2015).

Divide-and-encode module (Sec. 3.2): the backbone features are projected to K slices of
``slice_dim`` units, and each slice alone is mapped to one bit by its own fully connected unit and a
sigmoid; the piecewise threshold function g(s) = 0 if s < 0.5 - eps, 1 if s > 0.5 + eps, else s
(eps = 0.1) pushes the outputs to {0, 1}. Both layers keep PyTorch's default initialisation: the
N(0, 0.01) of HashNet's hash layer starts every output at 0.5, where all triplet distances and
their gradients vanish and training never leaves that saddle. Loss: the triplet ranking loss (Sec. 3.3)
max(0, margin - (||b - b-||^2 - ||b - b+||^2)) with margin 1 over every (query, similar,
dissimilar) triplet of the mini-batch. Codes: the threshold at 0.5, as +-1. The threshold passes no
gradient outside [0.5 - eps, 0.5 + eps]: run.json's ``diagnostics.dead_fraction`` is the fraction
of the database's outputs there at the end of training.
Training recipe: the authors released no code; the paper trains its network with mini-batch SGD
with momentum, as Caffe solvers of its time did, and gives no solver settings. It trains with the
suite's SGD recipe (the base class's: HashNet's released solver) and its tuned learning rate.
Simplified: the projection to K * slice_dim units stands in for DNNH's shared layers, so any K works.
"""

import numpy as np

from hashbench.params import Integer, Real
from hashbench.deep.method import DeepHashMethod


class DNNH(DeepHashMethod):
    name = "DNNH"
    STYLE = ("#2ca02c", "^")
    CLAIM_GROUP = "deep baseline"
    supervised = True

    PARAMS = {"slice_dim": Integer(1), "epsilon": Real(0, 0.5, "left"), "margin": Real(0, closed="neither")}

    def __init__(self, n_bits=32, seed=0, slice_dim=8, epsilon=0.1, margin=1.0, **training):
        super().__init__(n_bits, seed, **training)
        self.slice_dim = slice_dim
        self.epsilon = epsilon
        self.margin = margin

    def build_head(self, feature_dim, n_labels):
        from torch import nn

        class DivideAndEncode(nn.Module):
            def __init__(self, n_bits, slice_dim):
                super().__init__()
                self.project = nn.Linear(feature_dim, n_bits * slice_dim)
                self.slices = nn.Conv1d(n_bits, n_bits, slice_dim, groups=n_bits)  # one unit per slice
                self.n_bits, self.slice_dim = n_bits, slice_dim

            def forward(self, x):
                return self.slices(self.project(x).view(-1, self.n_bits, self.slice_dim)).squeeze(-1)

        return DivideAndEncode(self.n_bits, self.slice_dim)

    def activation(self, z, iteration):
        s = z.sigmoid()
        low, high = 0.5 - self.epsilon, 0.5 + self.epsilon
        return s.where((s >= low) & (s <= high), (s > high).to(s.dtype))

    def diagnostics(self, z):
        s = 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))
        return {"dead_fraction": float(np.mean(np.abs(s - 0.5) > self.epsilon))}

    def binarize(self, z):
        return (z >= 0).to(z.dtype)

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import triplet_ranking

        return triplet_ranking(codes, labels, self.margin)
