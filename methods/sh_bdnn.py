"""SH-BDNN: supervised Binary Deep Neural Network (Do, Doan & Cheung, ECCV 2016, Sec. 4).

A network whose last layer outputs the codes: D -> ``n_hidden`` sigmoid units -> K linear units H
(one row per training item). With B in {-1,+1}^{m x K} and S_ij = +1 for items sharing a label
and -1 otherwise, it minimises
  J = 1/(2m) ||H H^T / K - S||^2           similarity preservation
    + lambda1/2 (||W1||^2 + ||W2||^2)       weight decay
    + lambda2/(2m) ||H - B||^2              ties the layer to binary codes
    + lambda3/2 ||H^T H / m - I||^2         independence: bits uncorrelated
    + lambda4/(2m) ||H^T 1||^2              balance: each bit half +1
by alternating optimisation: fix B and train the network (L-BFGS, ``lbfgs_iter`` steps, as the
paper does), then fix the network and set B = sgn(H), for ``n_outer`` rounds. Codes: sgn(H(x)).
``loss_history_`` holds J after every round. The hyperparameter defaults are ours (the review
gives none): lambda1 = 1e-3, lambda2 = 5, lambda3 = 5, lambda4 = 1, 128 hidden units; a larger
lambda3 decorrelates the bits further at some cost in MAP on few-class data.
"""

import numpy as np
import scipy.optimize

from hashbench.base import HashMethod, require_int, sign
from hashbench.errors import HashbenchError
from hashbench.shallow import LabelSimilarity


class SHBDNN(HashMethod):
    name = "SH-BDNN"
    supervised = True

    def __init__(self, n_bits=32, seed=0, n_hidden=128, lambda1=1e-3, lambda2=5.0, lambda3=5.0, lambda4=1.0,
                 n_outer=10, lbfgs_iter=30):
        super().__init__(n_bits, seed)
        self.n_hidden = n_hidden
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.lambda4 = lambda4
        self.n_outer = n_outer
        self.lbfgs_iter = lbfgs_iter

    def _check(self):
        for name in ("n_hidden", "n_outer", "lbfgs_iter"):
            require_int(name, getattr(self, name), 1)
        for name in ("lambda1", "lambda2", "lambda3", "lambda4"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise HashbenchError(f"{name}: expected a non-negative number, got {value!r}")

    def _unpack(self, theta, n_in):
        h, k = self.n_hidden, self.n_bits
        sizes = np.cumsum([h * n_in, h, k * h])
        return (theta[:sizes[0]].reshape(h, n_in), theta[sizes[0]:sizes[1]],
                theta[sizes[1]:sizes[2]].reshape(k, h), theta[sizes[2]:])

    def _forward(self, theta, X):
        W1, b1, W2, b2 = self._unpack(theta, X.shape[1])
        A = 1 / (1 + np.exp(-(X @ W1.T + b1)))
        return A, A @ W2.T + b2

    def _objective(self, theta, X, S, B):
        """J and its gradient with respect to the network parameters (B fixed)."""
        m, k = X.shape[0], self.n_bits
        W1, _, W2, _ = self._unpack(theta, X.shape[1])
        A, H = self._forward(theta, X)
        HtH = H.T @ H
        SH = S @ H
        G = HtH / m - np.eye(k)
        colsum = H.sum(axis=0)
        # ||H H^T / k - S||^2 = ||H^T H||^2 / k^2 - 2 tr(H^T S H) / k + m^2, never forming m x m matrices
        similarity = np.sum(HtH**2) / k**2 - 2 * np.sum(H * SH) / k + m**2
        J = (similarity / (2 * m) + self.lambda1 / 2 * (np.sum(W1**2) + np.sum(W2**2))
             + self.lambda2 / (2 * m) * np.sum((H - B) ** 2) + self.lambda3 / 2 * np.sum(G**2)
             + self.lambda4 / (2 * m) * np.sum(colsum**2))
        dH = (2 / (m * k)) * (H @ HtH / k - SH) + self.lambda2 / m * (H - B) + (2 * self.lambda3 / m) * H @ G \
            + self.lambda4 / m * colsum
        dZ = (dH @ W2) * A * (1 - A)
        grad = np.concatenate([(dZ.T @ X + self.lambda1 * W1).ravel(), dZ.sum(axis=0),
                               (dH.T @ A + self.lambda1 * W2).ravel(), dH.sum(axis=0)])
        return J, grad

    def fit(self, X, Y):
        self._check()
        X = np.asarray(X, dtype=np.float64)
        rng = np.random.default_rng(self.seed)
        n_in = X.shape[1]
        theta = np.concatenate([rng.normal(0, 1 / np.sqrt(n_in), self.n_hidden * n_in), np.zeros(self.n_hidden),
                                rng.normal(0, 1 / np.sqrt(self.n_hidden), self.n_bits * self.n_hidden),
                                np.zeros(self.n_bits)])
        S = LabelSimilarity(Y)
        B = sign(self._forward(theta, X)[1]).astype(np.float64)
        self.loss_history_ = [float(self._objective(theta, X, S, B)[0])]
        for _ in range(self.n_outer):
            theta = scipy.optimize.minimize(self._objective, theta, args=(X, S, B), jac=True, method="L-BFGS-B",
                                            options={"maxiter": self.lbfgs_iter}).x
            B = sign(self._forward(theta, X)[1]).astype(np.float64)
            self.loss_history_.append(float(self._objective(theta, X, S, B)[0]))
        self.theta_ = theta
        return self

    def encode(self, X):
        return sign(self._forward(self.theta_, np.asarray(X, dtype=np.float64))[1])
