import subprocess
import sys

import pytest

from fake_plugin import write_plugin
from hashbench import registry
from hashbench.errors import HashbenchError


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    folder = write_plugin(tmp_path / "plugin")
    monkeypatch.syspath_prepend(str(folder))
    registry._scan.cache_clear()
    yield folder
    registry._scan.cache_clear()


def test_builtin_methods_are_found():
    assert {"LSH", "ITQ"} <= set(registry.methods())


def test_entry_point_plugin_is_registered(plugin_on_path):
    cls = registry.get("COORD")
    assert cls.__module__ == "hb_coord_plugin"
    assert "COORD" in registry.methods() and "ITQ" in registry.methods()


def test_a_plugin_named_like_a_builtin_is_reported_naming_both_and_the_others_load(plugin_on_path):
    (plugin_on_path / "hb_clash_plugin.py").write_text(
        "from hb_coord_plugin import CoordinateHash\n\n\nclass FakeITQ(CoordinateHash):\n    name = 'ITQ'\n")
    ep = plugin_on_path / "hb_coord_plugin-0.1.dist-info" / "entry_points.txt"
    ep.write_text("[hashbench.methods]\nITQ = hb_clash_plugin:FakeITQ\nCOORD = hb_coord_plugin:CoordinateHash\n")
    found = registry.methods()
    assert found["ITQ"].__module__ == "hashbench.methods.itq" and "COORD" in found and "LSH" in found
    assert registry.broken() == {"plugin ITQ = hb_clash_plugin:FakeITQ": (
        "the name clashes with the built-in ITQ (hashbench.methods.itq:ITQ); the built-in is used")}


