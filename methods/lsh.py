"""LSH: sign random projections (Charikar, STOC 2002; Gionis, Indyk & Motwani, VLDB 1999).

h(x) = sgn(W^T (x - mu)) with W a D x K matrix of i.i.d. N(0, 1) entries drawn from the run's seed
and mu the training mean: each bit is a random hyperplane through the data's centre, so the
probability two points collide on a bit is 1 - angle(x, y)/pi. Data-independent apart from mu.
"""

import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod


class LSH(HashMethod):
    name = "LSH"
    STYLE = ("#000000", "x")
    CLAIM_GROUP = "shallow baseline"

    def fit(self, X, Y=None):
        rng = np.random.default_rng(self.seed)
        self.mean_ = X.mean(axis=0)
        self.projection_ = rng.standard_normal((X.shape[1], self.n_bits))
        return self

    def encode(self, X):
        return sign((X - self.mean_) @ self.projection_)
