"""hashbench: reproducibility benchmark suite for deep learning to hash."""

__version__ = "0.1.0"
__all__ = ["evaluate", "HashbenchError"]

from hashbench.errors import HashbenchError


def __getattr__(name):
    # The metrics kernel pulls in numba; load it on first use so the Snakefile stays light.
    if name == "evaluate":
        from hashbench.metrics import evaluate

        return evaluate
    raise AttributeError(name)
