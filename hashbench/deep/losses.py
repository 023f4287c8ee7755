"""Losses of the deep methods, on a mini-batch of codes (B x K) and labels (B x C)."""

from __future__ import annotations

import torch


def similarity(labels: torch.Tensor) -> torch.Tensor:
    """s_ij = 1 when items i and j share a label, else 0 (B x B, float)."""
    return similarity_between(labels, labels)


def similarity_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """s_ij = 1 when item i of ``a`` and item j of ``b`` share a label, else 0 (A x B, float)."""
    return (a @ b.T > 0).to(a.dtype)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


def pairwise_likelihood(codes, labels, alpha: float, weighting: str = "paper", similar_weight: float = 1.0,
                        normalise: str = "weights"):
    """HashNet Eq. (4): sum over pairs i<j of c_ij (log(1 + exp(alpha <h_i,h_j>)) - alpha s_ij <h_i,h_j>),
    divided by the sum of the weights c_ij (``normalise="weights"``: both released versions, the
    Caffe ``PairwiseLossLayer``'s weighted count and PyTorch ``loss.pairwise_loss``'s
    n_similar * class_num + n_dissimilar) or by the number of pairs |S| (``"pairs"``: PyTorch
    ``loss.pairwise_loss_updated``). The two differ only when the weights do not average 1: Eq. (2)'s
    average 2, so "pairs" doubles the gradient.

    weighting "paper": c_ij = |S|/|S1| for similar and |S|/|S0| for dissimilar pairs of the batch (Eq. 2);
    "released": c_ij = similar_weight for similar pairs, 1 otherwise; "none": c_ij = 1 (HashNet-W).
    """
    if normalise not in ("weights", "pairs"):
        raise ValueError(f"normalise: expected 'weights' or 'pairs', got {normalise!r}")
    s = similarity(labels)
    inner = alpha * (codes @ codes.T)
    per_pair = softplus(inner) - s * inner
    upper = torch.triu(torch.ones_like(s, dtype=torch.bool), diagonal=1)
    s, per_pair = s[upper], per_pair[upper]
    n_pairs = s.numel()
    if weighting == "paper":
        n_similar = s.sum()
        n_dissimilar = n_pairs - n_similar
        weight = torch.where(s > 0, n_pairs / n_similar.clamp(min=1), n_pairs / n_dissimilar.clamp(min=1))
    elif weighting == "released":
        weight = torch.where(s > 0, torch.full_like(s, similar_weight), torch.ones_like(s))
    elif weighting == "none":
        weight = torch.ones_like(s)
    else:
        raise ValueError(f"weighting: expected 'paper', 'released' or 'none', got {weighting!r}")
    return (weight * per_pair).sum() / (weight.sum() if normalise == "weights" else n_pairs)


def balanced_pairwise_likelihood(codes, labels, alpha: float, similarity_kind: str = "cosine"):
    """DHN's pairwise cross-entropy as the released ``DHN.cross_entropy`` (thulab/DeepHash
    ``DeepHash/model/dhn/dhn.py``) computes it: over every ordered pair of the batch, the diagonal
    included, the mean of c_ij (log(1 + exp(alpha x_ij)) - alpha s_ij x_ij), with similar pairs
    weighted c_ij = B^2 / sum_ij s_ij and dissimilar ones 1, and x_ij
      "cosine": cos(u_i, u_j) (the ``normed`` branch, ``loss_type: normed_cross_entropy`` of the
      released script);
      "inner": <u_i, u_j> (the paper's; the released unnormed branch also clips it to [-15, 15]:
      not done here, log(1 + e^x) is evaluated stably).
    """
    s = similarity(labels)
    inner = codes @ codes.T
    if similarity_kind == "cosine":
        norms = codes.norm(dim=1, keepdim=True)
        x = inner / (norms * norms.T).clamp(min=torch.finfo(codes.dtype).tiny)
    elif similarity_kind == "inner":
        x = inner
    else:
        raise ValueError(f"similarity: expected 'cosine' or 'inner', got {similarity_kind!r}")
    weight = torch.where(s > 0, s.numel() / s.sum(), torch.ones_like(s))
    return (weight * (softplus(alpha * x) - s * alpha * x)).mean()


def log_cosh(x: torch.Tensor) -> torch.Tensor:
    """log(cosh(x)) without overflow: |x| + log1p(exp(-2|x|)) - log 2."""
    return x.abs() + torch.log1p(torch.exp(-2 * x.abs())) - torch.log(torch.tensor(2.0, dtype=x.dtype))


TRIPLET_DIRECT_MAX = 1 << 24  # triplets of a batch (B^3) up to which the loss is one masked mean over all of them


