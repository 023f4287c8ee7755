"""HashNet's loss and continuation, the shared training loop (resume, determinism), backbones."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import ROOT
from hashbench import config, registry
from hashbench.data import splits
from hashbench.deep import backbones
from hashbench.deep.losses import log_cosh, pairwise_likelihood, triplet_ranking
from hashbench.errors import HashbenchError
from hashbench.methods._cnnh_targets import coordinate_descent

# the built-in deep methods, trained as the benchmark trains them (an installed plugin has no tuned rate)
BUILT_IN_DEEP = sorted(name for name, cls in registry.methods().items()
                       if cls.is_deep and cls.__module__.startswith("hashbench.methods."))


def eq4_reference(h, labels, alpha, weighting, similar_weight=1.0, normalise="weights"):
    """Eq. (4) with Eq. (2) weights, pair by pair, in NumPy, over the sum of weights or the |S| pairs."""
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
    return np.sum(c * (np.logaddexp(0, ip) - s * ip)) / (c.sum() if normalise == "weights" else len(s))


def released_pairwise_loss(h, labels, alpha, class_num, threshold=15.0):
    """thuml/HashNet's PyTorch ``loss.pairwise_loss`` (and the Caffe layer's forward), transcribed:
    past the threshold log(1 + e^x) is replaced by x; similar pairs weigh class_num; the sum is divided
    by n_similar * class_num + n_dissimilar. Here over the pairs i < j of one batch."""
    upper = np.triu_indices(len(h), 1)
    similarity = ((labels @ labels.T) > 0).astype(float)[upper]
    dot = alpha * (h @ h.T)[upper]
    exp_loss = np.log(1 + np.exp(np.minimum(dot, threshold))) - similarity * dot
    loss = np.where(dot > threshold, dot * (1 - similarity), exp_loss)
    weighted = np.where(similarity > 0, loss * class_num, loss)
    return weighted.sum() / (similarity.sum() * class_num + (1 - similarity).sum())


@pytest.mark.parametrize("weighting", ["paper", "released", "none"])
@pytest.mark.parametrize("normalise", ["weights", "pairs"])
@pytest.mark.parametrize("scale", [1.0, 40.0])  # 40: alpha <h_i, h_j> far past the overflow guard of 15
def test_hashnet_loss_equals_eq4(weighting, normalise, scale):
    rng = np.random.default_rng(0)
    h = rng.uniform(-1, 1, (12, 16)) * scale
    labels = (rng.random((12, 3)) < 0.4).astype(float)
    got = pairwise_likelihood(torch.tensor(h), torch.tensor(labels), 10 / 16, weighting, 3.0, normalise)
    assert torch.isfinite(got)
    assert float(got) == pytest.approx(eq4_reference(h, labels, 10 / 16, weighting, 3.0, normalise), rel=1e-12)


@pytest.mark.parametrize("class_num", [1.0, 5.0, 100.0])
def test_hashnet_loss_scale_is_the_released_one(class_num):
    """The default normalisation equals the released formula; Eq. (2)'s weights then halve the
    per-pair average ("pairs"), since they always average 2."""
    rng = np.random.default_rng(1)
    h = np.tanh(rng.normal(0, 2, (16, 32)))
    labels = np.eye(4)[rng.integers(0, 4, 16)]
    alpha = 10 / 32
    got = pairwise_likelihood(torch.tensor(h), torch.tensor(labels), alpha, "released", class_num)
    assert float(got) == pytest.approx(released_pairwise_loss(h, labels, alpha, class_num), rel=1e-6)
    paper = [float(pairwise_likelihood(torch.tensor(h), torch.tensor(labels), alpha, "paper", normalise=n))
             for n in ("weights", "pairs")]
    assert paper[1] == pytest.approx(2 * paper[0], rel=1e-12)
    assert registry.create("HashNet", 16, 0, {}).normalise == "weights"


def test_log_cosh_and_triplet_loss():
    x = torch.tensor([-1000.0, -1.0, 0.0, 0.5, 800.0], dtype=torch.float64)
    np.testing.assert_allclose(log_cosh(x)[1:4], np.log(np.cosh(x[1:4].numpy())))
    assert torch.isfinite(log_cosh(x)).all()
    b = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # triplets (anchor, positive, negative): (0,1,2) and (1,0,2); ||.||^2 differences 2-1 and 1-1
    assert float(triplet_ranking(b, labels, 1.0)) == pytest.approx((max(0, 1 - (2 - 1)) + max(0, 1 - (1 - 1))) / 2)


@pytest.mark.parametrize("path", ["config/config.yaml", "config/paper.yaml"])
def test_every_protocol_names_hashnets_pair_weighting(path):
    """similar_weight only counts with weighting: released; each shipped protocol says which it uses."""
    from hashbench import config

    cfg = config.load(ROOT / path)
    for protocol in cfg["protocols"]:
        for name in ("HashNet", "HashNet-C", "HashNet-W"):
            params = config.method_params(cfg, protocol, name)
            assert "weighting" in params, (protocol, name)
            registry.create(name, 16, 0, params).validate()
        assert config.method_params(cfg, protocol, "HashNet-W")["weighting"] == "none"
        if path.endswith("paper.yaml"):
            assert config.method_params(cfg, protocol, "HashNet")["weighting"] == "released"
    with pytest.raises(HashbenchError, match="similar_weight: 100 has no effect with weighting 'paper'"):
        registry.create("HashNet", 16, 0, {"similar_weight": 100})


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
    return data.array_images()[train], data.labels[train]


@pytest.fixture(scope="module")
def digits_search(digits_dir):
    """Query and database images and labels of the digits protocol, and the MAP@R of a ranking that
    knows nothing (the mean share of relevant items in the database: chance)."""
    data = splits.load(digits_dir)
    q, db = data.split["query"], data.split["database"]
    images, labels = data.array_images(), data.labels
    chance = float(((labels[q] @ labels[db].T) > 0).mean())
    return images[q], labels[q], images[db], labels[db], chance


def learned_map(model, digits_search) -> float:
    """MAP@500 of a trained model's codes on the digits protocol's queries and database."""
    from hashbench.metrics import evaluate

    xq, yq, xdb, ydb, _ = digits_search
    return evaluate(model.encode(xq), model.encode(xdb), yq, ydb, 500, precision_at=())["map"]


# Tests of training assert what holds whatever kernels torch and oneDNN pick (AVX2, AVX-512, ARM:
# results differ in the last bits, and training amplifies it), never a trajectory: the loss fell by a
# stated margin, MAP is well above chance, the codes did not collapse. `make test-isa` runs them under
# DNNL_MAX_CPU_ISA=SSE41 and AVX2 too. Margins measured on the digits protocol (docs/metrics.md: Reproducibility).

@pytest.mark.slow
def test_continuation_saturates_the_codes(digits, digits_search):
    """The embedded protocols' compressed released schedule (beta from 1 to ~7 in 300 iterations)
    saturates the outputs; plain tanh does not, nor do 20 iterations. The activation is under test,
    not the optimiser: one recipe for all three fits, the shared one (lr 0.01), decayed once, at
    iteration 200, so that the weights keep growing to the end. Measured on native AVX-512,
    AVX2 and SSE4.1 kernels: saturated 0.40-0.46 with continuation, 0.000 without; loss 0.69 -> 0.18;
    MAP 0.98 (chance 0.10)."""
    x, y = digits

    def fit(iterations, **schedule):
        params = {"iterations": iterations, "batch_size": 32, "beta_step": 12, "beta_gamma": 0.1667,
                  "recipe": "shared", "lr_step": 200, **schedule}
        return registry.create("HashNet", 16, 0, params).fit(x, y)

    def saturated(model):
        return (np.abs(model.encode_with_continuous(x)[1]) > 0.99).mean()

    continued, plain = fit(300), fit(300, schedule="none")
    loss = np.array(continued.loss_history_)[:, 1]
    assert loss[-30:].mean() < 0.5 * loss[:30].mean()  # it learned (a collapse stays at log 2 = 0.69)
    assert learned_map(continued, digits_search) > 0.8
    assert learned_map(plain, digits_search) > 0.5
    assert saturated(continued) > 0.25
    assert saturated(continued) > saturated(plain) + 0.25
    assert saturated(continued) > saturated(fit(20)) + 0.25


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILT_IN_DEEP)
def test_every_deep_method_learns(name, digits, digits_search):
    """300 iterations under the method's own recipe, at the learning rate the shipped tuning record
    chose for mnist5k: the loss over the last 30 is at least 5% below the first 30, MAP@500 at least
    3x chance (0.10), and the codes did not collapse."""
    x, y = digits
    tuned = config.tuned_params("shipped", "mnist5k", registry.get(name), {})  # as the benchmark trains it
    model = registry.create(name, 16, 0, {"iterations": 300, "batch_size": 32, **tuned}).fit(x, y)
    loss = np.array(model.loss_history_)
    assert loss.shape == (300, 3) and (loss[:, 0] == np.arange(1, 301)).all()
    assert loss[-30:, 1].mean() < 0.95 * loss[:30, 1].mean()
    chance = digits_search[-1]
    assert learned_map(model, digits_search) > max(0.3, 3 * chance)
    assert len(np.unique(model.encode(x), axis=0)) >= 10  # the codes did not collapse


def test_cnnh_stage1_objective_never_increases():
    rng = np.random.default_rng(0)
    y = np.eye(3)[rng.integers(0, 3, 60)]
    s = np.where(y @ y.T > 0, 1.0, -1.0)
    h = rng.uniform(-1, 1, (60, 8))
    start = np.sum((s - h @ h.T / 8) ** 2)
    history = coordinate_descent(y, h, np.stack([rng.permutation(h.size) for _ in range(4)]), 4)
    assert history[0] < start and (np.diff(history) <= 1e-6 * history[0]).all()
    assert np.abs(h).max() <= 1
    assert history[-1] == pytest.approx(np.sum((s - h @ h.T / 8) ** 2), rel=1e-5)


def test_cnnh_stage1_sets_each_entry_to_its_exact_minimiser():
    """Against a dense reference: each entry in turn moves to the minimiser on [-1, 1] of the full
    objective ||S - H H^T / K||^2, a quartic in that entry fitted through five evaluations."""
    rng = np.random.default_rng(1)
    y = (rng.random((40, 5)) < 0.3).astype(float)  # multi-label, some rows without a label
    s = np.where(y @ y.T > 0, 1.0, -1.0)
    start = rng.uniform(-1, 1, (40, 4))
    order = rng.permutation(start.size)[None]

    def objective(h):
        return np.sum((s - h @ h.T / 4) ** 2)

    expected = start.copy()
    for flat in order[0]:
        i, b = divmod(flat, 4)
        points = np.linspace(-1, 1, 5)
        values = []
        for x in points:
            expected[i, b] = x
            values.append(objective(expected))
        quartic = np.polynomial.Polynomial.fit(points, values, 4).convert()
        candidates = [r.real for r in quartic.deriv().roots() if abs(r.imag) < 1e-9 and -1 <= r.real <= 1]
        expected[i, b] = min([-1.0, 1.0, *candidates], key=quartic)
    h = start.copy()
    history = coordinate_descent(y, h, order, 1)
    np.testing.assert_allclose(h, expected, atol=1e-7)
    assert history[0] == pytest.approx(objective(expected))


@pytest.mark.slow
def test_cnnh_resume_keeps_stage1(digits, tmp_path, monkeypatch):
    """A run killed after stage 1 resumes with its targets from the checkpoint, without redoing stage 1,
    and ends where an uninterrupted run does."""
    from hashbench.deep.trainer import Trainer
    from hashbench.methods.cnnh import CNNH

    x, y = digits
    params, execution = dict(iterations=20, batch_size=16), dict(checkpoint_every=10, device="cpu")

    def cnnh():
        return CNNH(16, 0, **params)

    whole = cnnh().fit(x, y, trainer=Trainer(execution))
    checkpoint = tmp_path / "checkpoint.pt"

    killed = cnnh()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(killed, "loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(x, y, trainer=Trainer(execution, checkpoint))
    assert torch.load(checkpoint, weights_only=False)["iteration"] == 0

    resumed = cnnh()
    monkeypatch.setattr(resumed, "prepare", lambda *args: pytest.fail("stage 1 ran again"))
    resumed.fit(x, y, trainer=Trainer(execution, checkpoint))
    torch.testing.assert_close(resumed.targets_, whole.targets_)
    assert resumed.stage1_objective_ == whole.stage1_objective_
    np.testing.assert_array_equal(resumed.encode(x), whole.encode(x))


def run_train(spec, data_dir, out_dir, env):
    return subprocess.Popen([sys.executable, "-m", "hashbench", "train", "--spec", json.dumps(spec), "--data",
                             str(data_dir), "--out", str(out_dir), "--threads", "1", "--checkpoint-every", "10",
                             "--device", "cpu"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_killed_run_resumes_to_identical_weights(optimizer, digits_dir, tmp_path, cli_env, default_config):
    """For every optimiser kind: its state (momentum buffers, Adam's moments and step counts,
    RMSprop's averages) and the schedule's survive a kill, and the codes equal the uninterrupted run's."""
    from hashbench import config

    lr = {"sgd": 0.01, "adam": 1e-3, "rmsprop": 1e-3}[optimizer]
    cfg = config.validate({**default_config, "method_params": {"HashNet": {
        "iterations": 400, "batch_size": 32, "optimizer": optimizer, "lr": lr, "lr_step": 150}}})
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
    record = json.loads(log)  # the killed part's training time (up to its checkpoint) counts too
    assert len(record["fit_parts"]) == 2 and all(part > 0 for part in record["fit_parts"])
    assert record["fit_seconds"] == pytest.approx(sum(record["fit_parts"]))
    assert len(json.loads((tmp_path / "whole" / "run.json").read_text())["fit_parts"]) == 1


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


def test_hash_layer_learns_at_the_recipes_multiple_only_on_a_pretrained_backbone():
    scratch = registry.create("HashNet", 16, 0, {"lr": 0.01})
    assert scratch.head_lr() == pytest.approx(0.01)
    assert registry.create("HashNet", 16, 0, {"lr": 0.001, "pretrained": True}).head_lr() == pytest.approx(0.01)
    assert registry.create("CSQ", 16, 0, {"pretrained": True}).head_lr() == pytest.approx(1e-3)  # released 1e-3 / x0.01
    assert registry.create("GreedyHash", 16, 0, {"pretrained": True}).head_lr() == pytest.approx(1e-3)
    assert registry.create("HashNet", 16, 0, {"lr": 0.01, "head_lr_mult": 3}).head_lr() == pytest.approx(0.03)
    with pytest.raises(HashbenchError, match="head_lr_mult: expected a positive number"):
        registry.create("HashNet", 16, 0, {"head_lr_mult": 0, "batch_size": 2}).fit(np.zeros((4, 1, 8, 8)),
                                                                                 np.eye(2)[[0, 1, 0, 1]])


DEVICES = ["cpu", "meta"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter")
def test_checkpoint_restores_every_rng_on_any_device(device, tmp_path):
    """The checkpoint is read to the CPU whatever the training device (the RNG state must stay a CPU
    byte tensor; loading it onto a CUDA or meta device broke every resume), then the weights and the
    optimiser state go to the parameters' device. 'meta' stands in for a GPU on a CPU-only machine."""
    from hashbench.deep.trainer import checkpoint_state, restore

    def parts(on):
        net = torch.nn.Linear(3, 2, device=on)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, foreach=True)
        return net, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    net, opt, sched = parts("cpu" if device == "meta" else device)
    net(torch.randn(4, 3, device=net.weight.device)).sum().backward()
    opt.step()
    sched.step()
    torch.manual_seed(7)
    state = checkpoint_state(net, opt, sched, torch.device(device), {"numpy": 1}, [[1, 0.5, 0.6]], 1)
    assert ("cuda_rng" in state) == (device == "cuda")
    torch.save(state, tmp_path / "checkpoint.pt")
    expected = torch.rand(3)
    torch.manual_seed(123)
    net2, opt2, sched2 = parts(device)
    loaded = restore(tmp_path / "checkpoint.pt", net2, opt2, sched2, torch.device(device))
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())  # the CPU generator is restored
    assert loaded["iteration"] == 1 and loaded["numpy_rng"] == {"numpy": 1}
    assert sched2.last_epoch == 1 and opt2.param_groups[0]["lr"] == pytest.approx(0.05)  # the decayed rate
    assert all(s["momentum_buffer"].device.type == device for s in opt2.state.values())
    if device != "meta":
        torch.testing.assert_close(net2.weight, net.weight)


