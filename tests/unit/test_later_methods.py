"""The defining property of each method published after HashNet (DCH, GreedyHash, CSQ, OrthoHash)."""

import numpy as np
import pytest
import torch

from hashbench.deep.losses import cauchy_cross_entropy, sign_straight_through


def released_dch_loss(u, labels, gamma, normed):
    """thulab/DeepHash DCH.cauchy_cross_entropy, written out in numpy from its formula."""
    s = np.clip(labels @ labels.T, 0, 1)
    if normed:
        r = (u ** 2).sum(1, keepdims=True)
        dist = u.shape[1] / 2 * (1 - (u @ u.T) / np.sqrt(r @ (r + 1e-6).T) + 1e-6)
    else:
        r = (u ** 2).sum(1, keepdims=True)
        dist = r - 2 * u @ u.T + r.T + 0.001
    cauchy = gamma / (dist + gamma)
    balance = np.abs(s - 1) + (np.abs(2 * (s - 0.5)).sum() / s.sum()) * s
    mask = ~np.eye(len(u), dtype=bool)
    loss = -s * np.log(cauchy) - (1 - s) * np.log(1 - cauchy)
    return (loss * balance)[mask].mean()


@pytest.mark.parametrize("distance", ["euclidean", "hamming"])
@pytest.mark.parametrize("multi", [False, True])
def test_dch_loss_is_the_released_formula(distance, multi):
    rng = np.random.default_rng(3)
    u = np.tanh(rng.normal(size=(24, 16)))
    labels = (rng.random((24, 5)) < 0.3).astype(float) if multi else np.eye(5)[rng.integers(0, 5, 24)]
    got = cauchy_cross_entropy(torch.from_numpy(u), torch.from_numpy(labels), 20.0, distance)
    assert got.item() == pytest.approx(released_dch_loss(u, labels, 20.0, distance == "hamming"), rel=1e-9)


def test_dch_normalised_distance_is_the_hamming_distance_on_codes():
    """On +-1 codes, K/2 (1 - cos) is the Hamming distance (up to the released 1e-6 guards)."""
    from hashbench.methods.dch import DCH

    rng = np.random.default_rng(0)
    codes = torch.from_numpy(rng.choice([-1.0, 1.0], (2, 32)))
    hamming = (codes[0] != codes[1]).sum().item()
    gamma = 20.0
    # two items of different classes: the loss is -log(1 - p) = log((d + gamma) / d) over both ordered pairs
    loss = cauchy_cross_entropy(codes, torch.eye(2, dtype=codes.dtype), gamma, "hamming")
    assert loss.item() == pytest.approx(np.log((hamming + gamma) / hamming), rel=1e-4)
    assert DCH(32).quantization_loss(codes).item() == 0.0  # |u| = 1: no quantization error (squared)
    assert DCH(32, quantization="cauchy").quantization_loss(codes).item() == pytest.approx(0.0, abs=1e-6)


def test_greedyhash_sign_has_the_identity_gradient():
    x = torch.tensor([-2.0, -0.3, 0.0, 0.4, 3.0], dtype=torch.float64, requires_grad=True)
    weight = torch.tensor([1.0, -2.0, 3.0, 0.5, -1.5], dtype=torch.float64)
    y = sign_straight_through(x)
    assert y.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    (y * weight).sum().backward()
    assert x.grad.tolist() == weight.tolist()


def test_greedyhash_classifies_the_signs_and_penalises_the_cube():
    from hashbench.methods.greedyhash import GreedyHash

    method = GreedyHash(8, alpha=0.1)
    method._head = method.build_head(4, 3)
    method.multi_label_ = False
    codes = torch.tensor([[0.5, -2.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0]])
    labels = torch.tensor([[0.0, 1.0, 0.0]])
    logits = method._head.classifier(torch.sign(codes))
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([1])) + 0.1 * (0.5 ** 3 + 1.0) / 8
    assert method.loss(codes, labels, None).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("n_classes, n_bits", [(10, 16), (10, 32), (10, 64), (100, 64), (21, 16), (80, 64)])
