"""VICReg: variance-invariance-covariance regularisation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .heads import MLP

__all__ = ["VICReg", "invariance", "variance", "covariance", "vicreg_loss"]


@float32_loss
def invariance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Invariance term :math:`s(x, y) = \\frac{1}{N D}\\sum_{n,j} (x_{nj} - y_{nj})^2` (mean squared error)."""
    return F.mse_loss(x.float(), y.float())


@float32_loss
def variance(x: torch.Tensor, gamma: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """Variance term :math:`v(x) = \\frac1D\\sum_j \\max(0, \\gamma - \\sqrt{\\mathrm{Var}(x_{:,j}) + \\epsilon})`
    (unbiased variance over the batch)."""
    std = torch.sqrt(x.float().var(dim=0) + eps)
    return F.relu(gamma - std).mean()


@float32_loss
def covariance(x: torch.Tensor) -> torch.Tensor:
    """Covariance term :math:`c(x) = \\frac1D \\sum_{i \\ne j} C(x)_{ij}^2`,
    :math:`C(x) = \\frac{1}{N-1}\\sum_n (x_n - \\bar x)(x_n - \\bar x)^\\top`."""
    x = x.float()
    n, d = x.shape
    xc = x - x.mean(0)
    cov = xc.T @ xc / (n - 1)
    off = cov - torch.diag(torch.diagonal(cov))
    return off.pow(2).sum() / d


@float32_loss
def vicreg_loss(
    embeddings: Sequence[torch.Tensor],
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    n_global: int = 2,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> tuple[torch.Tensor, dict]:
    """VICReg over V views (the expander outputs of the whole batch).

    .. math:: \\mathcal L = \\lambda\\, \\mathrm{mean}_{(i,j)}\\, s(z_i, z_j)
       + \\mu\\, \\mathrm{mean}_v\\, v(z_v) + \\nu\\, \\tfrac{2}{V}\\sum_v c(z_v)

    pairs (i, j): i < n_global, j > i. For V = 2 this is Bardes et al. (2022) Eq. 6:
    lambda s(z, z') + mu [v(z) + v(z')]/2 + nu [c(z) + c(z')] (the original code's scaling).
    """
    v = len(embeddings)
    if v < 2:
        raise ValueError("VICReg needs at least 2 views")
    inv = torch.stack(
        [invariance(embeddings[i], embeddings[j]) for i in range(min(n_global, v)) for j in range(i + 1, v)]
    ).mean()
    var = torch.stack([variance(z, gamma, eps) for z in embeddings]).mean()
    cov = 2.0 * torch.stack([covariance(z) for z in embeddings]).mean()
    loss = sim_coeff * inv + std_coeff * var + cov_coeff * cov
    return loss, {"invariance": inv, "variance": var, "covariance": cov}


@register("vicreg")
class VICReg(Objective):
    """VICReg (Bardes, Ponce, LeCun, ICLR 2022, "VICReg: Variance-Invariance-Covariance Regularization
    for Self-Supervised Learning"; code: github.com/facebookresearch/vicreg ``main_vicreg.py``).

    Expander h (MLP), z_v = h(phi(x_v)); with the statistics over the whole gathered batch:

    .. math:: \\mathcal L = \\lambda\\, s(z, z') + \\mu\\, \\tfrac12[v(z) + v(z')] + \\nu\\, [c(z) + c(z')]

    s = mean squared error, v = hinge on the per-dimension standard deviation, c = sum of squared
    off-diagonal covariances / D (:func:`invariance`, :func:`variance`, :func:`covariance`,
    :func:`vicreg_loss`; multi-crop: invariance averaged over the pairs that involve a global view).

    Parameters (defaults of ``main_vicreg.py``)
    ----------------------------------------
    dim : int
    hidden_dim : int, default 8192
    out_dim : int, default 8192
        Expander "8192-8192-8192": two Linear -> BN -> ReLU blocks then Linear (no bias).
    n_hidden : int, default 2
    sim_coeff : float, default 25.0
    std_coeff : float, default 25.0
    cov_coeff : float, default 1.0
    gather : bool, default True
        All terms (and head batch-norm statistics) over all processes under ``torch.distributed``.

    Logs: ``loss``, ``invariance``, ``variance``, ``covariance``.

    Examples
    --------
    >>> obj = build("vicreg", dim=64, hidden_dim=128, out_dim=128)
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
        sim_coeff: float = 25.0,
        std_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        gather: bool = True,
    ):
        super().__init__(dim)
        self.sim_coeff, self.std_coeff, self.cov_coeff = float(sim_coeff), float(std_coeff), float(cov_coeff)
        self.gather = bool(gather)
        self.expander = MLP(dim, out_dim, hidden_dim=hidden_dim, n_hidden=n_hidden, out_bias=False, gather=gather)

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        z = [gather(x, self.gather) for x in self.expander(torch.cat(views, 0)).chunk(len(views))]
        loss, terms = vicreg_loss(z, self.sim_coeff, self.std_coeff, self.cov_coeff, self.n_global)
        logs = {"loss": loss.detach(), **{k: t.detach() for k, t in terms.items()}}
        return ObjectiveOutput(loss, logs)
