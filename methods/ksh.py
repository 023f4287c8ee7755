"""KSH: Supervised Hashing with Kernels (Liu, Wang, Ji, Jiang & Chang, CVPR 2012, Sec. 3-4).

Hash functions h_k(x) = sgn(kbar(x)^T a_k), where kbar(x) is the zero-centred Gaussian RBF kernel
between x and m = 300 anchors drawn from the training set (width: root mean squared distance to
the anchors, as in the authors' code). On l labelled samples with target similarities S in
{-1, +1} (share a label or not), KSH minimises ||H H^T - r S||_F^2 over the codes H = sgn(Kbar A)
(Eq. 8), greedily bit by bit: bit k fits the residue R_{k-1} = r S - sum_{t<k} h_t h_t^T by
maximising h^T R_{k-1} h (Eq. 10),
  1. spectral relaxation: the top generalised eigenvector of Kbar^T R Kbar a = lambda Kbar^T Kbar a;
  2. gradient descent from there on the smoothed objective -phi(Kbar a)^T R phi(Kbar a), with
     phi(x) = 2/(1 + exp(-x)) - 1 (Eq. 11-12), here with Armijo backtracking steps, for at most
     ``n_iter`` steps or until a step lowers the smoothed objective by less than ``tol`` (relative);
  3. the better of the two solutions in the discrete objective is kept (Sec. 4).
``n_labelled`` None uses min(2000, training set size) labelled samples.
"""

import numpy as np
import scipy.linalg

from hashbench.base import HashMethod, require_int, sign
from hashbench.shallow import LabelSimilarity, anchors_and_sample


def _smooth(u):
    return np.tanh(u / 2)  # = 2 / (1 + exp(-u)) - 1


class Residue:
    """The residue R = r S - H H^T as an operator, H the codes of the bits fitted so far."""

    def __init__(self, Y: np.ndarray, r: int):
        self.r = float(r)
        self.S = LabelSimilarity(Y)
        self.H = np.zeros((Y.shape[0], 0))

    def __matmul__(self, B):
        return self.r * (self.S @ B) - self.H @ (self.H.T @ B)

    def subtract(self, h):
        self.H = np.column_stack([self.H, h])

    def squared_norm(self) -> float:
        """||r S - H H^T||_F^2 = r^2 m^2 - 2 r tr(H^T S H) + ||H^T H||_F^2 (S has +-1 entries)."""
        m = self.H.shape[0]
        return float(self.r**2 * m**2 - 2 * self.r * np.sum(self.H * (self.S @ self.H)) + np.sum((self.H.T @ self.H) ** 2))


def _descend(K, R, a, n_iter, step, tol):
    """Minimise f(a) = -phi(Ka)^T R phi(Ka) by gradient descent with Armijo backtracking."""
    b = _smooth(K @ a)
    Rb = R @ b
    f = -b @ Rb
    for _ in range(n_iter):
        grad = -K.T @ (Rb * (1 - b**2))
        g2 = grad @ grad
        if g2 < 1e-20:
            break
        step *= 2
        while True:
            trial = a - step * grad
            b_trial = _smooth(K @ trial)
            Rb_trial = R @ b_trial
            f_trial = -b_trial @ Rb_trial
            if f_trial <= f - 1e-4 * step * g2 or step < 1e-12:
                break
            step /= 2
        converged = f - f_trial < tol * abs(f)
        if f_trial < f:
            a, b, Rb, f = trial, b_trial, Rb_trial, f_trial
        if converged:
            break
    return a


class KSH(HashMethod):
    name = "KSH"
    supervised = True

    def __init__(self, n_bits=32, seed=0, n_anchors=300, n_labelled=None, sigma=None, n_iter=300, tol=1e-4):
        super().__init__(n_bits, seed)
        self.n_anchors = n_anchors
        self.n_labelled = n_labelled
        self.sigma = sigma
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, X, Y):
        require_int("n_iter", self.n_iter, 0)
        X = np.asarray(X, dtype=np.float64)
        self.kernel_, labelled = anchors_and_sample(X, self.n_anchors, self.sigma, self.n_labelled, 2000, "n_labelled",
                                                    np.random.default_rng(self.seed))
        K = self.kernel_(X[labelled])
        R = Residue(Y[labelled], self.n_bits)
        gram = K.T @ K + 1e-6 * np.eye(K.shape[1])
        step = 1.0 / np.linalg.eigvalsh(gram)[-1]  # 1 / ||K||_2^2, the initial gradient step
        A = np.zeros((K.shape[1], self.n_bits))
        self.bit_scores_ = []  # (spectral initialisation, kept solution) of h^T R h per bit
        for k in range(self.n_bits):
            M = K.T @ (R @ K)
            _, vec = scipy.linalg.eigh((M + M.T) / 2, gram, subset_by_index=[K.shape[1] - 1, K.shape[1] - 1])
            a0 = vec[:, 0] * np.sqrt(labelled.size / (vec[:, 0] @ gram @ vec[:, 0]))
            a1 = _descend(K, R, a0, self.n_iter, step, self.tol)
            h0, h1 = sign(K @ a0).astype(float), sign(K @ a1).astype(float)
            s0, s1 = h0 @ (R @ h0), h1 @ (R @ h1)
            A[:, k], h = (a1, h1) if s1 > s0 else (a0, h0)
            self.bit_scores_.append((float(s0), float(max(s0, s1))))
            R.subtract(h)
        self.projection_ = A
        self.objective_ = R.squared_norm()  # ||H H^T - r S||_F^2 on the labelled samples
        self.loss_history_ = [-s for _, s in self.bit_scores_]
        return self

    def encode(self, X):
        return sign(self.kernel_(X) @ self.projection_)
