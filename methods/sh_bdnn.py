"""SH-BDNN: supervised Binary Deep Neural Network (Do, Doan & Cheung, ECCV 2016, Sec. 4).

Follows the authors' released code (dadung/sh-bdnn: ``runHash.m``, ``DeepNN_HASH/learn_all.m``,
``learnDeepNN.m``, ``deepNNCost.m``, ``initializeParameters.m``). The network maps D features
through two sigmoid hidden layers to K linear outputs H (one row per training item); with
B in {-1,+1}^{m x K} and S_ij = +1 for items sharing a label and -1 otherwise it minimises
(``deepNNCost.m``)
  J = lambda1/2 sum_l ||W_l||^2             weight decay (every layer)
    + lambda2/(2m) ||H - B||^2              ties the outputs to binary codes
    + lambda3/2 ||H^T H / m - I||^2         independence: bits uncorrelated
    + lambda4/(2m) ||H^T 1||^2              balance: each bit half +1
    + lambda5/(2m) ||H H^T / K - S||^2      similarity preservation
with the released weights lambda1..5 = 1e-5, 5e-2, 1e-2, 5e-7, 1e-2 (``runHash.m``).

Training (``learn_all.m``): a stratified hold-out (``validation``, 10% of the training set; the
released CIFAR-10 script holds out 1,000 images) is kept aside; each layer's weights start as the
top eigenvectors of the uncentred second-moment matrix of its input, biases zero
(``initializeParameters.m``); B starts as the ITQ codes of the training data (PCA + 50 ITQ
iterations, ``runITQ.m``) and a first L-BFGS fit of ``lbfgs_iter`` (400) iterations follows. Then up
to ``max_rounds`` (20) rounds of: B = sgn(H), ``lbfgs_iter`` L-BFGS iterations (history 100 as
minFunc's default), and the MAP of the hold-out queries against the whole training set; the first
round whose MAP does not improve stops training and the network of the best round is kept.
``loss_history_`` holds J after the pre-fit and every round, ``validation_map_`` the MAP per round.

Hidden sizes (``hidden`` null): the released ones for 8, 16, 24 and 32 bits (90-20, 90-30, 100-40,
120-50); other lengths are ours, extrapolated from 24 and 32 bits: (2.5K + 40, 1.25K + 10), e.g.
160-70 at 48 bits and 200-90 at 64. A layer wider than its input (e.g. on 8x8 digits) starts its
extra units at zero weights (ours: the released initialisation needs input >= width).
"""

import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.params import Integer, Nullable, Real, Several
from hashbench.shallow.labels import LabelSimilarity
from hashbench.shallow.projections import itq_rotation, pca_directions

RELEASED_HIDDEN = {8: (90, 20), 16: (90, 30), 24: (100, 40), 32: (120, 50)}  # runHash.m


def hidden_sizes(n_bits: int) -> tuple[int, int]:
    """The two hidden layer widths for a code length (module docstring)."""
    return RELEASED_HIDDEN.get(n_bits, (round(2.5 * n_bits + 40), round(1.25 * n_bits + 10)))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _top_eigenvectors(A: np.ndarray, width: int) -> np.ndarray:
    """``initializeParameters.m``: the top eigenvectors of A^T A / n as rows (width x d), zero rows past d."""
    eigval, eigvec = np.linalg.eigh(A.T @ A / A.shape[0])
    top = eigvec[:, np.argsort(eigval)[::-1][:width]].T
    return np.vstack([top, np.zeros((width - top.shape[0], A.shape[1]))])


