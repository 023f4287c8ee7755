"""DCH: Deep Cauchy Hashing for Hamming Space Retrieval (Cao, Long, Liu & Wang, CVPR 2018).

Follows the released code, thulab/DeepHash ``DeepHash/model/dch/dch.py`` (``DCH.cauchy_cross_entropy``,
``DCH.apply_loss_function``) and ``examples/dch/train_val_script.py`` (defaults). Continuous codes
u = tanh(z) (``--with-tanh``, the default). Loss: the Cauchy cross-entropy of every ordered pair
of the mini-batch, p_ij = gamma / (gamma + d_ij) against s_ij, similar pairs weighted by
B^2 / sum s (``hashbench.deep.losses.cauchy_cross_entropy``), gamma = 20; plus
``quantization_weight`` times the quantization loss, 0 by default as in the released script.
Where code and paper differ, both are here:
  distance "euclidean" (default, the released ``apply_loss_function``): d = ||u_i - u_j||^2 + 0.001;
  distance "hamming" (the paper's Eq. 5): d = K/2 (1 - cos(u_i, u_j)), the normalised Hamming distance;
  quantization "squared" (default, released): mean over bits of (|u| - 1)^2;
  quantization "cauchy" (the paper's Eq. 7): log(1 + d(|u|, 1) / gamma) with d the normalised
  Hamming distance to the all-ones vector, averaged over the batch.
Codes h = sgn(z). Its target is Hamming-ball lookup: P@H<=2 is the metric it optimises.
Training recipe (``RECIPE``), the released ``DCH.apply_loss_function`` and ``train_val_script.py``:
``tf.train.MomentumOptimizer`` (plain momentum 0.9, no weight decay term in the loss), lr 0.005,
the last layer's gradient x10 (its bias x20: not kept, one head multiplier), a decay every 10,000
steps of a 2,000-step run, i.e. a constant rate (lr_step_fraction 5).
"""

from hashbench.params import Options, Real
from hashbench.deep.method import DeepHashMethod

DISTANCES = ("euclidean", "hamming")
QUANTIZATIONS = ("squared", "cauchy")


class DCH(DeepHashMethod):
    name = "DCH"
    STYLE = ("#637939", "1")
    CLAIM_GROUP = "published after HashNet"
    supervised = True
    RECIPE = {"optimizer": "sgd", "lr": 5e-3, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0, "lr_gamma": 0.1}
    LR_STEP_FRACTION = 5.0

    PARAMS = {"gamma": Real(0, closed="neither"), "quantization_weight": Real(0), "distance": Options(DISTANCES),
              "quantization": Options(QUANTIZATIONS)}

    def __init__(self, n_bits=32, seed=0, gamma=20.0, distance="euclidean", quantization_weight=0.0,
                 quantization="squared", **training):
        super().__init__(n_bits, seed, **training)
        self.gamma = gamma
        self.distance = distance
        self.quantization_weight = quantization_weight
        self.quantization = quantization

    def quantization_loss(self, codes):
        import torch

        magnitude = codes.abs()
        if self.quantization == "squared":
            return ((magnitude - 1) ** 2).mean()
        cos = magnitude.sum(1) / (magnitude.norm(dim=1) * codes.shape[1] ** 0.5).clamp(min=1e-12)
        return torch.log1p(codes.shape[1] / 2 * (1 - cos) / self.gamma).mean()

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import cauchy_cross_entropy

        loss = cauchy_cross_entropy(codes, labels, self.gamma, self.distance)
        if self.quantization_weight:
            loss = loss + self.quantization_weight * self.quantization_loss(codes)
        return loss
