"""Barlow Twins: redundancy reduction through the cross-correlation matrix of two views."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .heads import MLP

__all__ = ["BarlowTwins", "cross_correlation", "on_diagonal", "off_diagonal", "barlow_loss"]


@float32_loss
def cross_correlation(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Empirical cross-correlation :math:`\\mathcal C_{ij} = \\frac1N \\sum_n \\hat z^1_{ni} \\hat z^2_{nj}`
    of the batch-standardised views (mean 0, biased variance 1 per feature: ``BatchNorm1d(affine=False)``)."""
    a, b = z1.float(), z2.float()
    a = (a - a.mean(0)) / torch.sqrt(a.var(0, unbiased=False) + eps)
    b = (b - b.mean(0)) / torch.sqrt(b.var(0, unbiased=False) + eps)
    return a.T @ b / a.shape[0]


def on_diagonal(c: torch.Tensor) -> torch.Tensor:
    """Invariance term :math:`\\sum_i (1 - \\mathcal C_{ii})^2`."""
    return (1.0 - torch.diagonal(c)).pow(2).sum()


def off_diagonal(c: torch.Tensor) -> torch.Tensor:
    """Redundancy-reduction term :math:`\\sum_{i \\ne j} \\mathcal C_{ij}^2`."""
    return c.pow(2).sum() - torch.diagonal(c).pow(2).sum()


@float32_loss
def barlow_loss(
    embeddings: Sequence[torch.Tensor], lambd: float = 0.0051, n_global: int = 2
) -> tuple[torch.Tensor, dict]:
    """Barlow Twins over V views: mean over the pairs (i < n_global, j > i) of
    :math:`\\sum_i (1-\\mathcal C_{ii})^2 + \\lambda \\sum_{i\\ne j} \\mathcal C_{ij}^2`
    (Zbontar et al. 2021, Eq. 1)."""
    v = len(embeddings)
    if v < 2:
        raise ValueError("Barlow Twins needs at least 2 views")
    on, off = [], []
    for i in range(min(n_global, v)):
        for j in range(i + 1, v):
            c = cross_correlation(embeddings[i], embeddings[j])
            on.append(on_diagonal(c))
            off.append(off_diagonal(c))
    on_t, off_t = torch.stack(on).mean(), torch.stack(off).mean()
    return on_t + lambd * off_t, {"on_diag": on_t, "off_diag": off_t}


@register("barlow")
class BarlowTwins(Objective):
    """Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny, ICML 2021, "Barlow Twins: Self-Supervised Learning
    via Redundancy Reduction"; code: github.com/facebookresearch/barlowtwins ``main.py``).

    Projector h; z^a = h(phi(x^a)); with C the cross-correlation of the two batch-standardised views
    over the whole gathered batch (:func:`cross_correlation`):

    .. math:: \\mathcal L = \\sum_i (1 - \\mathcal C_{ii})^2 + \\lambda \\sum_i \\sum_{j \\ne i} \\mathcal C_{ij}^2

    (:func:`on_diagonal`, :func:`off_diagonal`, :func:`barlow_loss`; multi-crop: mean over the pairs
    that involve a global view). The original divides the local product by the local batch size and
    all-reduces it, which is the same matrix.

    Parameters (defaults of ``main.py``)
    ---------------------------------
    dim : int
    hidden_dim : int, default 8192
    out_dim : int, default 8192
        Projector "8192-8192-8192": two Linear (no bias) -> BN -> ReLU blocks then Linear (no bias).
    n_hidden : int, default 2
    lambd : float, default 0.0051
    gather : bool, default True
        Correlations (and head batch-norm statistics) over all processes under ``torch.distributed``.

    Logs: ``loss``, ``on_diag``, ``off_diag``.

    Examples
    --------
    >>> obj = build("barlow", dim=64, hidden_dim=128, out_dim=128)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)])
    >>> out.loss.backward()
    """

    n_global = 2

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 8192,
        out_dim: int = 8192,
        n_hidden: int = 2,
        lambd: float = 0.0051,
        gather: bool = True,
    ):
        super().__init__(dim)
        self.lambd = float(lambd)
        self.gather = bool(gather)
        self.projector = MLP(dim, out_dim, hidden_dim=hidden_dim, n_hidden=n_hidden, out_bias=False, gather=gather)

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        z = [gather(x, self.gather) for x in self.projector(torch.cat(views, 0)).chunk(len(views))]
        loss, terms = barlow_loss(z, self.lambd, self.n_global)
        return ObjectiveOutput(loss, {"loss": loss.detach(), **{k: t.detach() for k, t in terms.items()}})
