"""DISSL: distillation ISSL (Dubois et al. 2022, Sec. 4.2, Eq. 9, Algorithm 1)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from .base import Objective, ObjectiveOutput, float32_loss, register
from .defaults import DISSL as DEFAULTS
from .distributed import gather
from .functional import entropy
from .heads import HEAD_KINDS, MLP, probe_head

__all__ = ["DISSL", "dissl_loss", "maximality", "det_inv", "distillation", "entropy"]


@float32_loss
def maximality(
    teacher_probs: Sequence[torch.Tensor], ema_marginal: torch.Tensor | None = None, ema_momentum: float = 0.0
) -> torch.Tensor:
    """Maximality term: mean over teacher views i of H(M^_i), the entropy of the teacher's marginal.

    The marginal of view i is the batch mean :math:`\\bar p_i = \\frac1N \\sum_n p_i(\\cdot|z_n)`
    (pass gathered probabilities for the whole distributed batch). With ``ema_marginal`` (a detached
    running estimate) it is :math:`m\\,\\hat p + (1-m)\\,\\bar p_i`, m = ``ema_momentum`` (the optional
    marginal EMA of the VISSL implementation). Maximising it equals minimising
    KL(p(M^) || Unif) = log C' - H(M^).
    """
    hs = []
    for p in teacher_probs:
        pm = p.mean(0)
        if ema_marginal is not None:
            pm = ema_momentum * ema_marginal.to(pm) + (1.0 - ema_momentum) * pm
        hs.append(entropy(pm))
    return torch.stack(hs).mean()


@float32_loss
def det_inv(teacher_probs: Sequence[torch.Tensor], teacher_log_probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Determinism + invariance term: mean over ordered teacher-view pairs i != j of CE(p_i, p_j).

    :math:`\\mathrm{CE}(p_i, p_j) = \\frac1N \\sum_n -\\sum_m p_i(m|z_n) \\log p_j(m|z_n)
    = \\mathrm{KL}(p_i \\| p_j) + H(p_i)`: small iff the teacher is invariant across views and
    deterministic. No stop-gradient on either side (as in the original).
    """
    ces = [
        -(p * lq).sum(-1).mean()
        for i, p in enumerate(teacher_probs)
        for j, lq in enumerate(teacher_log_probs)
        if i != j
    ]
    if not ces:
        raise ValueError("det_inv needs at least 2 teacher views")
    return torch.stack(ces).mean()


