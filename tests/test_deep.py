"""HashNet's loss and continuation, the shared training loop (resume, determinism), backbones."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from hashbench import registry, splits
from hashbench.deep import backbones
from hashbench.deep.losses import log_cosh, pairwise_likelihood, triplet_ranking
from hashbench.errors import HashbenchError
from hashbench.methods.cnnh import coordinate_descent

DEEP = sorted(name for name, cls in registry.methods().items() if cls.input == "images")


def eq4_reference(h, labels, alpha, weighting, similar_weight=1.0):
    """Eq. (4) with Eq. (2) weights, pair by pair, in NumPy (averaged over the |S| pairs)."""
    n = len(h)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    s = np.array([float(labels[i] @ labels[j] > 0) for i, j in pairs])
    ip = np.array([alpha * h[i] @ h[j] for i, j in pairs])
    if weighting == "paper":
        c = np.where(s > 0, len(s) / max(s.sum(), 1), len(s) / max((1 - s).sum(), 1))
    elif weighting == "released":
        c = np.where(s > 0, similar_weight, 1.0)
    else:
        c = np.ones_like(s)
    return np.sum(c * (np.logaddexp(0, ip) - s * ip)) / len(s)


@pytest.mark.parametrize("weighting", ["paper", "released", "none"])
@pytest.mark.parametrize("scale", [1.0, 40.0])  # 40: alpha <h_i, h_j> far past the overflow guard of 15
def test_hashnet_loss_equals_eq4(weighting, scale):
    rng = np.random.default_rng(0)
    h = rng.uniform(-1, 1, (12, 16)) * scale
    labels = (rng.random((12, 3)) < 0.4).astype(float)
    got = pairwise_likelihood(torch.tensor(h), torch.tensor(labels), 10 / 16, weighting, similar_weight=3.0)
    assert torch.isfinite(got)
    assert float(got) == pytest.approx(eq4_reference(h, labels, 10 / 16, weighting, 3.0), rel=1e-12)


def test_log_cosh_and_triplet_loss():
    x = torch.tensor([-1000.0, -1.0, 0.0, 0.5, 800.0], dtype=torch.float64)
    np.testing.assert_allclose(log_cosh(x)[1:4], np.log(np.cosh(x[1:4].numpy())))
    assert torch.isfinite(log_cosh(x)).all()
    b = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # triplets (anchor, positive, negative): (0,1,2) and (1,0,2); ||.||^2 differences 2-1 and 1-1
    assert float(triplet_ranking(b, labels, 1.0)) == pytest.approx((max(0, 1 - (2 - 1)) + max(0, 1 - (1 - 1))) / 2)


def test_beta_schedules():
    released = registry.create("HashNet", 16, 0, {})
    assert [released.beta(t) for t in (0, 199, 200, 1000)] == pytest.approx([1, 1, 2**0.5, 6**0.5])
    stages = registry.create("HashNet", 16, 0, {"schedule": "stages", "stages": [1, 4, 16], "iterations": 300})
    assert [stages.beta(t) for t in (0, 99, 100, 250, 299)] == [1, 1, 4, 16, 16]
    assert registry.create("HashNet-C", 16, 0, {}).beta(5000) == 1.0
    assert registry.create("HashNet-W", 16, 0, {}).weighting == "none"


@pytest.fixture(scope="module")
def digits(digits_dir):
    data = splits.load(digits_dir)
    train = data.split["train"]
    return data.images()[train], data.labels[train]


def test_continuation_saturates_the_codes(digits):
    x, y = digits

    def saturated(iterations, **schedule):
        params = {"iterations": iterations, "batch_size": 32, "beta_step": 20, **schedule}
        model = registry.create("HashNet", 16, 0, params).fit(x, y)
        return (np.abs(model.encode_with_continuous(x)[1]) > 0.99).mean()

    assert saturated(300, beta_gamma=2.0) > saturated(20, beta_gamma=2.0) + 0.5
    assert saturated(300, beta_gamma=2.0) > saturated(300, schedule="none") + 0.5


@pytest.mark.parametrize("name", DEEP)
def test_every_deep_method_lowers_its_loss(name, digits):
    x, y = digits
    model = registry.create(name, 16, 0, {"iterations": 150, "batch_size": 32}).fit(x, y)
    loss = np.array(model.loss_history_)
    assert loss.shape == (150, 3) and (loss[:, 0] == np.arange(1, 151)).all()
    assert loss[-30:, 1].mean() < loss[:30, 1].mean()
    assert len(np.unique(model.encode(x), axis=0)) >= 10  # the codes did not collapse


def test_cnnh_stage1_objective_never_increases():
    rng = np.random.default_rng(0)
    y = np.eye(3)[rng.integers(0, 3, 60)]
    s = np.where(y @ y.T > 0, 1.0, -1.0)
    h = rng.uniform(-1, 1, (60, 8))
    start = np.sum((s - h @ h.T / 8) ** 2)
    history = coordinate_descent(s, h, np.stack([rng.permutation(h.size) for _ in range(4)]), 4)
    assert history[0] < start and (np.diff(history) <= 1e-9).all()
    assert np.abs(h).max() <= 1
    assert history[-1] == pytest.approx(np.sum((s - h @ h.T / 8) ** 2))


def run_train(spec, data_dir, out_dir, env):
    return subprocess.Popen([sys.executable, "-m", "hashbench", "train", "--spec", json.dumps(spec), "--data",
                             str(data_dir), "--out", str(out_dir), "--threads", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_run_resumes_to_identical_weights(digits_dir, tmp_path, cli_env, default_config):
    from hashbench import config

    cfg = config.validate({**default_config, "method_params": {"HashNet": {
        "iterations": 400, "batch_size": 32, "checkpoint_every": 10, "device": "cpu"}}})
    spec = config.run_spec(cfg, "digits", "HashNet", 16, 0)
    assert run_train(spec, digits_dir, tmp_path / "whole", cli_env).wait() == 0
    killed = run_train(spec, digits_dir, tmp_path / "resumed", cli_env)
    checkpoint = tmp_path / "resumed" / "checkpoint.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert checkpoint.exists() and not (tmp_path / "resumed" / "codes.npz").exists()
    assert run_train(spec, digits_dir, tmp_path / "resumed", cli_env).wait() == 0
    log = (tmp_path / "resumed" / "run.json").read_text()
    for name in ("codes.npz", "continuous.npz"):
        whole, resumed = (np.load(tmp_path / d / name) for d in ("whole", "resumed"))
        for key in whole.files:
            np.testing.assert_array_equal(whole[key], resumed[key])
    assert json.loads(log)["loss_history"] == json.loads((tmp_path / "whole" / "run.json").read_text())["loss_history"]
    assert not checkpoint.exists()


def test_pretrained_weights_from_a_local_file(tmp_path):
    with pytest.raises(HashbenchError, match="weights: pretrained weights file not found: .*missing.pt"):
        backbones.create("resnet18", True, tmp_path / "missing.pt", 3, (32, 32))
    torch.manual_seed(1)
    source, _ = backbones.create("resnet18", False, None, 3, (32, 32))
    import torchvision

    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "resnet18.pt")
    loaded, dim = backbones.create("resnet18", True, tmp_path / "resnet18.pt", 3, (32, 32))
    assert dim == 512
    torch.testing.assert_close(loaded.conv1.weight, reference.conv1.weight)
    (tmp_path / "bad.pt").write_bytes(b"not a state dict")
    with pytest.raises(HashbenchError, match="weights: .*bad.pt is not a resnet18 state_dict"):
        backbones.create("resnet18", True, tmp_path / "bad.pt", 3, (32, 32))
    with pytest.raises(HashbenchError, match="pretrained: the smallcnn backbone has no pretrained weights"):
        backbones.create("smallcnn", True, None, 1, (8, 8))
    with pytest.raises(HashbenchError, match="backbone: unknown backbone 'vgg'"):
        backbones.create("vgg", False, None, 3, (32, 32))


def test_hash_layer_learns_ten_times_faster_only_on_a_pretrained_backbone():
    scratch = registry.create("HashNet", 16, 0, {"lr": 0.01})
    assert scratch.head_lr() == pytest.approx(0.01)
    assert registry.create("HashNet", 16, 0, {"lr": 0.001, "pretrained": True}).head_lr() == pytest.approx(0.01)
    assert registry.create("HashNet", 16, 0, {"lr": 0.01, "head_lr_mult": 3}).head_lr() == pytest.approx(0.03)
    with pytest.raises(HashbenchError, match="head_lr_mult: expected a positive number"):
        registry.create("HashNet", 16, 0, {"head_lr_mult": 0, "batch_size": 2}).fit(np.zeros((4, 1, 8, 8)),
                                                                                 np.eye(2)[[0, 1, 0, 1]])

