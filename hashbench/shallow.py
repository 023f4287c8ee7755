"""Building blocks shared by the shallow methods: PCA, the ITQ rotation, label similarity, RBF anchors, L-BFGS."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

from hashbench.base import require_int, require_number, sign
from hashbench.errors import HashbenchError


def pca_directions(X: np.ndarray, n_components: int) -> np.ndarray:
    """Top principal directions of centred X (D x n_components), each column's largest entry positive."""
    if n_components > X.shape[1]:
        raise HashbenchError(f"n_bits: {n_components} bits exceed the feature dimension {X.shape[1]}")
    eigval, eigvec = np.linalg.eigh(np.cov(X, rowvar=False))
    top = eigvec[:, np.argsort(eigval)[::-1][:n_components]]
    return top * np.sign(top[np.abs(top).argmax(axis=0), np.arange(n_components)])


def itq_rotation(V: np.ndarray, n_iter: int, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    """ITQ (Gong & Lazebnik 2011): alternate B = sgn(VR) and the orthogonal Procrustes update of R.

    Returns R and the quantization loss ||B - VR||_F^2 after each iteration (never increasing).
    """
    require_int("n_iter", n_iter, 1)
    R, _ = np.linalg.qr(rng.standard_normal((V.shape[1], V.shape[1])))
    history = []
    for _ in range(n_iter):
        B = sign(V @ R).astype(V.dtype)
        S, _, S_hat_t = np.linalg.svd(B.T @ V)
        R = S_hat_t.T @ S.T
        history.append(float(np.sum((B - V @ R) ** 2)))
    return R, history


def similar(Y1: np.ndarray, Y2: np.ndarray) -> np.ndarray:
    """Boolean (n1, n2) matrix: True where two items share at least one label."""
    return (np.asarray(Y1, dtype=np.float32) @ np.asarray(Y2, dtype=np.float32).T) > 0


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(len(A), len(B)) squared Euclidean distances, clipped at 0 against rounding."""
    return np.maximum((A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2 * A @ B.T, 0)


class LabelSimilarity:
    """The m x m matrix S_ij = +1 for items sharing a label, -1 otherwise, as an operator ``S @ B``.

    For single-label data S = 2 Y Y^T - 1 1^T is applied in O(m C) per column without forming it;
    multi-label data uses the dense matrix.
    """

    def __init__(self, Y: np.ndarray):
        self.Y = np.asarray(Y, dtype=np.float64)
        single = bool((self.Y.sum(axis=1) == 1).all())
        self.dense = None if single else np.where(similar(Y, Y), 1.0, -1.0)

    def __matmul__(self, B: np.ndarray) -> np.ndarray:
        if self.dense is not None:
            return self.dense @ B
        return 2 * self.Y @ (self.Y.T @ B) - B.sum(axis=0)


class RBFAnchors:
    """Gaussian RBF features on anchor points, k(x, a) = exp(-||x - a||^2 / (2 sigma^2)), centred.

    ``sigma`` defaults to the root mean squared distance between the training points and the
    anchors (as in KSH's code); the kernel features are centred by their training mean.
    """

    def __init__(self, X: np.ndarray, n_anchors: int, sigma: float | None, rng: np.random.Generator):
        require_int("n_anchors", n_anchors, 1, X.shape[0], " (the training set size)")
        if sigma is not None:
            require_number("sigma", sigma, lambda s: s > 0, "a positive kernel width or null")
        self.anchors = X[rng.choice(X.shape[0], n_anchors, replace=False)]
        sq = self._sq_dist(X)
        self.sigma = float(sigma) if sigma is not None else float(np.sqrt(sq.mean()))
        self.mean = np.exp(-sq / (2 * self.sigma**2)).mean(axis=0)

    def _sq_dist(self, X):
        return squared_distances(X, self.anchors)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return np.exp(-self._sq_dist(np.asarray(X, dtype=np.float64)) / (2 * self.sigma**2)) - self.mean


def anchors_and_sample(X, n_anchors, sigma, size, default_cap: int, name: str, rng):
    """The RBF anchor kernel of a kernel method and the random training subset its objective uses.

    ``size`` None means min(default_cap, n); an explicit size must lie in 2..n (hyperparameter ``name``).
    """
    n = X.shape[0]
    size = min(default_cap, n) if size is None else size
    require_int(name, size, 2, n, " (the training set size)")
    return RBFAnchors(X, n_anchors, sigma, rng), rng.choice(n, size, replace=False)


class _LBFGSMemory:
    """The last ``size`` pairs (s, y) and the product H g of the L-BFGS inverse Hessian with a vector,
    in the compact form of Byrd, Nocedal & Schnabel (1994, Thm. 2.2), equal to the two-loop recursion
    but computed with matrix-vector products: H = gamma I + [S gamma Y] M [S gamma Y]^T, M built from
    R = triu(S^T Y), D = diag(S^T Y) and Y^T Y, which are kept up to date as pairs arrive."""

    def __init__(self, size: int, dim: int):
        self.S, self.Y = np.empty((size, dim)), np.empty((size, dim))
        self.SY, self.YY = np.empty((size, size)), np.empty((size, size))  # by slot: s_i.y_j, y_i.y_j
        self.order, self.size, self.gamma = [], size, 1.0

    def add(self, s: np.ndarray, y: np.ndarray) -> None:
        slot = len(self.order) if len(self.order) < self.size else self.order.pop(0)
        self.S[slot], self.Y[slot] = s, y
        k = max(len(self.order) + 1, slot + 1)  # slots 0..k-1 are filled
        self.SY[slot, :k], self.SY[:k, slot] = self.Y[:k] @ s, self.S[:k] @ y
        self.YY[slot, :k] = self.YY[:k, slot] = self.Y[:k] @ y
        self.order.append(slot)
        self.gamma = (s @ y) / (y @ y)

    def direction(self, g: np.ndarray) -> np.ndarray:
        """-H g."""
        if not self.order:
            return -g
        o = np.array(self.order)  # slots in chronological order; slots 0..k-1 are filled
        S, Y = self.S[:o.size], self.Y[:o.size]  # views: the products below never copy the history
        sy = self.SY[np.ix_(o, o)]
        R = np.triu(sy)
        a, b = (S @ g)[o], self.gamma * (Y @ g)[o]
        r_a = scipy.linalg.solve_triangular(R, a)
        w1 = scipy.linalg.solve_triangular(R, np.diag(sy) * r_a + self.gamma * (self.YY[np.ix_(o, o)] @ r_a) - b,
                                           trans="T")
        w_s, w_y = np.empty(o.size), np.empty(o.size)
        w_s[o], w_y[o] = w1, -self.gamma * r_a
        return -(self.gamma * g + w_s @ S + w_y @ Y)


def lbfgs(fun, x0: np.ndarray, max_iter: int, corrections: int = 100, max_evals: int = 1000, opt_tol: float = 1e-5,
          prog_tol: float = 1e-9) -> np.ndarray:
    """Minimise ``fun(x) -> (f, grad)`` by L-BFGS with minFunc's defaults (Schmidt's minFunc, used by
    several released hashing codes): ``corrections`` memory pairs (pairs with y^T s <= 1e-10 skipped,
    initial scaling y^T s / y^T y), a strong-Wolfe line search (c1 = 1e-4, c2 = 0.9) from t = 1 (the
    first step t = min(1, 1 / ||g||_1)), stopping after ``max_iter`` iterations, ``max_evals``
    evaluations, max |g| <= ``opt_tol``, or a change of f or x below ``prog_tol``. Returns the last
    iterate.
    """
    cache = {}

    def evaluate(x):
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = fun(x)
        return cache[key]

    x = np.array(x0, dtype=np.float64)
    f, g = evaluate(x)
    memory, evals = _LBFGSMemory(corrections, x.size), 1
    for i in range(max_iter):
        if np.abs(g).max() <= opt_tol:
            break
        d = memory.direction(g)
        if g @ d > -prog_tol:
            break
        d *= min(1.0, 1.0 / np.abs(g).sum()) if i == 0 else 1.0
        t, fc, gc, _, _, _ = scipy.optimize.line_search(lambda z: evaluate(z)[0], lambda z: evaluate(z)[1], x, d, g,
                                                        f, maxiter=25)
        evals += max(fc, gc)
        if t is None:
            break
        step = t * d
        x_new = x + step
        f_new, g_new = evaluate(x_new)
        if (g_new - g) @ step > 1e-10:
            memory.add(step, g_new - g)
        x, f_old, f, g = x_new, f, f_new, g_new
        if evals >= max_evals or np.abs(step).max() <= prog_tol or abs(f - f_old) < prog_tol:
            break
    return x
