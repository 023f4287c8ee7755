"""BRE: Binary Reconstructive Embedding (Kulis & Darrell, NIPS 2009, Sec. 2-3).

Follows the authors' released ``trainBRE.m`` and its demo script. On n = ``n_points`` training
points (min(1000, training set size), the demo's 1,000), bit b is
h_b(x) = [sum_q W_qb k(x, x_{p(q,b)}) > 0] over ``hash_size`` (50, the demo's) kernel basis points
p(., b) drawn at random for each bit. The kernel is the demo's (``kernel: linear``: centre the
data, scale each point to unit norm, project on the top min(K, D) principal directions of the
training points, k(x, y) = <x, y>) or a Gaussian RBF (``kernel: rbf``, exp(-d^2 / (2 sigma^2)),
sigma^2 the mean squared distance between training points unless ``sigma`` is given; ours).
With supervised target distances d_ij = 0 for pairs sharing a label and 1 otherwise (Sec. 3.2)
and the normalised Hamming distance dH / K, BRE minimises over W
    f(W) = 1/2 sum_{(i,j) in P} (dH(x_i, x_j) / K - d_ij)^2,
where P pairs each point with ``pair_fraction`` (5%) of the n points drawn at random (itself
excluded), as ``trainBRE.m`` does. W starts at 1e-3 N(0, 1). Coordinate descent (Sec. 2.2,
``trainBRE.m``): a sweep visits the bits in order and sets one random weight W_qb of each to its
exact minimiser. As W_qb moves, point i's bit flips only at w = -c_i / k_i (c_i the rest of its
kernel sum, k_i its kernel value at the basis point), so f is piecewise constant in W_qb; the
candidates are the midpoints between consecutive sorted breakpoints and 5e-7 beyond the extreme
ones, and the first candidate with the smallest f wins. The sweep over sorted breakpoints updates
f incrementally, each flip touching only the flipped point's pairs (a compiled kernel). Sweeps
repeat until f changes by at most ``tol`` (1e-6) over a sweep, or ``max_sweeps`` (ours; the
released code has no cap). ``loss_history_`` holds f after every sweep, ``n_sweeps_`` their number.
"""

import numpy as np

from hashbench.method import HashMethod
from hashbench.params import Integer, Nullable, Options, Real, check
from hashbench.shallow.labels import similar
from hashbench.shallow.projections import pca_directions, squared_distances


def neighbour_pairs(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``trainBRE.m``'s pairs: each point i with round(fraction n) random points, i itself dropped."""
    per_point = max(1, round(fraction * n))
    left, right = [], []
    for i in range(n):
        others = rng.permutation(n)[:per_point]
        others = others[others != i]
        left.append(np.full(others.size, i))
        right.append(others)
    return np.concatenate(left), np.concatenate(right)


def _adjacency(pair_i, pair_j, n):
    """CSR lists of the pairs each point belongs to."""
    ends = np.concatenate([pair_i, pair_j])
    pairs = np.concatenate([np.arange(pair_i.size)] * 2)
    order = np.argsort(ends, kind="stable")
    return np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=n))]), pairs[order]