def test_a_checkpoint_without_schedule_state_is_refused_in_one_line(tmp_path):
    """A checkpoint of the hand-written SGD that trained before recipes holds no schedule state."""
    from hashbench.deep.trainer import restore

    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    torch.save({"network": net.state_dict(), "optimizer": {"lrs": [0.1], "steps": 3, "buffers": [[None, None]]}},
               tmp_path / "old.pt")
    with pytest.raises(HashbenchError, match="old.pt: a checkpoint written before training recipes"):
        restore(tmp_path / "old.pt", net, opt, torch.optim.lr_scheduler.StepLR(opt, 5), torch.device("cpu"))


@pytest.mark.parametrize("name", ["HashNet", "DHN", "DNNH", "CNNH", "DCH", "GreedyHash", "CSQ", "OrthoHash"])
def test_each_method_trains_with_its_recipes_optimiser(name):
    """The optimiser the loop builds is the recipe's kind with its settings, the head at the resolved rate,
    and the schedule at the recipe's fraction of the iterations."""
    from hashbench.deep import optim

    method = registry.create(name, 16, 0, {"iterations": 600})
    method.validate()
    recipe = type(method).recipe_of()
    net = torch.nn.Linear(3, 2)
    optimizer, scheduler = optim.build(method, [net.weight], [net.bias])
    kind = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}[recipe["optimizer"]]
    assert type(optimizer) is kind
    backbone, head = optimizer.param_groups
    assert backbone["lr"] == optim.USUAL_LR[recipe["optimizer"]] and head["lr"] == backbone["lr"]  # from scratch
    assert backbone["weight_decay"] == recipe["weight_decay"]
    if kind is torch.optim.SGD:
        assert (backbone["momentum"], backbone["nesterov"]) == (recipe["momentum"], recipe["nesterov"])
    if kind is torch.optim.Adam:
        assert backbone["betas"] == tuple(recipe["betas"])
    assert scheduler.step_size == max(1, round(recipe["lr_step_fraction"] * 600)) and scheduler.gamma == recipe["lr_gamma"]
    shared = registry.create(name, 16, 0, {"recipe": "shared"})
    assert shared.resolved() == {"optimizer": "sgd", "lr": 0.01, "head_lr": 0.01, "lr_step": 200, "lr_gamma": 0.5,
                                 "weight_decay": 5e-4, "momentum": 0.9, "nesterov": True}


