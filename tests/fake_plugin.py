"""Writes a third-party hashing-method package (module + dist-info entry point) into a folder."""

from pathlib import Path

MODULE = '''
import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.deep.method import DeepHashMethod


class CoordinateHash(HashMethod):
    """Thresholds the first n_bits centred feature coordinates."""

    name = "COORD"

    def fit(self, X, Y=None):
        self.mean_ = X[:, : self.n_bits].mean(axis=0)
        return self

    def encode(self, X):
        return sign(X[:, : self.n_bits] - self.mean_)


class FlatLoss(DeepHashMethod):
    """A deep method that never learns: its loss passes no gradient to the network (a collapse the
    health check must flag)."""

    name = "FLAT"

    def loss(self, codes, labels, index):
        return (codes * 0).sum() + 0.6931
'''


def write_plugin(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hb_coord_plugin.py").write_text(MODULE)
    info = folder / "hb_coord_plugin-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hb-coord-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hashbench.methods]\nCOORD = hb_coord_plugin:CoordinateHash\nFLAT = hb_coord_plugin:FlatLoss\n")
    return folder
