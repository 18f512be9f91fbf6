"""BYOL: an online predictor regresses the EMA target network's projection of another view."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .ema import cosine_momentum, ema_update_, frozen_copy
from .heads import MLP

__all__ = ["BYOL", "regression_loss", "byol_loss"]


@float32_loss
def regression_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample normalised MSE :math:`\\|\\bar q - \\bar t\\|^2 = 2 - 2\\cos(q, t)` (BYOL Eq. 2), shape (N,)."""
    return 2.0 - 2.0 * F.cosine_similarity(prediction.float(), target.float(), dim=-1, eps=1e-8)


@float32_loss
def byol_loss(predictions: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """Symmetrised BYOL loss over the ordered pairs (target view t, online view v != t).

    .. math:: \\mathcal L = \\frac{2}{P} \\sum_{t} \\sum_{v \\ne t} \\frac1N \\sum_n
       \\big(2 - 2\\cos(q_\\theta(z_v^{(n)}), \\mathrm{sg}\\, z'^{(n)}_{\\xi, t})\\big)

    P = number of pairs. For two views this is BYOL's L + L~ (Eq. 2 plus its symmetric counterpart).
    """
    pairs = [
        regression_loss(p, t.detach()).mean()
        for ti, t in enumerate(targets)
        for vi, p in enumerate(predictions)
        if vi != ti
    ]
    if not pairs:
        raise ValueError("BYOL needs at least 2 views")
    return 2.0 * torch.stack(pairs).mean()


@register("byol")
class BYOL(Objective):
    """BYOL (Grill, Strub, Altche, Tallec, Richemond, Buchatskaya, Doersch, Pires, Guo, Azar, Piot,
    Kavukcuoglu, Munos, Valko, NeurIPS 2020, "Bootstrap Your Own Latent"; code:
    github.com/deepmind/deepmind-research/tree/master/byol).

    Online branch: projector g_theta then predictor q_theta on the online embeddings of all views.
    Target branch: projector g_xi (EMA of g_theta) on the EMA backbone's embeddings of the global views
    (``targets``; ``momentum_backbone = True``), stop-gradient:

    .. math:: \\mathcal L = \\frac{2}{P}\\sum_{t}\\sum_{v \\ne t}
       \\mathrm{mean}_n \\big\\| \\overline{q_\\theta(g_\\theta(z_v))} - \\overline{g_\\xi(z'_t)} \\big\\|^2,
       \\qquad \\xi \\leftarrow \\tau \\xi + (1-\\tau)\\theta

    (bars: L2 normalisation; for two views L = BYOL's symmetrised loss), with tau following a cosine from
    ``base_momentum`` to 1 (:meth:`momentum`, also used for the EMA backbone). Pure functions:
    :func:`byol_loss`, :func:`regression_loss`.

    Parameters (defaults of the original code, ImageNet config)
    --------------------------------------------------------
    dim : int
    hidden_dim : int, default 4096
        Hidden width of projector and predictor (Linear -> BN -> ReLU -> Linear).
    out_dim : int, default 256
        Projection size.
    base_momentum : float, default 0.996
    gather : bool, default True
        Head batch-norm statistics over all processes and the reported mean over the whole batch.

    ``forward(views, targets)``: ``targets`` (required) = EMA-backbone embeddings of the first
    ``n_global`` views. Logs: ``loss``, ``cos`` (mean cosine between predictions and targets).

    Examples
    --------
    >>> obj = build("byol", dim=64, hidden_dim=128, out_dim=32)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)], targets=[torch.randn(16, 64), torch.randn(16, 64)])
    >>> out.loss.backward(); obj.update(step=0, total_steps=1000)
    """

    momentum_backbone = True
    n_global = 2

    def __init__(
        self, dim: int, hidden_dim: int = 4096, out_dim: int = 256, base_momentum: float = 0.996, gather: bool = True
    ):
        super().__init__(dim)
        if not 0.0 <= base_momentum <= 1.0:
            raise ValueError(f"base_momentum must be in [0, 1], got {base_momentum}")
        self.base_momentum = float(base_momentum)
        self.gather = bool(gather)
        self.projector = MLP(dim, out_dim, hidden_dim=hidden_dim, n_hidden=1, gather=gather)
        self.predictor = MLP(out_dim, out_dim, hidden_dim=hidden_dim, n_hidden=1, gather=gather)
        self.target_projector = frozen_copy(self.projector)

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        t = self.n_global
        if targets is None or len(targets) != t:
            raise ValueError(f"byol: targets must be the EMA backbone's embeddings of the {t} global views")
        p = self.predictor(self.projector(torch.cat(views, 0))).chunk(len(views))
        with torch.no_grad():
            tz = self.target_projector(torch.cat(list(targets), 0)).chunk(t)
            tz = [gather(x, self.gather) for x in tz]
        p = [gather(x, self.gather) for x in p]
        loss = byol_loss(p, tz)
        with torch.no_grad():
            cos = torch.stack(
                [F.cosine_similarity(p[v], tz[i], dim=-1).mean() for i in range(t) for v in range(len(p)) if v != i]
            ).mean()
        return ObjectiveOutput(loss, {"loss": loss.detach(), "cos": cos})

    def momentum(self, step: int, total_steps: int) -> float:
        """Cosine from ``base_momentum`` to 1 (BYOL Sec. 3.2)."""
        return cosine_momentum(self.base_momentum, step, total_steps)

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """EMA update of the target projector."""
        ema_update_(self.target_projector, self.projector, self.momentum(step, total_steps))
