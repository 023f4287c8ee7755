"""Classifier codewords: the floor a supervised hashing method must clear (not in the HashNet paper).

Sablayrolles, Douze, Usunier & Jegou, "How should we evaluate supervised hashing?" (ICASSP 2017):
when "relevant" means "shares a label", a classifier that codes every item by one codeword per
predicted class is a strong retrieval baseline. Here: logistic regression (scikit-learn, L2 penalty
``C``, L-BFGS, ``max_iter``) on the protocol's features (standardised by their training mean and
std); each class gets a random {-1,+1} codeword of K bits drawn from the seed, and an item is
coded by the codeword of its predicted class. Multi-label data (ours, documented): one binary
logistic regression per label, the predicted labels are those with probability >= 0.5 (the most
probable one if none is), and the code is the sign of the sum of their codewords (sgn(0) = +1).
"""

import numpy as np

from hashbench.codes import multi_label, sign
from hashbench.method import HashMethod
from hashbench.params import Integer, Real


class Classifier(HashMethod):
    name = "Classifier"
    STYLE = ("#393b79", "d")
    CLAIM_GROUP = None
    supervised = True

    PARAMS = {"max_iter": Integer(1), "C": Real(0, closed="neither")}

    def __init__(self, n_bits=32, seed=0, C=1.0, max_iter=1000):
        super().__init__(n_bits, seed)
        self.C = C
        self.max_iter = max_iter

    def fit(self, X, Y):
        self.validate()
        X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y) > 0
        self.mean_, self.scale_ = X.mean(axis=0), np.maximum(X.std(axis=0), 1e-12)
        Z = (X - self.mean_) / self.scale_
        self.multi_label_ = multi_label(Y)
        if self.multi_label_:
            self.models_ = [self._model().fit(Z, Y[:, c]) if 0 < Y[:, c].sum() < len(Y) else bool(Y[0, c])
                            for c in range(Y.shape[1])]
        else:
            self.models_ = [self._model().fit(Z, Y.argmax(axis=1))]
        self.codewords_ = np.random.default_rng(self.seed).choice(np.array([-1, 1], np.int8), (Y.shape[1], self.n_bits))
        return self

    def _model(self):
        from sklearn.linear_model import LogisticRegression  # lazily: listing methods stays cheap

        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)

    def predict(self, X) -> np.ndarray:
        """0/1 matrix of the predicted labels."""
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        n_labels = self.codewords_.shape[0]
        if not self.multi_label_:
            model = self.models_[0]
            out = np.zeros((Z.shape[0], n_labels), dtype=np.int8)
            out[np.arange(Z.shape[0]), model.classes_[model.predict_proba(Z).argmax(axis=1)]] = 1
            return out
        prob = np.column_stack([m.predict_proba(Z)[:, 1] if not isinstance(m, bool) else np.full(Z.shape[0], float(m))
                                for m in self.models_])
        out = (prob >= 0.5).astype(np.int8)
        out[np.arange(Z.shape[0]), prob.argmax(axis=1)] = 1
        return out

    def encode(self, X):
        return sign(self.predict(X).astype(np.int64) @ self.codewords_.astype(np.int64))
