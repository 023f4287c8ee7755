"""DPSH: Feature Learning based Deep Supervised Hashing with Pairwise Labels (Li, Wang & Kang, IJCAI
2016), a hashbench plugin.

Follows the released code, jiangqy/DPSH-pytorch ``DPSH_CIFAR_10.py`` (``DPSH_algo``, ``Logtrick``,
``CalcSim``) and ``DPSH_CIFAR_10_demo.py`` (lambda = 10). The network's outputs u (no activation)
are the continuous codes; a bank U holds the latest outputs of every training item. Each step
writes the batch's outputs into U (``observe``), then the loss is the negative pairwise
log-likelihood of the batch against the whole training set, with Theta_ij = <u_i, U_j> / 2 and
s_ij = 1 for items sharing a label,
    - sum_ij (s_ij Theta_ij - log(1 + exp(Theta_ij))) / (n B)  +  eta sum_i ||b_i - u_i||^2 / (n B),
b_i = sgn(u_i) held fixed, eta = 10 (the released ``lambda``), n the training set's size, B the
batch's. Codes sgn(u). The hash layer fc(d -> K) keeps PyTorch's default initialisation, as
released. Training recipe (``RECIPE``), the released ``DPSH_algo`` and ``AdjustLearningRate``:
``optim.SGD`` without momentum, lr 0.05 and weight decay 1e-5 for every parameter (head
multiplier 1), x0.1 every 50 of 150 epochs (lr_step_fraction 1/3). hashbench's loop builds,
steps, checkpoints and resumes it; from scratch the learning rate is chosen on validation as for
every method (``make tune``), 0.05 being the released rate for fine-tuning AlexNet.
"""

from hashbench.params import Real
from hashbench.deep.method import DeepHashMethod

__all__ = ["DPSH"]


class DPSH(DeepHashMethod):
    name = "DPSH"  # the registry key: the same as the entry point's name in pyproject.toml
    supervised = True
    # state that is not a weight, saved with every checkpoint and restored on resume (deep/method.py)
    prepared = ("bank_", "train_labels_")
    # the optimiser its authors' code uses (deep/method.py: every unset optimiser setting takes these)
    RECIPE = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.0, "nesterov": False, "weight_decay": 1e-5,
              "lr_gamma": 0.1}
    PRETRAINED_HEAD_LR_MULT = 1.0
    LR_STEP_FRACTION = 1 / 3
    # its own hyperparameters' ranges (hashbench.params; the trainer's are the base class's)
    PARAMS = {"eta": Real(0)}
    # the conformance check's budget (hashbench.testing.check_method): it must learn something there, and
    # DPSH's plain SGD from scratch needs more than the base class's 50 iterations on 8x8 digits
    TEST_PARAMS = {"iterations": 200, "batch_size": 16}

    def __init__(self, n_bits=32, seed=0, eta=10.0, **training):
        super().__init__(n_bits, seed, **training)
        self.eta = eta

    def build_head(self, feature_dim, n_labels):
        from torch import nn

        return nn.Linear(feature_dim, self.n_bits)

    def prepare(self, Y, rng):
        import torch

        self.bank_ = torch.zeros(len(Y), self.n_bits)
        self.train_labels_ = torch.from_numpy(Y)

    def activation(self, z, iteration):
        return z

    def observe(self, codes, index):
        if self.bank_.device != codes.device:  # after a resume the bank comes back on the CPU
            self.bank_, self.train_labels_ = self.bank_.to(codes.device), self.train_labels_.to(codes.device)
        self.bank_[index] = codes

    def loss(self, codes, labels, index):
        from hashbench.deep.losses import similarity_between, softplus

        n = len(self.bank_)
        theta = codes @ self.bank_.T / 2
        s = similarity_between(labels, self.train_labels_)
        likelihood = (s * theta - softplus(theta)).sum() / (n * len(codes))
        quantization = ((codes.detach().sign() - codes) ** 2).sum() / (n * len(codes))
        return -likelihood + self.eta * quantization