@float32_loss
def distillation(teacher_probs: Sequence[torch.Tensor], student_log_probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Distillation term: mean over pairs (teacher view i, student view j), i != j, of CE(p_i, s_j).

    Student view j is the j-th view (teacher views are the first ``len(teacher_probs)`` views). The
    teacher is **not** detached: CE(p, s) = KL(p || s) + H(p), so this term also pushes determinism
    (the original's "effective beta is 1 + beta_det_inv").
    """
    ces = [
        -(p * ls).sum(-1).mean()
        for i, p in enumerate(teacher_probs)
        for j, ls in enumerate(student_log_probs)
        if i != j
    ]
    if not ces:
        raise ValueError("distillation needs at least 2 views")
    return torch.stack(ces).mean()


@float32_loss
def dissl_loss(
    teacher_logits: Sequence[torch.Tensor],
    student_logits: Sequence[torch.Tensor],
    lambda_maximality: float = 2.3,
    beta_det_inv: float = 0.8,
    teacher_temperature: float = 0.5,
    student_temperature: float = 1.0,
    ema_marginal: torch.Tensor | None = None,
    ema_momentum: float = 0.0,
) -> tuple[torch.Tensor, dict]:
    """The DISSL loss from raw head outputs.

    Parameters
    ----------
    teacher_logits : sequence of T tensors (N, C')
        Teacher head outputs T(z) of the first T views (the global crops).
    student_logits : sequence of V >= T tensors (N, C')
        Student head outputs S(z) of all V views.

    Returns
    -------
    loss : torch.Tensor
        .. math:: \\mathcal L = \\underbrace{\\mathrm{mean}_{i \\ne j}\\, \\mathrm{CE}(p_i, s_j)}_{\\text{distillation}}
           \\;-\\; \\lambda\\, \\underbrace{\\mathrm{mean}_i\\, H(\\bar p_i)}_{\\text{maximality}}
           \\;+\\; \\beta\\, \\underbrace{\\mathrm{mean}_{i \\ne j}\\, \\mathrm{CE}(p_i, p_j)}_{\\text{det.+inv.}}

        with p_i = softmax(T(z_i)/tau_t), s_j = softmax(S(z_j)/tau_s), all in float32.
    terms : dict
        ``CE_distill``, ``H_M``, ``CE_det_inv`` (with gradient), ``teacher_probs`` (list).
    """
    if len(teacher_logits) < 2 or len(student_logits) < len(teacher_logits):
        raise ValueError("DISSL needs >= 2 teacher views and at least as many student views")
    tl = [x.float() / teacher_temperature for x in teacher_logits]
    sl = [x.float() / student_temperature for x in student_logits]
    p = [x.softmax(-1) for x in tl]
    logp = [x.log_softmax(-1) for x in tl]
    logs_ = [x.log_softmax(-1) for x in sl]
    ce_distill = distillation(p, logs_)
    h_m = maximality(p, ema_marginal, ema_momentum)
    ce_det_inv = det_inv(p, logp)
    loss = ce_distill - lambda_maximality * h_m + beta_det_inv * ce_det_inv
    return loss, {
        "CE_distill": ce_distill,
        "H_M": h_m,
        "CE_det_inv": ce_det_inv,
        "teacher_probs": p,
        "student_log_probs": logs_,
    }


@register("dissl")
class DISSL(Objective):
    """DISSL (Dubois, Hashimoto, Ermon, Liang, NeurIPS 2022, "Improving Self-Supervised Learning by
    Characterizing Idealized Representations", Sec. 4.2, Eq. 9; code:
    github.com/YannDubs/Invariant-Self-Supervised-Learning ``issl/losses/dissl.py`` and the VISSL fork
    ``vissl/losses/dstl_issl_loss.py``).

    A teacher p(M^|z) = softmax(T(z)/tau_t) over C' categories estimates the maximal invariant M(X): it
    must be deterministic, invariant and maximal (theory/objectives.md). Its labels are distilled into a
    student s(M^|z) = softmax(S(z)/tau_s) whose head S is in the probe family (linear by default), so
    that M^ becomes predictable from phi(x) by the downstream probe. With views i, j of each sample
    (teacher on the first ``n_global`` views, student on all V views):

    .. math:: \\mathcal L = \\mathrm{mean}_{i \\ne j}\\, \\mathrm{CE}(p_i, s_j)
       - \\lambda\\, \\mathrm{mean}_i\\, H(\\bar p_i)
       + \\beta\\, \\mathrm{mean}_{i \\ne j}\\, \\mathrm{CE}(p_i, p_j)

    CE(p, q) = E_batch[-sum_m p_m log q_m]; p_bar_i = the teacher's marginal over the **whole gathered
    batch** (or, with ``marginal_ema``, m * EMA + (1 - m) * batch marginal, the VISSL option). No EMA
    teacher, no stop-gradient, no centring or Sinkhorn: maximality is the explicit marginal entropy,
    determinism + invariance the explicit teacher cross-view CE. Paper-to-code mapping: paper beta
    (maximality) = ``lambda_maximality``; paper alpha = ``beta_det_inv``. Pure functions:
    :func:`dissl_loss`, :func:`distillation`, :func:`maximality`, :func:`det_inv`.

    Parameters (defaults of the original TinyImageNet code, ``config/decodability/dissl.yaml``)
    ----------------------------------------------------------------------------------------
    dim : int
        Embedding dimension d.
    categories : int, default 16384
        C', the number of teacher categories (``n_equivalence_classes``). The former name ``n_classes``
        is still accepted (with a ``DeprecationWarning``) so that older run configurations resume.
    lambda_maximality : float, default 2.3
    beta_det_inv : float, default 0.8
        (VISSL ImageNet config: 0.6.)
    student_temperature : float, default 1.0
    teacher_temperature : float or None, default None
        None means student_temperature / 2 = 0.5, as in the original.
    probe : {"linear", "mlp"}, default "linear"
        Student head family: ``"linear"`` = Linear(d, bottleneck, bias=False) -> BN -> Linear(bottleneck,
        C') (low rank, still affine); ``"mlp"`` = MLP with ``probe_n_hidden`` hidden layers of
        ``probe_hidden_dim`` then the same low-rank last layer.
    teacher_hidden_dim : int, default 1024
        Teacher T: Linear(d, 1024) -> BN -> ReLU -> Linear(1024, bottleneck) -> BN -> Linear(bottleneck, C').
    teacher_n_hidden : int, default 1
    bottleneck : int or None, default 512
        Rank of both heads' last layer (None: full rank).
    probe_hidden_dim : int, default 2048
    probe_n_hidden : int, default 2
    marginal_ema : float or None, default None
        Momentum m of the optional marginal EMA (None: batch marginal only).
    marginal_ema_start : int, default 0
        Step (counted by ``update``) from which the EMA is used (VISSL: 5000).
    gather : bool, default True
        Marginal (and head batch-norm statistics) over all processes under ``torch.distributed``.

    Logs: ``loss``, ``H_M`` (maximality term, mean over views of H of the marginal), ``H_M_given_Z``
    (mean entropy of the teacher's conditionals), ``CE_distill``, ``CE_det_inv``, ``KL_invariance``
    (= CE_det_inv - H_M_given_Z), ``KL_distillation`` (same-view CE(p_i, s_i) - H_M_given_Z, monitor only).

    Examples
    --------
    >>> obj = build("dissl", dim=64, categories=128, teacher_hidden_dim=128, bottleneck=32)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)])
    >>> out.loss.backward(); out.logs["H_M"], out.logs["H_M_given_Z"]
    """

    # buffers (register_buffer in __init__)
    marginal: torch.Tensor
    step: torch.Tensor

    n_global = 2

    def __init__(  # noqa: PLR0913  (one keyword per published hyperparameter)
        self,
        dim: int,
        categories: int = DEFAULTS.categories,
        lambda_maximality: float = DEFAULTS.lambda_maximality,
        beta_det_inv: float = DEFAULTS.beta_det_inv,
        student_temperature: float = DEFAULTS.student_temperature,
        teacher_temperature: float | None = None,
        probe: str = "linear",
        teacher_hidden_dim: int = 1024,
        teacher_n_hidden: int = 1,
        bottleneck: int | None = 512,
        probe_hidden_dim: int = 2048,
        probe_n_hidden: int = 2,
        marginal_ema: float | None = None,
        marginal_ema_start: int = 0,
        gather: bool = True,
        n_classes: int | None = None,
    ):
        super().__init__(dim)
        if n_classes is not None:
            warnings.warn(
                "dissl: n_classes is deprecated, use categories (C', the teacher's categories)",
                DeprecationWarning,
                stacklevel=3,
            )
            categories = n_classes
        if probe not in HEAD_KINDS:
            raise ValueError(f"probe must be one of {HEAD_KINDS}, got {probe!r}")
        teacher_temperature = student_temperature / 2 if teacher_temperature is None else teacher_temperature
        if student_temperature <= 0 or teacher_temperature <= 0:
            raise ValueError("temperatures must be > 0")
        if categories < 2:
            raise ValueError(f"categories must be >= 2, got {categories}")
        if marginal_ema is not None and not 0.0 <= marginal_ema < 1.0:
            raise ValueError(f"marginal_ema must be in [0, 1), got {marginal_ema}")
        self.categories = int(categories)
        self.lambda_maximality = float(lambda_maximality)
        self.beta_det_inv = float(beta_det_inv)
        self.student_temperature = float(student_temperature)
        self.teacher_temperature = float(teacher_temperature)
        self.probe = probe
        self.marginal_ema = marginal_ema
        self.marginal_ema_start = int(marginal_ema_start)
        self.gather = bool(gather)
        self.teacher = MLP(
            dim,
            categories,
            hidden_dim=teacher_hidden_dim,
            n_hidden=teacher_n_hidden,
            bottleneck=bottleneck,
            gather=gather,
        )
        self.student = probe_head(
            probe,
            dim,
            categories,
            bottleneck=bottleneck,
            mlp_hidden_dim=probe_hidden_dim,
            mlp_n_hidden=probe_n_hidden,
            gather=gather,
        )
        self.register_buffer("marginal", torch.full((categories,), 1.0 / categories))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def _ema_active(self) -> bool:
        return self.marginal_ema is not None and int(self.step) >= self.marginal_ema_start

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        v, t = len(views), self.n_global
        tl = [gather(x, self.gather) for x in self.teacher(torch.cat(views[:t], 0)).chunk(t)]
        sl = [gather(x, self.gather) for x in self.student(torch.cat(views, 0)).chunk(v)]
        ema = self._ema_active()
        loss, terms = dissl_loss(
            tl,
            sl,
            self.lambda_maximality,
            self.beta_det_inv,
            self.teacher_temperature,
            self.student_temperature,
            self.marginal if ema else None,
            self.marginal_ema if ema else 0.0,
        )
        p = terms["teacher_probs"]
        with torch.no_grad():
            if self.training and self.marginal_ema is not None:
                batch_m = torch.stack([x.mean(0) for x in p]).mean(0)
                m = self.marginal_ema if ema else 0.0
                self.marginal.copy_(m * self.marginal + (1 - m) * batch_m)
            h_mlz = torch.stack([entropy(x).mean() for x in p]).mean()
            ce_same = torch.stack([-(p[i] * terms["student_log_probs"][i]).sum(-1).mean() for i in range(t)]).mean()
        logs = {
            "loss": loss.detach(),
            "H_M": terms["H_M"].detach(),
            "H_M_given_Z": h_mlz,
            "CE_distill": terms["CE_distill"].detach(),
            "CE_det_inv": terms["CE_det_inv"].detach(),
            "KL_invariance": terms["CE_det_inv"].detach() - h_mlz,
            "KL_distillation": ce_same - h_mlz,
        }
        return ObjectiveOutput(loss, logs)

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """Record the step (the marginal EMA starts at ``marginal_ema_start``)."""
        self.step.fill_(int(step) + 1)
