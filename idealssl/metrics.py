"""Label-free monitors of a representation (no labels needed, except where stated).

* :func:`rankme`: effective rank exp(H(p)), p_k = sigma_k / sum sigma + eps (Garrido et al., ICML 2023,
  "RankMe"); collapse shows as a rank far below d. The singular values come from torch, the entropy rank from
  :func:`idealssl.label_free.effective_rank`, the one home of RankMe's formula (NumPy, for orbit sets on disk).
* :func:`invariance_ratio`: E||z(x) - z(x+)||^2 / E||z(x_i) - z(x_j)||^2 over two views of the same
  inputs; 0 for an invariant encoder (idealssl Theorem 1's first condition), about 1 when the
  views of one input are as far apart as two different inputs.
* :func:`simplex_distance`: how far C codes (orbit or class means) are from a regular simplex, the
  minimiser of the ideal ISSL log loss (Dubois et al. 2022, Prop. 3; theory/statements.md S4.2).
  Scale- and rotation-invariant; 0 exactly for a centred regular simplex. Needs the codes, hence
  labels (or known orbits).
"""

from __future__ import annotations

import torch

from .label_free import RANKME_EPS, effective_rank


def rankme(z: torch.Tensor, eps: float = RANKME_EPS) -> float:
    """RankMe effective rank of embeddings ``z`` (N, d): exp(-sum p log p), p = sigma / ||sigma||_1 + eps
    (:func:`idealssl.label_free.rankme` on the same matrix gives the same value)."""
    s = torch.linalg.svdvals(z.detach().double())
    return effective_rank(s.cpu().numpy(), eps)


def invariance_ratio(z1: torch.Tensor, z2: torch.Tensor) -> float:
    """E_i ||z1_i - z2_i||^2 divided by the mean squared distance between different inputs.

    The denominator uses the identity mean_{i != j} ||z_i - z_j||^2 = 2 N/(N-1) (mean ||z||^2 -
    ||mean z||^2) on the pooled views.
    """
    z1, z2 = z1.detach().double(), z2.detach().double()
    num = ((z1 - z2) ** 2).sum(1).mean()
    z = torch.cat([z1, z2])
    n = z.shape[0]
    den = 2 * n / (n - 1) * ((z**2).sum(1).mean() - (z.mean(0) ** 2).sum())
    return float(num / den.clamp_min(1e-12))


def simplex_distance(codes: torch.Tensor) -> float:
    """Relative Frobenius distance between the Gram matrix of the centred, scale-normalised codes
    (C, d) and that of a regular simplex with unit-norm vertices, G* = C/(C-1) I - 1/(C-1) 11^T."""
    mu = codes.detach().double()
    c = mu.shape[0]
    if c < 2:
        raise ValueError("need at least 2 codes")
    mu = mu - mu.mean(0, keepdim=True)
    mu = mu / (mu.pow(2).sum(1).mean().sqrt().clamp_min(1e-12))
    g = mu @ mu.T
    target = (c / (c - 1)) * torch.eye(c, dtype=g.dtype) - 1.0 / (c - 1)
    return float(torch.linalg.norm(g - target) / torch.linalg.norm(target))