def test_bad_optimiser_settings_are_refused_naming_the_setting():
    for params, message in [({"optimizer": "lbfgs"}, "optimizer: expected one of sgd, adam, rmsprop"),
                            ({"recipe": "mine"}, "recipe: expected one of released, shared"),
                            ({"betas": [0.9]}, "betas: expected two numbers in"),
                            ({"eps": 0}, "eps: expected a positive number"),
                            ({"nesterov": "yes"}, "nesterov: expected true or false"),
                            ({"lr": -1}, "lr: expected a positive number or null, got -1")]:
        with pytest.raises(HashbenchError, match=message):
            registry.get("CSQ").check_params(params)


def test_a_job_killed_while_encoding_does_not_train_again(digits_dir, tmp_path, default_config, monkeypatch, caplog):
    """The final checkpoint stays until the codes are written; the re-run resumes at the last iteration."""
    from hashbench import config
    from hashbench.stages import train as train_stage
    from hashbench.deep.method import DeepHashMethod

    cfg = config.validate({**default_config, "method_params": {"HashNet": {"iterations": 30, "batch_size": 16}},
                           "execution": {"checkpoint_every": 10, "device": "cpu"}})
    spec = config.run_spec(cfg, "digits", "HashNet", 8, 0)

    def killed(self, X):
        raise KeyboardInterrupt("killed while encoding")

    with monkeypatch.context() as patch:
        patch.setattr(DeepHashMethod, "encode_with_continuous", killed)
        with pytest.raises(KeyboardInterrupt):
            train_stage.train(spec, digits_dir, tmp_path / "run", execution=cfg["execution"])
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    assert torch.load(checkpoint, weights_only=False)["iteration"] == 30
    with caplog.at_level("INFO", logger="hashbench"):
        record = train_stage.train(spec, digits_dir, tmp_path / "run", execution=cfg["execution"])
    assert record["execution"] == cfg["execution"]
    assert "at iteration 30" in caplog.text and len(record["loss_history"]) == 30
    assert (tmp_path / "run" / "codes.npz").exists() and not checkpoint.exists()
    whole = train_stage.train(spec, digits_dir, tmp_path / "whole")
    assert whole["loss_history"] == record["loss_history"]
    for name in ("codes.npz", "continuous.npz"):
        a, b = np.load(tmp_path / "run" / name), np.load(tmp_path / "whole" / name)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_dnnh_reports_its_dead_outputs(digits):
    """The piecewise threshold has no gradient outside [0.5 - eps, 0.5 + eps]; the fraction of the
    outputs there is reported (and stored in run.json by the runner)."""
    x, y = digits
    model = registry.create("DNNH", 16, 0, {"iterations": 40, "batch_size": 32}).fit(x, y)
    _, g = model.encode_with_continuous(x)
    dead = np.mean((g == 0) | (g == 1))
    assert model.diagnostics_["dead_fraction"] == pytest.approx(dead, abs=1e-3)
    assert 0 < dead < 1
    assert registry.create("HashNet", 8, 0, {}).diagnostics(np.zeros((2, 8))) == {}