def test_a_plugin_whose_entry_point_name_differs_from_its_class_is_reported_like_an_import_failure(
        plugin_on_path, cli_env):
    ep = plugin_on_path / "hb_coord_plugin-0.1.dist-info" / "entry_points.txt"
    ep.write_text("[hashbench.methods]\nCOORDS = hb_coord_plugin:CoordinateHash\nFLAT = hb_coord_plugin:FlatLoss\n")
    assert "FLAT" in registry.methods() and "ITQ" in registry.methods() and "COORDS" not in registry.methods()
    why = "the entry point's name must be the class's name, which is 'COORD'"
    assert registry.broken() == {"plugin COORDS = hb_coord_plugin:CoordinateHash": why}
    with pytest.raises(HashbenchError, match=r"unknown method 'COORDS'; .*plugin COORDS = "
                                             r"hb_coord_plugin:CoordinateHash not loaded \(the entry point's"):
        registry.get("COORDS")
    env = {**cli_env, "PYTHONPATH": str(plugin_on_path)}
    out = subprocess.run([sys.executable, "-m", "hashbench", "methods"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "FLAT" in out.stdout and "ITQ" in out.stdout
    assert f"not loaded: plugin COORDS = hb_coord_plugin:CoordinateHash: {why}" in out.stderr


def test_listing_methods_does_not_import_torch():
    code = "import sys; from hashbench import registry; registry.methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_plugin_that_fails_to_import_is_named_and_the_others_still_load(plugin_on_path, tmp_path, cli_env):
    (plugin_on_path / "hb_broken_plugin.py").write_text("raise ImportError('no module named faiss')\n")
    ep = plugin_on_path / "hb_coord_plugin-0.1.dist-info" / "entry_points.txt"
    ep.write_text("[hashbench.methods]\nCOORD = hb_broken_plugin:CoordinateHash\n")
    assert "ITQ" in registry.methods() and "COORD" not in registry.methods()
    assert registry.broken() == {"plugin COORD = hb_broken_plugin:CoordinateHash": "ImportError: no module named faiss"}
    with pytest.raises(HashbenchError, match=r"unknown method 'COORD'; available: .*ITQ.*; plugin COORD = "
                                             r"hb_broken_plugin:CoordinateHash not loaded \(ImportError: no "
                                             r"module named faiss\)"):
        registry.get("COORD")
    env = {**cli_env, "PYTHONPATH": str(plugin_on_path)}
    out = subprocess.run([sys.executable, "-m", "hashbench", "methods"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "ITQ" in out.stdout
    assert "not loaded: plugin COORD = hb_broken_plugin:CoordinateHash: ImportError: no module named faiss" in out.stderr


def test_a_builtin_module_that_fails_to_import_is_named(monkeypatch):
    import hashbench.methods as package

    real = registry.importlib.import_module

    def failing(name):
        if name == f"{package.__name__}.lsh":
            raise SyntaxError("invalid syntax (lsh.py, line 3)")
        return real(name)

    registry._scan.cache_clear()
    monkeypatch.setattr(registry.importlib, "import_module", failing)
    try:
        assert "ITQ" in registry.methods() and "LSH" not in registry.methods()
        with pytest.raises(HashbenchError, match=r"unknown method 'LSH'.*methods/lsh.py not loaded "
                                                 r"\(SyntaxError: invalid syntax \(lsh.py, line 3\)\)"):
            registry.get("LSH")
    finally:
        monkeypatch.undo()
        registry._scan.cache_clear()


MINE = '''
import numpy as np

from hashbench.codes import sign
from hashbench.method import HashMethod
from hashbench.params import Real


class Mine(HashMethod):
    """Random projections thresholded at a quantile: a plugin with its own metadata."""

    name = "MINE"
    STYLE = ("#123456", "D")
    TEST_PARAMS = {"quantile": 0.4}
    PARAMS = {"quantile": Real(0, 1, "neither")}

    def __init__(self, n_bits=32, seed=0, quantile=0.5):
        super().__init__(n_bits, seed)
        self.quantile = quantile

    def fit(self, X, Y=None):
        self.validate()
        directions = np.random.default_rng(self.seed).standard_normal((X.shape[1], self.n_bits))
        self.thresholds_ = np.quantile(X @ directions, self.quantile, axis=0)  # 0.5: balanced bits
        self.directions_ = directions
        return self

    def encode(self, X):
        return sign(X @ self.directions_ - self.thresholds_)
'''


def test_a_plugin_defined_here_gets_a_style_a_claims_row_and_the_conformance_check(plugin_on_path, digits_dir):
    """No core file names MINE or COORD: the style, the claim group and the test budget are the classes'."""
    from hashbench.data import splits
    from hashbench.stages import claims, figures
    from hashbench.testing import check_method

    (plugin_on_path / "hb_mine_plugin.py").write_text(MINE)
    ep = plugin_on_path / "hb_coord_plugin-0.1.dist-info" / "entry_points.txt"
    ep.write_text(ep.read_text() + "MINE = hb_mine_plugin:Mine\n")
    mine = registry.get("MINE")
    assert figures.style("MINE") == {"color": "#123456", "marker": "D", "label": "MINE"}
    coord = figures.style("COORD")  # no STYLE: one derived from the name, the same every time
    assert coord == figures.style("COORD") and coord["color"] != figures.style("MINE")["color"]
    found = claims.comparisons(["HashNet", "DHN", "ITQ", "MINE", "COORD", "DCH", "HashNet-W"])
    assert ("MINE", "HashNet") in found and ("COORD", "HashNet") in found and ("DCH", "HashNet") in found
    assert ("ITQ", "HashNet") not in found and ("HashNet-W", "HashNet") not in found and ("DHN", claims.BEST_SHALLOW) in found
    data = splits.load(digits_dir)
    x, y = data.features("pixels"), data.labels
    check_method(mine, x[data.split["train"]], y[data.split["train"]])  # at its TEST_PARAMS
    with pytest.raises(HashbenchError, match=r"quantile: expected a number in \(0, 1\), got 1"):
        mine.check_params({"quantile": 1})
