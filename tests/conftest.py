import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # reference_metrics


@pytest.fixture(scope="session")
def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory, default_config):
    """The digits protocol, prepared once for the session, with pixel features."""
    from hashbench import layout
    from hashbench.data import splits
    from hashbench.stages.features import write_features

    out = tmp_path_factory.mktemp("data") / "digits"
    splits.prepare("digits", default_config["protocol_defs"]["digits"], out)
    spec = default_config["protocol_defs"]["digits"]
    write_features(out, spec, out / layout.features_file(spec["features"]))
    return out


@pytest.fixture
def cli_env():
    """Environment for subprocesses: this interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def fake_nvidia_smi(directory: Path, output: str, code: int = 0) -> Path:
    """A stand-in ``nvidia-smi`` in ``directory`` that prints ``output`` (printf escapes) for ``-L``
    and exits with ``code``; put ``directory`` first on PATH."""
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] || exit 9\nprintf '{output}'\nexit {code}\n")
    path.chmod(0o755)
    return path
