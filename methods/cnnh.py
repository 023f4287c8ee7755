"""CNNH: Supervised Hashing via Image Representation Learning (Xia, Pan, Lai, Liu & Yan, AAAI 2014).

Stage 1 (Sec. 3.1): approximate codes H in [-1, 1]^{n x K} for the n training images minimise
||S - H H^T / K||_F^2, S_ij = +1 for images sharing a label and -1 otherwise, by coordinate
descent: each entry H_ik is set to the exact minimiser of the quartic objective in that entry on
[-1, 1] (``n_sweeps`` passes over all entries, random order, from uniform random H); the targets
are sgn(H). Stage 2 (Sec. 3.2): the network is trained to predict the targets, here by the squared
error between tanh(z) and the target codes. Codes h = sgn(z).
Stage 1 never forms the residual S - H H^T / K: it keeps S as int8 (169 MB at the paper's 13,000
training images), P = S H and G = H^T H, so an entry's update reads O(K) numbers and writes one
row of P^T (O(n), contiguous); P and G are recomputed exactly at every sweep. Its targets are part
of every checkpoint, so a resumed run does not redo it.
Simplified: stage 2 learns the codes only (CNNH's variant that also predicts the class labels,
CNNH+, is not implemented). The authors released no code; this follows the paper. Training recipe:
the paper gives no solver beyond SGD; it trains with the suite's SGD recipe (the base class's:
HashNet's released solver) and its tuned learning rate.
"""

import numpy as np

from hashbench.codes import sign
from hashbench.params import Integer
from hashbench.deep.method import DeepHashMethod

class CNNH(DeepHashMethod):
    name = "CNNH"
    STYLE = ("#9467bd", "v")
    CLAIM_GROUP = "deep baseline"
    supervised = True
    prepared = ("targets_", "stage1_objective_")

    PARAMS = {"n_sweeps": Integer(1)}

    def __init__(self, n_bits=32, seed=0, n_sweeps=3, **training):
        super().__init__(n_bits, seed, **training)
        self.n_sweeps = n_sweeps

    def prepare(self, Y, rng):
        import torch

        from hashbench.methods._cnnh_targets import coordinate_descent  # numba: imported to train, not to list

        H = rng.uniform(-1, 1, (Y.shape[0], self.n_bits))
        order = np.stack([rng.permutation(H.size) for _ in range(self.n_sweeps)])
        self.stage1_objective_ = coordinate_descent(Y, H, order, self.n_sweeps).tolist()
        self.targets_ = torch.from_numpy(sign(H).astype(np.float32))

    def loss(self, codes, labels, index):
        if getattr(self, "_targets", None) is None or self._targets.device != codes.device:
            self._targets = self.targets_.to(codes.device)  # once, not at every step
        return ((codes - self._targets[index]) ** 2).mean()
