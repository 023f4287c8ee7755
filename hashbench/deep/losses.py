"""Losses of the deep methods, on a mini-batch of codes (B x K) and labels (B x C)."""

from __future__ import annotations

import torch


def similarity(labels: torch.Tensor) -> torch.Tensor:
    """s_ij = 1 when items i and j share a label, else 0 (B x B, float)."""
    return (labels @ labels.T > 0).to(labels.dtype)


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


def log_cosh(x: torch.Tensor) -> torch.Tensor:
    """log(cosh(x)) without overflow: |x| + log1p(exp(-2|x|)) - log 2."""
    return x.abs() + torch.log1p(torch.exp(-2 * x.abs())) - torch.log(torch.tensor(2.0, dtype=x.dtype))


def triplet_ranking(codes: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """DNNH's triplet ranking loss, mean over every (anchor, similar, dissimilar) triplet of the batch:
    max(0, margin - (||b_a - b_n||^2 - ||b_a - b_p||^2))."""
    s = similarity(labels).bool()
    sq = torch.cdist(codes, codes) ** 2
    eye = torch.eye(len(codes), dtype=torch.bool, device=codes.device)
    positive = s & ~eye
    valid = positive[:, :, None] & ~s[:, None, :]  # [anchor, positive, negative]
    if not valid.any():
        return codes.sum() * 0
    hinge = torch.relu(margin - (sq[:, None, :] - sq[:, :, None]))
    return hinge[valid].mean()
