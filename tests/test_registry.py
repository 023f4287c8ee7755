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
    registry.methods.cache_clear()
    yield folder
    registry.methods.cache_clear()


def test_builtin_methods_are_found():
    assert {"LSH", "ITQ"} <= set(registry.methods())


def test_entry_point_plugin_is_registered(plugin_on_path):
    cls = registry.get("COORD")
    assert cls.__module__ == "hb_coord_plugin"
    assert "COORD" in registry.methods() and "ITQ" in registry.methods()


def test_plugin_may_not_shadow_a_builtin(plugin_on_path):
    ep = plugin_on_path / "hb_coord_plugin-0.1.dist-info" / "entry_points.txt"
    ep.write_text("[hashbench.methods]\nITQ = hb_coord_plugin:CoordinateHash\n")
    with pytest.raises(HashbenchError, match="entry point 'ITQ = hb_coord_plugin:CoordinateHash'"):
        registry.methods()


def test_listing_methods_does_not_import_torch():
    code = "import sys; from hashbench import registry; registry.methods(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
