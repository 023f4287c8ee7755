"""ITQ: Iterative Quantization (Gong & Lazebnik, CVPR 2011, Sec. 2; TPAMI 2013).

Centre the data, project on the top-K principal directions (V = (X - mu) W_pca), then minimise the
quantization loss Q(B, R) = ||B - V R||_F^2 over codes B in {-1,+1}^{n x K} and an orthogonal
K x K rotation R, alternating for ``n_iter`` (50) iterations from a random orthogonal R:
  fix R: B = sgn(V R);
  fix B: the orthogonal Procrustes problem, SVD  B^T V = S Omega S_hat^T,  R = S_hat S^T.
Each step cannot increase Q; ``loss_history_`` records Q after every iteration. Codes are
sgn((x - mu) W_pca R). K must not exceed the feature dimension.
"""

import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.params import Integer
from hashbench.shallow.projections import itq_rotation, pca_directions


class ITQ(HashMethod):
    name = "ITQ"
    STYLE = ("#bcbd22", "p")
    CLAIM_GROUP = "shallow baseline"

    PARAMS = {"n_iter": Integer(1)}

    def __init__(self, n_bits=32, seed=0, n_iter=50):
        super().__init__(n_bits, seed)
        self.n_iter = n_iter

    def fit(self, X, Y=None):
        self.validate()
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        self.pca_ = pca_directions(X - self.mean_, self.n_bits)
        V = (X - self.mean_) @ self.pca_
        self.rotation_, self.loss_history_ = itq_rotation(V, self.n_iter, np.random.default_rng(self.seed))
        return self

    def encode(self, X):
        return sign((np.asarray(X, dtype=np.float64) - self.mean_) @ self.pca_ @ self.rotation_)
