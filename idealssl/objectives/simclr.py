"""SimCLR: NT-Xent with one projection head shared by both branches (the symmetric baseline)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .heads import MLP

__all__ = ["SimCLR", "nt_xent_loss", "same_sample_mask"]


def same_sample_mask(n: int, n_views: int, device=None) -> torch.Tensor:
    """Boolean (V*n, V*n) mask, True where rows and columns are views of the same sample.

    Rows and columns are ordered view-major: index ``v*n + i`` is view v of sample i.
    """
    idx = torch.arange(n, device=device).repeat(n_views)
    return idx[:, None] == idx[None, :]


@float32_loss
def nt_xent_loss(projections: Sequence[torch.Tensor], temperature: float) -> torch.Tensor:
    """Normalised-temperature cross-entropy (NT-Xent) over V views, self excluded.

    Parameters
    ----------
    projections : sequence of V tensors (N, k)
        Head outputs ``g(z)`` of the V views (gathered over processes), row i = sample i.
    temperature : float
        tau > 0.

    Returns
    -------
    torch.Tensor
        Scalar

        .. math:: \\mathcal L = \\frac{1}{VN}\\sum_{a}\\frac{1}{V-1}\\sum_{p \\in P(a)}
           -\\log \\frac{\\exp(\\cos(g_a, g_p)/\\tau)}{\\sum_{c \\ne a} \\exp(\\cos(g_a, g_c)/\\tau)}

        over the VN anchors a, where P(a) are the other views of a's sample. For V = 2 this is
        SimCLR's loss (Chen et al. 2020, Eq. 1, averaged over the 2N anchors).
    """
    if len(projections) < 2:
        raise ValueError(f"NT-Xent needs at least 2 views, got {len(projections)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    v = len(projections)
    n = projections[0].shape[0]
    g = F.normalize(torch.cat(list(projections), 0).float(), dim=1)
    logits = g @ g.T / temperature
    eye = torch.eye(v * n, dtype=torch.bool, device=g.device)
    logits = logits.masked_fill(eye, float("-inf"))
    log_p = logits.log_softmax(dim=1)
    pos = same_sample_mask(n, v, g.device) & ~eye
    # -inf on the diagonal never meets a positive; zero it to avoid 0 * inf
    log_p = log_p.masked_fill(eye, 0.0)
    return -(log_p * pos).sum(1).div(v - 1).mean()


@register("simclr")
class SimCLR(Objective):
    """SimCLR (Chen, Kornblith, Norouzi, Hinton, ICML 2020, "A Simple Framework for Contrastive
    Learning of Visual Representations"; code: github.com/google-research/simclr).

    One non-linear head g shared by both branches; cosine similarities of head outputs; the positive of
    an anchor is the other view of its sample and the negatives are all other views in the (gathered)
    batch, the anchor itself excluded:

    .. math:: \\ell_a = -\\log \\frac{\\exp(\\cos(g(z_a), g(z_{p(a)}))/\\tau)}
              {\\sum_{c \\ne a} \\exp(\\cos(g(z_a), g(z_c))/\\tau)}

    averaged over the 2N anchors (:func:`nt_xent_loss`; with V views the positives of an anchor are its
    V-1 other views, averaged). This is the symmetric head that Dubois et al. (2022, Sec. 4.1) show is
    "not even population optimal for linear probes"; see :class:`~idealssl.objectives.cissl.CISSL`.

    Parameters (defaults of the original code, ``run.py``)
    -------------------------------------------------------
    dim : int
        Embedding dimension d.
    temperature : float, default 0.1
        tau (the original's default flag; the ISSL repository's SimCLR baseline used 0.07).
    hidden_dim : int, default 2048
        Width of the head's hidden layer (``Linear -> BN -> ReLU``; SimCLR uses the encoder width).
    out_dim : int, default 128
        Output width of g.
    n_hidden : int, default 1
        Hidden layers of g (SimCLR v1: 1; v2: 2).
    out_norm : bool, default False
        Batch norm on g's output (as CISSL's heads have; the synthetic suite's matched comparison
        sets it so that SimCLR and CISSL differ only by the head asymmetry and the self target).
    gather : bool, default True
        Negatives (and head batch-norm statistics) from all processes when ``torch.distributed`` is
        initialised.

    Logs: ``loss``, ``acc`` (top-1 of the positive among the candidates, V = 2), ``temperature``.

    Examples
    --------
    >>> obj = build("simclr", dim=64, hidden_dim=128, out_dim=32)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)])
    >>> out.loss.backward()
    """

    n_global = 2

    def __init__(
        self,
        dim: int,
        temperature: float = 0.1,
        hidden_dim: int = 2048,
        out_dim: int = 128,
        n_hidden: int = 1,
        out_norm: bool = False,
        gather: bool = True,
    ):
        super().__init__(dim)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather = bool(gather)
        self.head = MLP(dim, out_dim, hidden_dim=hidden_dim, n_hidden=n_hidden, out_norm=out_norm, gather=gather)

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        v = len(views)
        g = self.head(torch.cat(views, 0)).chunk(v)
        g = [gather(x, self.gather) for x in g]
        loss = nt_xent_loss(g, self.temperature)
        with torch.no_grad():
            gn = F.normalize(torch.cat(g[:2], 0).float(), dim=1)
            n = g[0].shape[0]
            sim = (gn @ gn.T).fill_diagonal_(float("-inf"))
            target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(sim.device)
            acc = (sim.argmax(1) == target).float().mean()
        return ObjectiveOutput(loss, {"loss": loss.detach(), "acc": acc, "temperature": self.temperature})