class BRE(HashMethod):
    name = "BRE"
    STYLE = ("#17becf", "h")
    CLAIM_GROUP = "shallow baseline"
    TEST_PARAMS = {"max_sweeps": 20}
    supervised = True

    PARAMS = {"max_sweeps": Integer(1), "hash_size": Integer(1), "tol": Real(0), "n_points": Nullable(Integer(2)),
              "kernel": Options(("linear", "rbf")), "sigma": Nullable(Real(0, closed="neither")),
              "pair_fraction": Real(0, 1, "right")}

    def __init__(self, n_bits=32, seed=0, n_points=None, hash_size=50, pair_fraction=0.05, kernel="linear",
                 sigma=None, tol=1e-6, max_sweeps=2000):
        super().__init__(n_bits, seed)
        self.n_points = n_points
        self.hash_size = hash_size
        self.pair_fraction = pair_fraction
        self.kernel = kernel
        self.sigma = sigma
        self.tol = tol
        self.max_sweeps = max_sweeps

    def _check(self, n_train, n):
        """The limits that depend on the training set."""
        self.validate()
        check("n_points", n, Integer(2, n_train), " (the training set size)")
        check("hash_size", self.hash_size, Integer(1, n), " (n_points)")

    def _unit_rows(self, X):
        """The demo's preprocessing for the linear kernel: centred by the training mean, unit norm."""
        Z = np.asarray(X, dtype=np.float64) - self.mean_
        return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)

    def _embed(self, X):
        """The representation the kernel is computed on (linear kernel: centred, unit-norm, PCA)."""
        if self.kernel == "rbf":
            return np.asarray(X, dtype=np.float64)
        return self._unit_rows(X) @ self.pca_

    def _kernel(self, A, B):
        if self.kernel == "linear":
            return A @ B.T
        return np.exp(-squared_distances(A, B) / (2 * self.sigma_**2))

    def _project(self, K, W):
        """Each bit's kernel sum over its own basis points: (len(K), n_bits)."""
        return np.stack([K[:, self.hash_inds_[:, b]] @ W[:, b] for b in range(self.n_bits)], axis=1)

    def fit(self, X, Y):
        X = np.asarray(X, dtype=np.float64)
        n = self.n_points if self.n_points is not None else min(1000, X.shape[0])
        self._check(X.shape[0], n)
        rng = np.random.default_rng(self.seed)
        self.points_ = points = rng.choice(X.shape[0], n, replace=False)
        if self.kernel == "linear":
            self.mean_ = X[points].mean(axis=0)
            Z = self._unit_rows(X[points])
            self.pca_ = pca_directions(Z, min(self.n_bits, X.shape[1]))
            self.basis_ = Z @ self.pca_
        else:
            self.basis_ = X[points]
        self.sigma_ = self._sigma(self.basis_)
        K = self._kernel(self.basis_, self.basis_)
        self.hash_inds_ = np.stack([rng.permutation(n)[:self.hash_size] for _ in range(self.n_bits)], axis=1)
        W = 1e-3 * rng.standard_normal((self.hash_size, self.n_bits))
        pair_i, pair_j = neighbour_pairs(n, self.pair_fraction, rng)
        adj_start, adj_pairs = _adjacency(pair_i, pair_j, n)
        dist = np.where(similar(Y[points], Y[points])[pair_i, pair_j], 0.0, 1.0)
        KW = self._project(K, W)
        H = KW > 0
        ham = (H[pair_i] != H[pair_j]).sum(axis=1).astype(np.int64)
        from hashbench.shallow.bre_search import line_search, objective  # numba: imported to fit, not to list

        f = objective(ham, dist, self.n_bits)
        self.loss_history_ = []
        for _ in range(self.max_sweeps):
            f_old = f
            for b, q in enumerate(rng.integers(self.hash_size, size=self.n_bits)):
                k = K[:, self.hash_inds_[q, b]]
                c = KW[:, b] - W[q, b] * k
                w, _ = line_search(c, k, H[:, b].copy(), pair_i, pair_j, ham, dist, adj_start, adj_pairs,
                                   self.n_bits)
                W[q, b] = w
                KW[:, b] = c + w * k
                new = KW[:, b] > 0
                ham += (new[pair_i] != new[pair_j]).astype(np.int64) - (H[pair_i, b] != H[pair_j, b])
                H[:, b] = new
            f = objective(ham, dist, self.n_bits)
            self.loss_history_.append(f)
            if abs(f - f_old) <= self.tol:
                break
        self.n_sweeps_ = len(self.loss_history_)
        self.weights_ = W
        return self

    def _sigma(self, Z):
        if self.kernel != "rbf":
            return None
        if self.sigma is not None:
            return float(self.sigma)
        return float(np.sqrt(squared_distances(Z, Z).mean()))

    def encode(self, X):
        kw = self._project(self._kernel(self._embed(X), self.basis_), self.weights_)
        return np.where(kw > 0, 1, -1).astype(np.int8)