@pytest.mark.slow
def test_the_gpu_check_resumes_a_killed_alexnet_run_to_the_same_codes_on_a_cpu():
    """bench/gpu_check.py's smoke form: AlexNet from a weights file, the cache through the device path,
    SIGKILLed after its first checkpoint and resumed; without a GPU the full form says so."""
    out = subprocess.run([sys.executable, "bench/gpu_check.py", "--device", "cpu", "--images", "32", "--iterations",
                          "4", "--batch", "8", "--kill-at", "2", "--resize", "72", "--crop", "64"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resumed codes equal the uninterrupted run's: yes (0 of 2048 bits differ)" in out.stdout
    assert "killed at the iteration-2 checkpoint and resumed: 2 more iterations" in out.stdout
    if not torch.cuda.is_available():
        gpu = subprocess.run([sys.executable, "bench/gpu_check.py"], capture_output=True, text=True, cwd=ROOT)
        assert gpu.returncode == 2 and gpu.stdout.startswith("no GPU available")


def test_the_encoding_batch_does_not_change_the_codes():
    """The CPU encodes in smaller batches than an accelerator (hashbench.deep.trainer.encode_batch_size):
    each image's outputs do not depend on the batch it is in."""
    from hashbench.deep.images import ArrayImages
    from hashbench.deep.trainer import encode_batch_size, outputs

    assert encode_batch_size(torch.device("cpu")) == 64 and encode_batch_size(torch.device("cuda")) == 256
    torch.manual_seed(0)
    network = torch.nn.Sequential(backbones.SmallCNN(1, (28, 28)), torch.nn.Linear(256, 32)).eval()
    images = ArrayImages(np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8), 255.0)
    z = {batch: outputs(network, images, batch) for batch in (256, 64, 7)}
    for batch in (64, 7):
        np.testing.assert_array_equal(z[batch] >= 0, z[256] >= 0)
        np.testing.assert_allclose(z[batch], z[256], rtol=0, atol=1e-6)
