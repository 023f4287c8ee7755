"""DHN: Deep Hashing Network (Zhu, Long, Wang & Cao, AAAI 2016).

Continuous codes u = tanh(z) from the hash layer. Loss: the pairwise cross-entropy on inner
products, log(1 + exp(alpha <u_i,u_j>)) - alpha s_ij <u_i,u_j> over every pair of the mini-batch
(alpha = 0.5, i.e. the <u_i,u_j>/2 of the paper; unweighted), plus ``quantization_weight`` times the
quantization loss sum_k log cosh(|u_ik| - 1), averaged over the batch. Codes h = sgn(z).
The quantization weight default (0.01) is ours: on the embedded protocol larger weights collapse
the codes within the default training budget.
"""

from hashbench.base import require_number
from hashbench.deep.base import DeepHashMethod


class DHN(DeepHashMethod):
    name = "DHN"
    supervised = True

    def __init__(self, n_bits=32, seed=0, alpha=0.5, quantization_weight=0.01, **training):
        super().__init__(n_bits, seed, **training)
        self.alpha = alpha
        self.quantization_weight = quantization_weight

    def validate(self):
        super().validate()
        require_number("alpha", self.alpha, lambda v: v > 0, "a positive scale")
        require_number("quantization_weight", self.quantization_weight, lambda v: v >= 0, "a non-negative weight")

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import log_cosh, pairwise_likelihood

        quantization = log_cosh(codes.abs() - 1).sum(dim=1).mean()
        return pairwise_likelihood(codes, labels, self.alpha, "none") + self.quantization_weight * quantization
