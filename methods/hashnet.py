"""HashNet: Deep Learning to Hash by Continuation (Cao, Long & Yu, ICCV 2017), and its ablations.

Loss: the weighted pairwise logistic likelihood of Eq. (4) on every pair of a mini-batch, with the
adaptive sigmoid bandwidth ``alpha`` (default 10/K, as in the released code) and pair weights
  weighting "paper" (default): Eq. (2), c_ij = |S|/|S1| or |S|/|S0| within the mini-batch;
  weighting "released": the released code's fixed weight ``similar_weight`` on similar pairs.
log(1 + exp(x)) is evaluated stably (no overflow guard needed). The weighted sum is divided by
  normalise "weights" (default): the sum of the weights, as both released versions do (Caffe
  ``pairwise_loss_layer.cu``: the weighted count; PyTorch ``loss.pairwise_loss``:
  n_similar * class_num + n_dissimilar);
  normalise "pairs": the number of pairs (PyTorch ``loss.pairwise_loss_updated``, unused by its
  ``train.py``); with Eq. (2)'s weights, which average 2, it trains at twice the gradient scale.
Activation tanh(beta z), continuation on beta (Sec. 3.2):
  schedule "released" (default): beta = (1 + 0.005 t)^0.5, updated every 200 iterations;
  schedule "stages": Algorithm 1, len(stages) equal-length stages with increasing beta, each
  stage starting from the network the previous one converged to;
  schedule "none": beta = 1 throughout (HashNet-C).
Codes h = sgn(z) (Eq. 5). HashNet-W: c_ij = 1 for every pair. HashNet-C: tanh(z), no continuation.
Training recipe (``DeepHashMethod.RECIPE``, the base class's): the released PyTorch
``pytorch/src/train.py`` (``optimizer_config``, ``lr_scheduler``): SGD, Nesterov momentum 0.9, weight
decay 5e-4, lr 3e-4 with the hash layer at 10x, x0.5 every 2,000 of 10,000 iterations (a fifth of
the budget); the Caffe solver that produced the paper's numbers is the same without Nesterov at lr
2e-4 (config/paper.yaml). The ablations train with HashNet's recipe and tuned learning rate.
"""

from hashbench.params import Integer, Nullable, Options, Real
from hashbench.deep.method import DeepHashMethod
from hashbench.errors import HashbenchError

SCHEDULES = ("released", "stages", "none")
WEIGHTINGS = ("paper", "released", "none")
NORMALISATIONS = ("weights", "pairs")


class HashNet(DeepHashMethod):
    name = "HashNet"
    STYLE = ("#d62728", "o")
    CLAIM_GROUP = "HashNet"
    supervised = True

    PARAMS = {"alpha": Nullable(Real(0, closed="neither")), "similar_weight": Real(0, closed="neither"),
              "beta_gamma": Real(0), "beta_power": Real(0), "beta_step": Integer(1),
              "schedule": Options(SCHEDULES), "weighting": Options(WEIGHTINGS),
              "normalise": Options(NORMALISATIONS)}

    def __init__(self, n_bits=32, seed=0, alpha=None, weighting="paper", similar_weight=1.0, normalise="weights",
                 schedule="released", beta_gamma=0.005, beta_power=0.5, beta_step=200,
                 stages=(1.0, 2.0, 4.0, 8.0, 16.0), **training):
        super().__init__(n_bits, seed, **training)
        self.alpha = alpha
        self.weighting = weighting
        self.similar_weight = similar_weight
        self.normalise = normalise
        self.schedule = schedule
        self.beta_gamma = beta_gamma
        self.beta_power = beta_power
        self.beta_step = beta_step
        self.stages = stages

    def validate(self) -> None:
        """What depends on two hyperparameters (``PARAMS`` holds the rest)."""
        super().validate()
        if self.similar_weight != 1.0 and self.weighting != "released":
            raise HashbenchError(f"similar_weight: {self.similar_weight!r} has no effect with weighting "
                                 f"'{self.weighting}'; set weighting: released to use it")
        if self.schedule == "stages" and (not self.stages or list(self.stages) != sorted(self.stages)
                                          or self.stages[0] <= 0):
            raise HashbenchError(f"stages: expected an increasing list of positive betas, got {self.stages!r}")

    def beta(self, iteration: int) -> float:
        if self.schedule == "released":
            return (1 + self.beta_gamma * (iteration // self.beta_step * self.beta_step)) ** self.beta_power
        if self.schedule == "stages":
            return float(self.stages[min(iteration * len(self.stages) // self.iterations, len(self.stages) - 1)])
        return 1.0

    def activation(self, z, iteration):
        return (self.beta(iteration) * z).tanh()

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import pairwise_likelihood

        alpha = 10.0 / self.n_bits if self.alpha is None else self.alpha
        return pairwise_likelihood(codes, labels, alpha, self.weighting, self.similar_weight, self.normalise)


class HashNetW(HashNet):
    name = "HashNet-W"
    STYLE = ("#ff9896", "P")
    CLAIM_GROUP = "HashNet"
    TUNED_AS = "HashNet"  # an ablation trains with HashNet's recipe and learning rate

    def __init__(self, n_bits=32, seed=0, weighting="none", **kwargs):
        super().__init__(n_bits, seed, weighting=weighting, **kwargs)


class HashNetC(HashNet):
    name = "HashNet-C"
    STYLE = ("#c49c94", "X")
    CLAIM_GROUP = "HashNet"
    TUNED_AS = "HashNet"

    def __init__(self, n_bits=32, seed=0, schedule="none", **kwargs):
        super().__init__(n_bits, seed, schedule=schedule, **kwargs)
