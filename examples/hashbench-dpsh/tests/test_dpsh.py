"""The DPSH plugin: the public conformance check, its loss, and its bank across steps and a resume."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from hashbench import registry
from hashbench.testing import check_method
from hashbench_dpsh import DPSH

SMALL = {"iterations": 20, "batch_size": 16}


@pytest.fixture(scope="module")
def digits():
    """300 of scikit-learn's 8x8 digits as (n, 1, 8, 8) images in [0, 1] and one-hot labels."""
    data = load_digits()
    images = (data.images[:300, None] / 16.0).astype(np.float32)
    return images, np.eye(10, dtype=np.float32)[data.target[:300]]


def test_the_entry_point_registers_dpsh():
    assert registry.get("DPSH") is DPSH
    assert "DPSH" not in registry.broken()


def test_conformance(digits):
    check_method(DPSH, *digits)  # at DPSH.TEST_PARAMS: a budget at which it learns (the check requires it)


def test_loss_is_the_released_likelihood_against_the_bank():
    rng = np.random.default_rng(0)
    method = DPSH(8, eta=10.0)
    labels = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 12)]
    method.prepare(labels, rng)
    method.bank_[:] = torch.from_numpy(rng.normal(size=(12, 8)).astype(np.float32))
    index = torch.tensor([1, 4, 7])
    u = torch.from_numpy(rng.normal(size=(3, 8)).astype(np.float32))
    method.observe(u, index)
    torch.testing.assert_close(method.bank_[index], u)
    # jiangqy/DPSH-pytorch DPSH_CIFAR_10.py, written out in numpy
    bank, un = method.bank_.numpy().astype(np.float64), u.numpy().astype(np.float64)
    theta = un @ bank.T / 2
    s = (labels[[1, 4, 7]] @ labels.T > 0).astype(np.float64)
    log_trick = np.log(1 + np.exp(-np.abs(theta))) + np.maximum(theta, 0)
    expected = -(s * theta - log_trick).sum() / (12 * 3) + 10.0 * ((np.sign(un) - un) ** 2).sum() / (12 * 3)
    assert method.loss(u, torch.from_numpy(labels[[1, 4, 7]]), index).item() == pytest.approx(expected, rel=1e-5)


def _method():
    return DPSH(16, 0, **SMALL)


def _trainer(checkpoint=None):
    from hashbench.deep.trainer import Trainer

    return Trainer({"checkpoint_every": 10, "device": "cpu"}, checkpoint)


def test_the_bank_survives_a_resume(digits, tmp_path, monkeypatch):
    """A run killed after its checkpoint at iteration 10 resumes with the bank as it was then (not
    zeros, not prepared again) and ends where an uninterrupted run does."""
    images, labels = digits
    whole = _method().fit(images, labels, trainer=_trainer())
    assert whole.bank_.abs().sum(1).gt(0).float().mean() > 0.5  # 20 batches of 16 saw most of the 300

    killed, checkpoint = _method(), tmp_path / "checkpoint.pt"
    calls = []
    original = DPSH.loss

    def dies_at_iteration_15(self, codes, labels, index):
        calls.append(torch.is_grad_enabled())
        if sum(calls) > 15:
            raise KeyboardInterrupt
        return original(self, codes, labels, index)

    monkeypatch.setattr(DPSH, "loss", dies_at_iteration_15)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(images, labels, trainer=_trainer(checkpoint))
    monkeypatch.setattr(DPSH, "loss", original)
    state = torch.load(checkpoint, weights_only=False)
    assert state["iteration"] == 10 and state["prepared"]["bank_"].abs().sum() > 0

    resumed = _method()
    monkeypatch.setattr(resumed, "prepare", lambda *args: pytest.fail("the bank was prepared again"))
    resumed.fit(images, labels, trainer=_trainer(checkpoint))
    torch.testing.assert_close(resumed.bank_, whole.bank_, rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.encode(images), whole.encode(images))
