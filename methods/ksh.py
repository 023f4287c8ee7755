"""KSH: Supervised Hashing with Kernels (Liu, Wang, Ji, Jiang & Chang, CVPR 2012, Sec. 3-4).

Follows the authors' released code (ColumbiaDVMM/Supervised-Hashing-with-Kernels: ``KSH_demo.m``
and ``OptProjectionFast.m``). Hash functions h_k(x) = sgn(kbar(x)^T a_k), where kbar(x) is the
zero-centred Gaussian RBF kernel between x and m = 300 anchors drawn from the training set
(exp(-d^2 / (2 mean d^2)), the mean over training points and anchors, as ``KSH_demo.m``). On l
labelled samples with target similarities S in {-1, +1} (share a label or not), KSH minimises
||H H^T - r S||_F^2 over the codes H = sgn(Kbar A) (Eq. 8), greedily bit by bit: bit k fits the
residue R_{k-1} = r S - sum_{t<k} h_t h_t^T by maximising h^T R_{k-1} h (Eq. 10),
  1. spectral relaxation: the top generalised eigenvector of Kbar^T R Kbar a = lambda Kbar^T Kbar a,
     scaled to a^T Kbar^T Kbar a = l (``KSH_demo.m``; we add 1e-6 I to Kbar^T Kbar for stability);
  2. ``OptProjectionFast.m``: Nesterov-accelerated gradient descent from there on the smoothed
     cost -phi(Kbar a)^T R phi(Kbar a), phi(x) = 2/(1 + exp(-x)) - 1 (Eq. 11-12). Each step probes
     v = a_t + (d_{t-1} - 1)/d_t (a_t - a_{t-1}) and takes z = v - grad/b with the smallest
     b = 2^j b_{t-1} (j = 0..50, b_0 = 1, so the step 1/b starts at 1 and never grows) that passes
     the quadratic upper-bound test; it stops after ``n_iter`` (500) steps, when no b passes, or when
     |cost_t - cost_{t-1}| / l <= ``tol`` (1e-2);
  3. the refined solution replaces the spectral one only if its discrete objective h^T R h is
     strictly larger (``refined_`` records, per bit, which one was kept).
``n_labelled`` None uses min(2000, training set size) labelled samples.
"""

import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.params import Integer, Nullable, Real
from hashbench.shallow.labels import LabelSimilarity
from hashbench.shallow.projections import anchors_and_sample


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


def optimise_projection(K, R, a0, n_iter, tol):
    """``OptProjectionFast.m``: minimise f(a) = -phi(Ka)^T R phi(Ka) from a0 (module docstring, step 2).

    Returns the last accepted iterate, the cost after every accepted step (the first entry is f(a0))
    and the norm ||a|| of every accepted iterate (the first entry is ||a0||).
    """

    def cost(a):
        y = _smooth(K @ a)
        ry = R @ y
        return y, ry, -y @ ry  # R y is kept for the gradient

    previous = current = a0
    costs, norms = [cost(a0)[2]], [float(np.linalg.norm(a0))]
    d_previous, d, bound = 0.0, 1.0, 1.0
    for _ in range(n_iter):
        v = current + (d_previous - 1) / d * (current - previous)
        y, ry, f_v = cost(v)
        grad = -(K.T @ (ry * (1 - y**2)))
        for j in range(51):
            b = 2.0**j * bound
            z = v - grad / b
            step = z - v
            f_z = cost(z)[2]
            if f_z <= f_v + grad @ step + b * (step @ step) / 2:
                break
        else:
            break  # no step size passes the test
        bound, previous, current = b, current, z
        costs.append(float(f_z))
        norms.append(float(np.linalg.norm(z)))
        d_previous, d = d, (1 + np.sqrt(1 + 4 * d**2)) / 2
        if abs(costs[-1] - costs[-2]) / K.shape[0] <= tol:
            break
    return current, costs, norms


class KSH(HashMethod):
    name = "KSH"
    STYLE = ("#e377c2", "<")
    CLAIM_GROUP = "shallow baseline"
    TEST_PARAMS = {"n_iter": 20}
    supervised = True

    PARAMS = {"n_iter": Integer(0), "n_anchors": Integer(1), "tol": Real(0),
              "sigma": Nullable(Real(0, closed="neither")), "n_labelled": Nullable(Integer(2))}

    def __init__(self, n_bits=32, seed=0, n_anchors=300, n_labelled=None, sigma=None, n_iter=500, tol=1e-2):
        super().__init__(n_bits, seed)
        self.n_anchors = n_anchors
        self.n_labelled = n_labelled
        self.sigma = sigma
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, X, Y):
        self.validate()
        import scipy.linalg  # imported here: listing methods (every job, Snakemake's DAG) stays free of scipy

        X = np.asarray(X, dtype=np.float64)
        self.kernel_, labelled = anchors_and_sample(X, self.n_anchors, self.sigma, self.n_labelled, 2000, "n_labelled",
                                                    np.random.default_rng(self.seed))
        K = self.kernel_(X[labelled])
        R = Residue(Y[labelled], self.n_bits)
        gram = K.T @ K + 1e-6 * np.eye(K.shape[1])
        A = np.zeros((K.shape[1], self.n_bits))
        self.bit_scores_ = []  # (spectral initialisation, kept solution) of h^T R h per bit
        self.refined_ = []  # per bit: True where the refined solution replaced the spectral one
        self.n_steps_ = []  # per bit: accepted steps of the optimiser
        for k in range(self.n_bits):
            M = K.T @ (R @ K)
            _, vec = scipy.linalg.eigh((M + M.T) / 2, gram, subset_by_index=[K.shape[1] - 1, K.shape[1] - 1])
            a0 = vec[:, 0] * np.sqrt(labelled.size / (vec[:, 0] @ gram @ vec[:, 0]))
            a1, costs, _ = optimise_projection(K, R, a0, self.n_iter, self.tol)
            h0, h1 = sign(K @ a0).astype(float), sign(K @ a1).astype(float)
            s0, s1 = h0 @ (R @ h0), h1 @ (R @ h1)
            refined = bool(s1 > s0)
            A[:, k], h = (a1, h1) if refined else (a0, h0)
            self.bit_scores_.append((float(s0), float(max(s0, s1))))
            self.refined_.append(refined)
            self.n_steps_.append(len(costs) - 1)
            R.subtract(h)
        self.projection_ = A
        self.objective_ = R.squared_norm()  # ||H H^T - r S||_F^2 on the labelled samples
        self.loss_history_ = [-s for _, s in self.bit_scores_]
        return self

    def encode(self, X):
        return sign(self.kernel_(X) @ self.projection_)
