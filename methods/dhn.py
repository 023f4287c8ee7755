"""DHN: Deep Hashing Network (Zhu, Long, Wang & Cao, AAAI 2016).

Follows the released code, thulab/DeepHash ``DeepHash/model/dhn/dhn.py`` (``DHN.cross_entropy``,
``DHN.apply_loss_function``) with ``examples/dhn/train_val.sh`` and ``train_val_script.py``
(defaults), beside the paper's Eq. Continuous codes u = tanh(z) from the hash layer; codes h = sgn(z).
Loss: a pairwise cross-entropy on the codes plus ``quantization_weight`` times a quantization term.
Where code and paper differ, both are here (default: the released code):
  pairs "released": the mean over every ordered pair of the batch, the diagonal included, similar
  pairs weighted B^2 / sum s and dissimilar ones 1 (``hashbench.deep.losses.balanced_pairwise_likelihood``);
  pairs "paper": the unweighted mean over the pairs i < j (Eq. 3; ``pairwise_likelihood``);
  similarity "cosine" (released ``loss_type: normed_cross_entropy``): alpha cos(u_i, u_j);
  similarity "inner" (the paper): alpha <u_i, u_j>;
  alpha 10 (released ``train_val.sh``); the paper's <u_i, u_j>/2 is alpha 0.5;
  quantization "squared" (released): mean over the batch and bits of (|u| - 1)^2;
  quantization "log_cosh" (the paper's Eq. 4): sum over bits of log cosh(|u| - 1), mean over the batch;
  quantization_weight 0 (released ``q_lambda=0.0``); the paper cross-validates lambda and gives no
  value. The paper's DHN: {pairs: paper, similarity: inner, alpha: 0.5, quantization: log_cosh,
  quantization_weight: lambda}.
Training recipe (``RECIPE``), the released ``apply_loss_function``: ``tf.train.MomentumOptimizer``
(plain momentum 0.9, no weight decay term), lr 5e-5, the last layer's gradient x10 (its bias x20:
not kept, one head multiplier), x0.5 every 5,000 steps of a 2,000-step run, i.e. a constant rate
(lr_step_fraction 2.5).
"""

from hashbench.params import Options, Real
from hashbench.deep.method import DeepHashMethod

PAIRS = ("released", "paper")
SIMILARITIES = ("cosine", "inner")
QUANTIZATIONS = ("squared", "log_cosh")


class DHN(DeepHashMethod):
    name = "DHN"
    STYLE = ("#1f77b4", "s")
    CLAIM_GROUP = "deep baseline"
    supervised = True
    RECIPE = {"optimizer": "sgd", "lr": 5e-5, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0, "lr_gamma": 0.5}
    LR_STEP_FRACTION = 2.5

    PARAMS = {"alpha": Real(0, closed="neither"), "quantization_weight": Real(0), "pairs": Options(PAIRS),
              "similarity": Options(SIMILARITIES), "quantization": Options(QUANTIZATIONS)}

    def __init__(self, n_bits=32, seed=0, alpha=10.0, pairs="released", similarity="cosine", quantization="squared",
                 quantization_weight=0.0, **training):
        super().__init__(n_bits, seed, **training)
        self.alpha = alpha
        self.pairs = pairs
        self.similarity = similarity
        self.quantization = quantization
        self.quantization_weight = quantization_weight

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import balanced_pairwise_likelihood, log_cosh, pairwise_likelihood

        if self.pairs == "released":
            loss = balanced_pairwise_likelihood(codes, labels, self.alpha, self.similarity)
        else:
            x = codes
            if self.similarity == "cosine":
                x = codes / codes.norm(dim=1, keepdim=True).clamp(min=1e-12)
            loss = pairwise_likelihood(x, labels, self.alpha, "none")
        if not self.quantization_weight:
            return loss
        if self.quantization == "squared":
            return loss + self.quantization_weight * ((codes.abs() - 1) ** 2).mean()
        return loss + self.quantization_weight * log_cosh(codes.abs() - 1).sum(dim=1).mean()
