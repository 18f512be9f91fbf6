"""DINO: self-distillation with an EMA teacher, centring and sharpening."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import BatchNorm1d, gather
from .ema import cosine_momentum, ema_update_, frozen_copy
from .functional import entropy

__all__ = ["DINO", "DINOHead", "dino_loss", "teacher_probs", "updated_center"]


@float32_loss
def teacher_probs(teacher_out: torch.Tensor, center: torch.Tensor, temperature: float) -> torch.Tensor:
    """Centred and sharpened teacher distribution :math:`\\mathrm{softmax}((g_t(z) - c)/\\tau_t)` (float32)."""
    return ((teacher_out.float() - center.float()) / temperature).softmax(-1)


@float32_loss
def dino_loss(
    student_out: Sequence[torch.Tensor], teacher_p: Sequence[torch.Tensor], student_temperature: float
) -> torch.Tensor:
    """DINO cross-entropy between teacher views and all other student views.

    Parameters
    ----------
    student_out : sequence of V tensors (N, K)
        Student head outputs of all views (globals first).
    teacher_p : sequence of T tensors (N, K)
        Teacher probabilities of the T global views (:func:`teacher_probs`, no gradient).
    student_temperature : float

    Returns
    -------
    torch.Tensor
        .. math:: \\mathcal L = \\frac{1}{|\\{(t, v): v \\ne t\\}|} \\sum_{t} \\sum_{v \\ne t}
           \\frac1N \\sum_n -\\sum_k P_t^{(n)}[k] \\log \\mathrm{softmax}(g_s(z_v^{(n)})/\\tau_s)[k]

        (Caron et al. 2021, Eq. 3 with multi-crop; ``DINOLoss`` of the original code).
    """
    terms = [
        -(q * F.log_softmax(s.float() / student_temperature, dim=-1)).sum(-1).mean()
        for t, q in enumerate(teacher_p)
        for v, s in enumerate(student_out)
        if v != t
    ]
    if not terms:
        raise ValueError("DINO needs at least 2 views")
    return torch.stack(terms).mean()


@float32_loss
def updated_center(center: torch.Tensor, teacher_out: Sequence[torch.Tensor], momentum: float) -> torch.Tensor:
    """Centre EMA over the (gathered) batch:
    :math:`c \\leftarrow m c + (1-m)\\, \\mathrm{mean}_{t,n}\\, g_t(z_t^{(n)})`."""
    batch_center = torch.cat([x.float() for x in teacher_out], 0).mean(0)
    return center * momentum + batch_center * (1 - momentum)


class DINOHead(nn.Module):
    """DINO projection head: MLP (GELU, no BN by default) -> bottleneck -> L2-normalise -> weight-normalised
    linear layer without bias whose rows have unit norm (``norm_last_layer=True``)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int = 65536,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        n_layers: int = 3,
        use_bn: bool = False,
        gather: bool = True,
    ):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(n_layers - 1):
            layers.append(nn.Linear(d, hidden_dim))
            if use_bn:
                layers.append(BatchNorm1d(hidden_dim, gather=gather))
            layers.append(nn.GELU())
            d = hidden_dim
        layers.append(nn.Linear(d, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_layer = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        nn.init.trunc_normal_(self.last_layer, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(x), dim=-1)
        return F.linear(x, F.normalize(self.last_layer, dim=1))


@register("dino")
class DINO(Objective):
    """DINO (Caron, Touvron, Misra, Jegou, Mairal, Bojanowski, Joulin, ICCV 2021, "Emerging Properties in
    Self-Supervised Vision Transformers"; code: github.com/facebookresearch/dino ``main_dino.py``).

    A student head g_s on the online embeddings of all V views; a teacher head g_t (EMA of g_s) on the
    EMA backbone's embeddings of the T global views (``targets``; ``momentum_backbone = True``). The
    teacher is centred and sharpened, P_t = softmax((g_t(z_t) - c)/tau_t), and the student matches it
    across views:

    .. math:: \\mathcal L = \\mathrm{mean}_{t \\ne v}\\, \\frac1N \\sum_n
       -P_t^{(n)} \\cdot \\log \\mathrm{softmax}(g_s(z_v^{(n)})/\\tau_s),
       \\qquad c \\leftarrow m c + (1-m)\\,\\overline{g_t(z_t)}

    with the centre over the whole gathered batch and the stop-gradient on the teacher. The teacher
    temperature warms up linearly from ``warmup_teacher_temp`` to ``teacher_temp``; the EMA coefficient
    follows a cosine from ``momentum_teacher`` to 1 (:meth:`momentum`, also used for the trainer's EMA
    backbone). Maximality is implicit (centring); the student head is non-linear, unlike DISSL's.
    Pure functions: :func:`dino_loss`, :func:`teacher_probs`, :func:`updated_center`.

    Parameters (defaults of ``main_dino.py``)
    --------------------------------------
    dim : int
    out_dim : int, default 65536
        K, the number of prototypes.
    hidden_dim : int, default 2048
    bottleneck_dim : int, default 256
    n_layers : int, default 3
    use_bn : bool, default False
        Batch norm in the head's hidden layers (``--use_bn_in_head``; helps small problems).
    student_temp : float, default 0.1
    teacher_temp : float, default 0.04
    warmup_teacher_temp : float, default 0.04
    warmup_teacher_temp_frac : float, default 0.0
        Fraction of the total steps over which the teacher temperature warms up (the original counts
        30 epochs when used).
    center_momentum : float, default 0.9
    momentum_teacher : float, default 0.996
    freeze_last_layer_steps : int, default 0
        Steps during which the last layer receives no gradient (the original: 1 epoch).
    gather : bool, default True
        Centre over all processes under ``torch.distributed``.

    ``forward(views, targets)``: ``targets`` (required) = EMA-backbone embeddings of the first
    ``n_global`` views. Logs: ``loss``, ``teacher_temp``, ``H_teacher`` (mean entropy of P_t),
    ``H_teacher_marginal`` (entropy of the batch mean of P_t; collapse shows as both -> 0 or both -> log K).

    Examples
    --------
    >>> obj = build("dino", dim=64, out_dim=256, hidden_dim=128, bottleneck_dim=32)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)], targets=[torch.randn(16, 64), torch.randn(16, 64)])
    >>> out.loss.backward(); obj.update(step=0, total_steps=1000)
    """

    # buffers (register_buffer in __init__)
    center: torch.Tensor
    step: torch.Tensor
    total_steps: torch.Tensor

    momentum_backbone = True
    n_global = 2

    def __init__(  # noqa: PLR0913  (one keyword per published hyperparameter)
        self,
        dim: int,
        out_dim: int = 65536,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        n_layers: int = 3,
        use_bn: bool = False,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        warmup_teacher_temp: float = 0.04,
        warmup_teacher_temp_frac: float = 0.0,
        center_momentum: float = 0.9,
        momentum_teacher: float = 0.996,
        freeze_last_layer_steps: int = 0,
        gather: bool = True,
    ):
        super().__init__(dim)
        for k, v in dict(
            student_temp=student_temp, teacher_temp=teacher_temp, warmup_teacher_temp=warmup_teacher_temp
        ).items():
            if v <= 0:
                raise ValueError(f"{k} must be > 0, got {v}")
        if not 0.0 <= momentum_teacher <= 1.0 or not 0.0 <= center_momentum <= 1.0:
            raise ValueError("momenta must be in [0, 1]")
        self.student_temp = float(student_temp)
        self.teacher_temp = float(teacher_temp)
        self.warmup_teacher_temp = float(warmup_teacher_temp)
        self.warmup_teacher_temp_frac = float(warmup_teacher_temp_frac)
        self.center_momentum = float(center_momentum)
        self.momentum_teacher = float(momentum_teacher)
        self.freeze_last_layer_steps = int(freeze_last_layer_steps)
        self.gather = bool(gather)
        self.student = DINOHead(dim, out_dim, hidden_dim, bottleneck_dim, n_layers, use_bn, gather)
        self.teacher = frozen_copy(self.student)
        self.register_buffer("center", torch.zeros(out_dim))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("total_steps", torch.zeros((), dtype=torch.long))
        self.student.last_layer.register_hook(self._freeze_hook)

    def _freeze_hook(self, grad: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad) if int(self.step) < self.freeze_last_layer_steps else grad

    def current_teacher_temp(self) -> float:
        """Linear warm-up from ``warmup_teacher_temp`` to ``teacher_temp`` over the warm-up steps
        W = floor(frac T): τ_t(k) = τ_w + (τ_t − τ_w) k / W for k < W, then τ_t (``main_dino.py``'s schedule).

        The step k and the total T are those recorded by the last :meth:`update`; before the first one (k = 0, T
        not yet known) a run with a warm-up uses its start τ_w, the value of step 0 whenever W >= 1.
        """
        k = int(self.step)
        if k == 0 and self.warmup_teacher_temp_frac > 0:
            return self.warmup_teacher_temp
        warm = int(self.warmup_teacher_temp_frac * int(self.total_steps))
        if warm <= 0 or k >= warm:
            return self.teacher_temp
        return self.warmup_teacher_temp + (self.teacher_temp - self.warmup_teacher_temp) * k / warm

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        t = self.n_global
        if targets is None or len(targets) != t:
            raise ValueError(f"dino: targets must be the EMA backbone's embeddings of the {t} global views")
        s = self.student(torch.cat(views, 0)).chunk(len(views))
        with torch.no_grad():
            to = [gather(x, self.gather) for x in self.teacher(torch.cat(list(targets), 0)).chunk(t)]
            temp = self.current_teacher_temp()
            q = [teacher_probs(x, self.center, temp) for x in to]
        s = [gather(x, self.gather) for x in s]
        loss = dino_loss(s, q, self.student_temp)
        with torch.no_grad():
            if self.training:
                self.center.copy_(updated_center(self.center, to, self.center_momentum))
            qa = torch.cat(q, 0)
            logs = {
                "loss": loss.detach(),
                "teacher_temp": temp,
                "H_teacher": entropy(qa).mean(),
                "H_teacher_marginal": entropy(qa.mean(0)),
            }
        return ObjectiveOutput(loss, logs)

    def momentum(self, step: int, total_steps: int) -> float:
        """Cosine from ``momentum_teacher`` to 1 (teacher head and EMA backbone)."""
        return cosine_momentum(self.momentum_teacher, step, total_steps)

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """EMA update of the teacher head; record the step for the temperature and freezing schedules."""
        ema_update_(self.teacher, self.student, self.momentum(step, total_steps))
        self.step.fill_(int(step) + 1)
        self.total_steps.fill_(int(total_steps))