def test_csq_hadamard_centres_are_half_the_code_apart(n_classes, n_bits):
    from hashbench.methods.csq import hash_centres

    centres = hash_centres(n_classes, n_bits, np.random.default_rng(0))
    distance = (n_bits - centres @ centres.T) / 2
    assert centres.shape == (n_classes, n_bits) and np.isin(centres, (-1, 1)).all()
    assert distance[np.triu_indices(n_classes, 1)].min() >= n_bits / 2


@pytest.mark.parametrize("n_classes, n_bits", [(10, 48), (10, 12), (100, 16)])
def test_csq_random_centres_follow_the_released_rule(n_classes, n_bits):
    """Lengths a Hadamard matrix does not cover: balanced random centres, redrawn until they are far apart."""
    from hashbench.methods.csq import hash_centres

    centres = hash_centres(n_classes, n_bits, np.random.default_rng(0), tries=2000)
    assert (centres == -1).sum(1).tolist() == [round(n_bits / 2)] * n_classes
    pairs = ((n_bits - centres @ centres.T) / 2)[np.triu_indices(n_classes, 1)]
    assert pairs.min() > 0
    if n_bits != 16:  # 100 centres of 16 bits rarely meet the rule: the farthest draw is kept
        assert pairs.min() >= 20 / 64 * n_bits and pairs.mean() >= n_bits / 2
    np.testing.assert_array_equal(centres, hash_centres(n_classes, n_bits, np.random.default_rng(0), tries=2000))


def test_csq_targets_a_multi_label_item_at_the_sign_of_its_centres_mean():
    from hashbench.methods.csq import CSQ

    method = CSQ(16)
    method.build_head(8, 4)
    centres, tie = method._head.centres, method._head.tie
    labels = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    target = method.centres_of(labels)
    torch.testing.assert_close(target[0], centres[1])
    mean = centres[:2].mean(0)
    torch.testing.assert_close(target[1], torch.where(mean == 0, tie, mean.sign()))
    torch.testing.assert_close(target[2], centres[:3].sum(0).sign())
    torch.testing.assert_close(target[3], tie)
    # towards the centre, the loss (without its pairwise term) falls to its floor
    exact = CSQ(16, pairwise_weight=0.0)
    exact._head = method._head
    near = exact.loss(0.999 * target[:1], labels[:1], None)
    far = exact.loss(-0.999 * target[:1], labels[:1], None)
    assert near < 0.01 < far


def test_orthohash_loss_is_the_margin_cross_entropy_towards_fixed_codewords():
    from hashbench.methods.orthohash import OrthoHash

    method = OrthoHash(16, scale=8.0, margin=0.2)
    head = method.build_head(8, 5)
    assert "codebook" in dict(head.named_buffers()) and all(p.shape != (5, 16) for p in head.parameters())
    method.multi_label_ = False
    codebook = head.codebook
    assert np.isin(codebook.numpy(), (-1, 1)).all()
    rng = torch.Generator().manual_seed(0)
    codes, labels = torch.randn(6, 16, generator=rng), torch.eye(5)[[0, 1, 2, 3, 4, 0]]
    cos = torch.nn.functional.normalize(codes, dim=1) @ torch.nn.functional.normalize(codebook, dim=1).T
    expected = torch.nn.functional.cross_entropy(8.0 * (cos - 0.2 * labels), labels.argmax(1))
    assert method.loss(codes, labels, None).item() == pytest.approx(expected.item(), rel=1e-6)
    # a code equal to its class's codeword has a lower loss than one equal to another class's
    own, other = method.loss(codebook[:1], labels[:1], None), method.loss(codebook[1:2], labels[:1], None)
    assert own < other
    # multi-label: the cross-entropy against the labels divided by their count
    method.multi_label_ = True
    two = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0]])
    log_p = torch.log_softmax(8.0 * (cos[:1] - 0.2 * two), dim=1)
    assert method.loss(codes[:1], two, None).item() == pytest.approx(-(log_p[0, :2].mean()).item(), rel=1e-6)
