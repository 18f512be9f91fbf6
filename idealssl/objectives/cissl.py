"""CISSL: contrastive ISSL with asymmetric heads (Dubois et al. 2022, Sec. 4.1, Eq. 7)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional as F

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .heads import HEAD_KINDS, MLP, probe_head
from .simclr import same_sample_mask

__all__ = ["CISSL", "cissl_loss"]


@float32_loss
def cissl_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], temperature: float) -> torch.Tensor:
    """Self-contrastive CISSL loss with asymmetric heads.

    Parameters
    ----------
    student : sequence of V tensors (N, k)
        Outputs of the probe-family head h(z) (the "predictor" of the original code), one per view.
    teacher : sequence of V tensors (N, k)
        Outputs of the expressive head g(z) (the "projector"), one per view.
    temperature : float
        tau > 0.

    Returns
    -------
    torch.Tensor
        Scalar. With u_a = h(z_a)/||h(z_a)||, t_c = g(z_c)/||g(z_c)|| over the VN views a, c of the
        batch, and S(a) the V views of a's sample **including a itself**,

        .. math:: \\mathcal L = \\frac{1}{VN} \\sum_a \\frac{1}{V} \\sum_{p \\in S(a)}
           -\\log \\frac{\\exp(u_a^\\top t_p/\\tau)}{\\sum_{c=1}^{VN} \\exp(u_a^\\top t_c/\\tau)}

        i.e. the cross-entropy to the target that puts 1/V on each view of the same sample (0.5 on
        each positive for V = 2, ``is_self_contrastive=True`` in the original code).
    """
    v = len(student)
    if v < 2 or len(teacher) != v:
        raise ValueError(f"CISSL needs >= 2 views and as many teacher as student outputs, got {v} and {len(teacher)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = student[0].shape[0]
    u = F.normalize(torch.cat(list(student), 0).float(), dim=1)
    t = F.normalize(torch.cat(list(teacher), 0).float(), dim=1)
    log_p = (u @ t.T / temperature).log_softmax(dim=1)
    pos = same_sample_mask(n, v, u.device)
    return -(log_p * pos).sum(1).div(v).mean()


@register("cissl")
class CISSL(Objective):
    """CISSL (Dubois, Hashimoto, Ermon, Liang, NeurIPS 2022, "Improving Self-Supervised Learning by
    Characterizing Idealized Representations", Sec. 4.1, Eq. 7; code:
    github.com/YannDubs/Invariant-Self-Supervised-Learning, ``issl/losses/contrastive.py``).

    The ideal ISSL log loss (Eq. 6, theory/objectives.md) predicts the orbit M(x) from phi(x) with a
    linear probe; CISSL replaces the unknown class weight w(M(x)) by g(x~+) of an augmented positive and
    the partition function by the batch (NCE). The head on the representation side is in the probe
    family (linear by default) and the other head is as expressive as possible, so that the
    representation itself, not a projection of it, is what becomes linearly predictive:

    .. math:: \\mathcal L = \\frac{1}{VN} \\sum_a \\frac{1}{V} \\sum_{p \\in S(a)}
       -\\log \\frac{\\exp(\\bar h(z_a)^\\top \\bar g(z_p)/\\tau)}
       {\\sum_{c} \\exp(\\bar h(z_a)^\\top \\bar g(z_c)/\\tau)}

    with bars for L2 normalisation, c over all VN views of the (gathered) batch **including a itself**,
    and S(a) the V views of a's sample (target 1/V on each, i.e. 0.5 on both positives for two views, as
    in the original). Pure function: :func:`cissl_loss`.

    Parameters (defaults of the original TinyImageNet code, ``config/decodability/cissl.yaml``)
    ----------------------------------------------------------------------------------------
    dim : int
        Embedding dimension d.
    temperature : float, default 0.07
        tau (ImageNet / VISSL fork: 0.1).
    out_dim : int, default 128
        Output width of both heads.
    probe : {"linear", "mlp"}, default "linear"
        Family of the student head h: ``"linear"`` = Linear(d, out_dim) + BN (affine);
        ``"mlp"`` = MLP with ``probe_hidden_dim`` x ``probe_n_hidden`` (2048 x 2) + BN, mirroring an
        MLP probe (Fig. 7c, "CISSL_MLP").
    teacher_hidden_dim : int, default 1024
        Width of the teacher g: Linear(d, 1024) -> BN -> ReLU -> Linear(1024, out_dim) -> BN.
    teacher_n_hidden : int, default 1
    probe_hidden_dim : int, default 2048
    probe_n_hidden : int, default 2
    gather : bool, default True
        Candidates (and head batch-norm statistics) from all processes under ``torch.distributed``.

    Logs: ``loss``; ``I_q_zm`` = log(#candidates) - loss (the original's monitored bound);
    ``n_candidates``; ``temperature``.

    Examples
    --------
    >>> obj = build("cissl", dim=64, out_dim=32, teacher_hidden_dim=128)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)])
    >>> out.loss.backward()
    """

    n_global = 2

    def __init__(
        self,
        dim: int,
        temperature: float = 0.07,
        out_dim: int = 128,
        probe: str = "linear",
        teacher_hidden_dim: int = 1024,
        teacher_n_hidden: int = 1,
        probe_hidden_dim: int = 2048,
        probe_n_hidden: int = 2,
        gather: bool = True,
    ):
        super().__init__(dim)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if probe not in HEAD_KINDS:
            raise ValueError(f"probe must be one of {HEAD_KINDS}, got {probe!r}")
        self.temperature = float(temperature)
        self.probe = probe
        self.gather = bool(gather)
        self.student = probe_head(
            probe,
            dim,
            out_dim,
            mlp_hidden_dim=probe_hidden_dim,
            mlp_n_hidden=probe_n_hidden,
            out_norm=True,
            gather=gather,
        )
        self.teacher = MLP(
            dim, out_dim, hidden_dim=teacher_hidden_dim, n_hidden=teacher_n_hidden, out_norm=True, gather=gather
        )

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        v = len(views)
        z = torch.cat(views, 0)
        s = [gather(x, self.gather) for x in self.student(z).chunk(v)]
        t = [gather(x, self.gather) for x in self.teacher(z).chunk(v)]
        loss = cissl_loss(s, t, self.temperature)
        n_cand = v * s[0].shape[0]
        return ObjectiveOutput(
            loss,
            {
                "loss": loss.detach(),
                "I_q_zm": math.log(n_cand) - loss.detach(),
                "n_candidates": float(n_cand),
                "temperature": self.temperature,
            },
        )