def stratified_holdout(Y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of a seeded hold-out: ``fraction`` of each label combination, at least one item of
    every combination that has two or more."""
    held = np.zeros(Y.shape[0], dtype=bool)
    _, groups = np.unique(np.asarray(Y) > 0, axis=0, return_inverse=True)
    for g in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == g))
        if members.size > 1:
            held[members[:max(1, round(fraction * members.size))]] = True
    return held


class SHBDNN(HashMethod):
    name = "SH-BDNN"
    STYLE = ("#8c564b", "D")
    CLAIM_GROUP = "shallow baseline"
    TEST_PARAMS = {"lbfgs_iter": 10, "max_rounds": 2}
    supervised = True

    PARAMS = {"lbfgs_iter": Integer(1), "corrections": Integer(1), "max_rounds": Integer(1),
              "hidden": Nullable(Several(2, Integer(1))), **{f"lambda{i}": Real(0) for i in range(1, 6)},
              "validation": Real(0, 1, "neither")}

    def __init__(self, n_bits=32, seed=0, hidden=None, lambda1=1e-5, lambda2=5e-2, lambda3=1e-2, lambda4=5e-7,
                 lambda5=1e-2, lbfgs_iter=400, corrections=100, max_rounds=20, validation=0.1):
        super().__init__(n_bits, seed)
        self.hidden = hidden
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.lambda4 = lambda4
        self.lambda5 = lambda5
        self.lbfgs_iter = lbfgs_iter
        self.corrections = corrections
        self.max_rounds = max_rounds
        self.validation = validation

    def _shapes(self, n_in):
        widths = [n_in, *(self.hidden or hidden_sizes(self.n_bits)), self.n_bits]
        return [(widths[i + 1], widths[i]) for i in range(3)]

    def _unpack(self, theta, n_in):
        """[(W, b)] of the three layers from the flat parameter vector."""
        layers, at = [], 0
        for rows, cols in self._shapes(n_in):
            W = theta[at:at + rows * cols].reshape(rows, cols)
            at += rows * cols
            layers.append((W, theta[at:at + rows]))
            at += rows
        return layers

    def _forward(self, layers, X):
        """Activations of every layer: [X, sigmoid, sigmoid, linear H]."""
        acts = [X]
        for i, (W, b) in enumerate(layers):
            z = acts[-1] @ W.T + b
            acts.append(_sigmoid(z) if i < 2 else z)
        return acts

    def _objective(self, theta, X, S, B):
        """J and its gradient with respect to the network parameters (B fixed)."""
        m, k = X.shape[0], self.n_bits
        layers = self._unpack(theta, X.shape[1])
        acts = self._forward(layers, X)
        H = acts[-1]
        HtH = H.T @ H
        SH = S @ H
        G = HtH / m - np.eye(k)
        colsum = H.sum(axis=0)
        # ||H H^T / k - S||^2 = ||H^T H||^2 / k^2 - 2 tr(H^T S H) / k + m^2 (S has +-1 entries), no m x m matrix
        similarity = np.sum(HtH**2) / k**2 - 2 * np.sum(H * SH) / k + m**2
        J = (self.lambda1 / 2 * sum(np.sum(W**2) for W, _ in layers) + self.lambda2 / (2 * m) * np.sum((H - B) ** 2)
             + self.lambda3 / 2 * np.sum(G**2) + self.lambda4 / (2 * m) * np.sum(colsum**2)
             + self.lambda5 / (2 * m) * similarity)
        delta = (self.lambda2 / m * (H - B) + (2 * self.lambda3 / m) * H @ G + self.lambda4 / m * colsum
                 + (2 * self.lambda5 / (m * k)) * (H @ HtH / k - SH))
        grads = []
        for i in range(2, -1, -1):
            W, _ = layers[i]
            grads.append(((delta.T @ acts[i] + self.lambda1 * W).ravel(), delta.sum(axis=0)))
            if i:
                delta = (delta @ W) * acts[i] * (1 - acts[i])
        return J, np.concatenate([g for pair in grads[::-1] for g in pair])

    def _initial_theta(self, X):
        parts, A = [], X
        for rows, _ in self._shapes(X.shape[1]):
            W = _top_eigenvectors(A, rows)
            parts += [W.ravel(), np.zeros(rows)]
            A = _sigmoid(A @ W.T)
        return np.concatenate(parts)

    def _lbfgs(self, theta, X, S, B):
        """minFunc's L-BFGS as ``learnDeepNN.m`` calls it (maxIter ``lbfgs_iter``, minFunc's defaults)."""
        from hashbench.shallow.lbfgs import lbfgs  # scipy: imported to fit, not to list methods

        return lbfgs(lambda t: self._objective(t, X, S, B), theta, self.lbfgs_iter, corrections=self.corrections)

    def _codes(self, theta, X):
        return sign(self._forward(self._unpack(theta, X.shape[1]), X)[-1])

    def fit(self, X, Y):
        from hashbench.metrics import evaluate  # numba: imported to fit, not to list methods

        self.validate()
        X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y)
        rng = np.random.default_rng(self.seed)
        held = stratified_holdout(Y, self.validation, rng)
        Xt, S = X[~held], LabelSimilarity(Y[~held])
        # B from ITQ on the training data (runITQ.m: centre, PCA, 50 ITQ iterations)
        centred = Xt - Xt.mean(axis=0)
        V = centred @ pca_directions(centred, self.n_bits)
        B = sign(V @ itq_rotation(V, 50, rng)[0]).astype(np.float64)
        theta = self._lbfgs(self._initial_theta(Xt), Xt, S, B)
        self.loss_history_ = [float(self._objective(theta, Xt, S, B)[0])]
        self.validation_map_ = []
        best, best_theta = -np.inf, theta
        for _ in range(self.max_rounds):
            B = self._codes(theta, Xt).astype(np.float64)
            theta = self._lbfgs(theta, Xt, S, B)
            self.loss_history_.append(float(self._objective(theta, Xt, S, B)[0]))
            score = evaluate(self._codes(theta, X[held]), self._codes(theta, X), Y[held], Y, X.shape[0],
                             precision_at=())["map"]
            self.validation_map_.append(score)
            if score <= best:
                break
            best, best_theta = score, theta
        self.n_rounds_ = len(self.validation_map_)
        self.theta_ = best_theta
        return self

    def encode(self, X):
        return self._codes(self.theta_, np.asarray(X, dtype=np.float64))