def triplet_ranking(codes: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """DNNH's triplet ranking loss, mean over every (anchor, similar, dissimilar) triplet of the batch:
    max(0, margin - (||b_a - b_n||^2 - ||b_a - b_p||^2)). Up to ``TRIPLET_DIRECT_MAX`` triplets
    (B <= 256) as a mean over the B^3 tensor of hinges; beyond, the same sum without it
    (``_triplet_sum_sorted``: 134 M entries and their gradient at the paper's B = 512)."""
    s = similarity(labels).bool()
    sq = torch.cdist(codes, codes) ** 2
    eye = torch.eye(len(codes), dtype=torch.bool, device=codes.device)
    positive = s & ~eye
    if len(codes) ** 3 > TRIPLET_DIRECT_MAX:
        count = (positive.sum(1) * (~s).sum(1)).sum()
        if count == 0:
            return codes.sum() * 0
        return _triplet_sum_sorted(sq, positive, ~s, margin) / count
    valid = positive[:, :, None] & ~s[:, None, :]  # [anchor, positive, negative]
    if not valid.any():
        return codes.sum() * 0
    hinge = torch.relu(margin - (sq[:, None, :] - sq[:, :, None]))
    return hinge[valid].mean()


def _triplet_sum_sorted(sq: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float):
    """sum over anchors a, positives p, negatives n of max(0, margin + sq[a,p] - sq[a,n]) in O(B^2 log B):
    per anchor, the negatives' distances sorted; for each positive p the k negatives closer than
    margin + sq[a,p] contribute k (margin + sq[a,p]) minus the sum of their distances (a prefix sum)."""
    y = torch.where(negative, sq, torch.full_like(sq, float("inf")))
    sorted_y, _ = torch.sort(y, dim=1)
    finite = torch.where(torch.isinf(sorted_y), torch.zeros_like(sorted_y), sorted_y)
    prefix = torch.cat([torch.zeros_like(finite[:, :1]), finite.cumsum(1)], dim=1)
    reach = margin + sq
    k = torch.searchsorted(sorted_y.detach().contiguous(), reach.detach().contiguous())  # negatives with y < reach
    per_pair = k.to(sq.dtype) * reach - prefix.gather(1, k)
    return (per_pair * positive.to(sq.dtype)).sum()


def cauchy_cross_entropy(codes: torch.Tensor, labels: torch.Tensor, gamma: float, distance: str = "euclidean"):
    """DCH's Cauchy cross-entropy (Cao et al., CVPR 2018, Eq. 6), as the released
    ``DCH.cauchy_cross_entropy`` (thulab/DeepHash ``model/dch/dch.py``) computes it: the Cauchy
    probability gamma / (gamma + d_ij) of each ordered pair i != j of the batch, the cross-entropy
    against s_ij, weighted B^2 / sum_ij s_ij (diagonal included) on similar pairs and 1 on dissimilar
    ones, averaged over the B(B - 1) pairs. d_ij is
      distance "euclidean": ||u_i - u_j||^2 + 0.001 (what the released ``apply_loss_function`` uses);
      distance "hamming": K/2 (1 - cos(u_i, u_j) + 1e-6), the normalised Hamming distance of the paper
      (the released ``normed=True`` branch, its 1e-6 guards included).
    The cross-entropy is evaluated as log(d + gamma) - s log(gamma) - (1 - s) log(d): the released
    -s log(p) - (1 - s) log(1 - p) without forming 1 - p."""
    s = similarity(labels)
    inner = codes @ codes.T
    squares = (codes * codes).sum(1, keepdim=True)
    if distance == "euclidean":
        d = squares - 2 * inner + squares.T + 0.001
    elif distance == "hamming":
        d = codes.shape[1] / 2 * (1 - inner / torch.sqrt(squares * (squares.T + 1e-6)) + 1e-6)
    else:
        raise ValueError(f"distance: expected 'euclidean' or 'hamming', got {distance!r}")
    d = d.clamp(min=torch.finfo(d.dtype).tiny)  # rounding can take a pair's ||u_i - u_j||^2 + 0.001 below 0
    per_pair = torch.log(d + gamma) - s * torch.log(torch.tensor(gamma, dtype=d.dtype)) - (1 - s) * torch.log(d)
    weight = torch.where(s > 0, s.numel() / s.sum(), torch.ones_like(s))
    off = ~torch.eye(len(codes), dtype=torch.bool, device=codes.device)
    return (weight * per_pair)[off].mean()


class _SignStraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


def sign_straight_through(x: torch.Tensor) -> torch.Tensor:
    """sgn(x) in the forward pass (sgn(0) = +1, the suite's convention; the released code's torch.sign
    gives 0 there), the identity in the backward pass: GreedyHash's hash layer (ssppp/GreedyHash
    ``cifar1.py``, class ``hash``)."""
    return _SignStraightThrough.apply(x)
