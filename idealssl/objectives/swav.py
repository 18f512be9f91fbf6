"""SwAV: swapped prediction of Sinkhorn-Knopp cluster assignments over learned prototypes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .functional import entropy
from .heads import MLP

__all__ = ["SwAV", "sinkhorn", "swapped_prediction_loss"]


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, n_iters: int = 3) -> torch.Tensor:
    """Sinkhorn-Knopp equipartition of N samples over K prototypes (SwAV Sec. 3.1, Eq. 3 and App. A.1).

    Parameters
    ----------
    scores : (N, K) tensor
        Prototype scores z_n . c_k of the whole (gathered) batch.
    epsilon : float
        Entropic regularisation; the kernel is exp(scores / epsilon).
    n_iters : int
        Alternating normalisations (rows over prototypes to 1/K, columns over samples to 1/N).

    Returns
    -------
    (N, K) tensor
        Codes Q whose rows sum to 1 (each sample a distribution over prototypes); at convergence every
        prototype receives mass N/K. Computed in float64 with the maximum subtracted (same result as the
        original's ``exp(out / eps)``, without overflow).
    """
    s = scores.detach().double() / epsilon
    q = torch.exp(s - s.max()).T  # (K, N)
    k, n = q.shape
    q /= q.sum()
    for _ in range(n_iters):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= n
    q *= n
    return q.T.to(scores.dtype if scores.is_floating_point() else torch.float32)


@float32_loss
def swapped_prediction_loss(
    scores: Sequence[torch.Tensor], codes: Sequence[torch.Tensor], temperature: float
) -> torch.Tensor:
    """SwAV's swapped prediction: the code of assignment view a is predicted from every other view v.

    .. math:: \\mathcal L = \\frac{1}{A}\\sum_{a} \\frac{1}{V-1}\\sum_{v \\ne a}
       \\frac1N\\sum_n -\\sum_k q_a^{(n)}[k] \\log \\mathrm{softmax}(z_v^{(n)\\top} C / \\tau)[k]

    Parameters
    ----------
    scores : V tensors (N, K)
        Prototype scores of all views (with gradient).
    codes : A tensors (N, K)
        Sinkhorn codes of the first A views (no gradient).
    """
    v = len(scores)
    if v < 2:
        raise ValueError("SwAV needs at least 2 views")
    out = []
    for a, q in enumerate(codes):
        sub = [-(q * F.log_softmax(scores[j].float() / temperature, dim=-1)).sum(-1).mean() for j in range(v) if j != a]
        out.append(torch.stack(sub).mean())
    return torch.stack(out).mean()


@register("swav")
class SwAV(Objective):
    """SwAV (Caron, Misra, Mairal, Goyal, Bojanowski, Joulin, NeurIPS 2020, "Unsupervised Learning of
    Visual Features by Contrasting Cluster Assignments"; code: github.com/facebookresearch/swav
    ``main_swav.py``).

    Head h: MLP then L2 normalisation, z = h(phi(x))/||h||; prototypes C (K unit vectors, renormalised
    after each optimiser step in :meth:`update`). For each assignment view a (the first
    ``n_global``), codes q_a = Sinkhorn(z_a C^T) over the whole gathered batch (and the queue, when
    used), no gradient; every other view predicts them (multi-crop: local views only predict):

    .. math:: \\mathcal L = \\mathrm{mean}_a\\, \\mathrm{mean}_{v \\ne a}\\,
       \\frac1N \\sum_n -q_a^{(n)} \\cdot \\log \\mathrm{softmax}(z_v^{(n)} C^\\top/\\tau)

    The equipartition constraint is the implicit maximality term (Dubois et al. 2022, App. D); the head
    is non-linear on both branches. Pure functions: :func:`sinkhorn`, :func:`swapped_prediction_loss`.

    Parameters (defaults of ``main_swav.py``)
    --------------------------------------
    dim : int
    hidden_dim : int, default 2048
    out_dim : int, default 128
        Feature dimension of z.
    n_prototypes : int, default 3000
    temperature : float, default 0.1
    epsilon : float, default 0.05
    sinkhorn_iterations : int, default 3
    freeze_prototypes_steps : int, default 313
        Steps during which the prototypes get no gradient.
    queue_length : int, default 0
        Embeddings of past batches (per assignment view) prepended to the Sinkhorn input; 0 = no queue.
    queue_start_step : int, default 0
        Step from which a filled queue is used.
    gather : bool, default True
        Sinkhorn (and head batch-norm statistics) over all processes under ``torch.distributed``.

    Logs: ``loss``, ``H_codes`` (mean entropy of the codes), ``H_pred_marginal`` (entropy of the batch
    mean of the predicted assignment).

    Examples
    --------
    >>> obj = build("swav", dim=64, hidden_dim=128, out_dim=32, n_prototypes=50)
    >>> out = obj([torch.randn(16, 64) for _ in range(4)])   # 2 global + 2 local crops
    >>> out.loss.backward(); obj.update(step=0, total_steps=1000)
    """

    # buffers (register_buffer in __init__)
    step: torch.Tensor
    queue: torch.Tensor
    queue_filled: torch.Tensor

    n_global = 2

    def __init__(  # noqa: PLR0913  (one keyword per published hyperparameter)
        self,
        dim: int,
        hidden_dim: int = 2048,
        out_dim: int = 128,
        n_prototypes: int = 3000,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        freeze_prototypes_steps: int = 313,
        queue_length: int = 0,
        queue_start_step: int = 0,
        gather: bool = True,
    ):
        super().__init__(dim)
        if temperature <= 0 or epsilon <= 0:
            raise ValueError("temperature and epsilon must be > 0")
        if queue_length < 0:
            raise ValueError(f"queue_length must be >= 0, got {queue_length}")
        self.temperature = float(temperature)
        self.epsilon = float(epsilon)
        self.sinkhorn_iterations = int(sinkhorn_iterations)
        self.freeze_prototypes_steps = int(freeze_prototypes_steps)
        self.queue_length = int(queue_length)
        self.queue_start_step = int(queue_start_step)
        self.gather = bool(gather)
        self.head = MLP(dim, out_dim, hidden_dim=hidden_dim, n_hidden=1, gather=gather)
        self.prototypes = nn.Linear(out_dim, n_prototypes, bias=False)
        self.normalize_prototypes()
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue", torch.zeros(self.n_global, self.queue_length, out_dim))
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))
        self.prototypes.weight.register_hook(self._freeze_hook)

    def _freeze_hook(self, grad: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad) if int(self.step) < self.freeze_prototypes_steps else grad

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        """Project the prototypes back to the unit sphere (done after every optimiser step)."""
        self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))

    def _use_queue(self) -> bool:
        return (
            self.queue_length > 0
            and int(self.step) >= self.queue_start_step
            and int(self.queue_filled) >= self.queue_length
        )

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        v, a = len(views), self.n_global
        h = F.normalize(self.head(torch.cat(views, 0)), dim=1)
        z = [gather(x, self.gather) for x in h.chunk(v)]
        scores = [self.prototypes(x) for x in z]
        n = z[0].shape[0]
        codes = []
        use_queue = self._use_queue()
        with torch.no_grad():
            for i in range(a):
                s = scores[i].detach()
                if use_queue:
                    s = torch.cat([self.prototypes(self.queue[i]), s], 0)
                codes.append(sinkhorn(s, self.epsilon, self.sinkhorn_iterations)[-n:])
        loss = swapped_prediction_loss(scores, codes, self.temperature)
        with torch.no_grad():
            if self.training and self.queue_length > 0:
                for i in range(a):
                    self.queue[i] = torch.cat([z[i].detach(), self.queue[i]], 0)[: self.queue_length]
                self.queue_filled.add_(n)
            pred = torch.cat([F.softmax(s.float() / self.temperature, -1) for s in scores], 0)
            logs = {
                "loss": loss.detach(),
                "H_codes": entropy(torch.cat(codes, 0).float()).mean(),
                "H_pred_marginal": entropy(pred.mean(0)),
            }
        return ObjectiveOutput(loss, logs)

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """Renormalise the prototypes and record the step (prototype freezing, queue start)."""
        self.normalize_prototypes()
        self.step.fill_(int(step) + 1)
