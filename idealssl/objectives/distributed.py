"""Distributed gathering, implemented once for every objective.

Losses that couple the samples of a batch (contrastive negatives, DISSL's marginal, SwAV's
Sinkhorn, VICReg/Barlow statistics, DINO's centre, batch-norm statistics inside the heads) must, under
data parallelism with W processes each holding B/W samples, give the value and the parameter
gradients of one process holding the full batch. This module provides the three pieces they need:

:func:`gather`
    ``all_gather`` **with gradient**. Forward: concatenate the local tensors of all ranks (rank order).
    Backward: ``all_reduce(SUM)`` of the incoming gradient, then the slice of this rank.

:func:`all_reduce_mean`
    average of a tensor over ranks without gradient (EMA statistics: DINO's centre, DISSL's marginal EMA).

:class:`BatchNorm1d`
    batch normalisation whose training statistics are those of the gathered batch
    (``torch.nn.SyncBatchNorm`` needs a GPU; this one works on CPU with gloo as well).

Why the backward sums (and why that is exact)
---------------------------------------------
Every objective computes its loss from gathered tensors, so all W ranks hold the *same* scalar L,
the full-batch loss. On rank k autograd only reaches the local leaves. By induction over the graph
in reverse order: the sum over ranks of the adjoint held for a replicated (gathered) tensor is W times
its true full-batch adjoint, and the adjoint of a local tensor is W times its true adjoint. The SUM in
the backward of :func:`gather` preserves this invariant. Hence every parameter gradient on rank k is W
times rank k's share of the full-batch gradient, and the averaging done by
``DistributedDataParallel`` (divide by W after summing) returns exactly the full-batch gradient.
A backward that only slices (no reduction) would give 1/W of it, the bug reported in lightly #1977.
Per-sample losses whose batch mean is taken locally satisfy the same invariant (L = mean over ranks
of the local means), but objectives here gather the per-sample values too, so that the reported value
is the full-batch value on every rank.

All ranks must hold the same local batch size (``drop_last=True`` in the sampler).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["is_distributed", "world_size", "rank", "gather", "all_reduce_mean", "BatchNorm1d"]


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available and initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """Rank of this process (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.batch = x.shape[0]
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        r = dist.get_rank()
        return grad[r * ctx.batch : (r + 1) * ctx.batch]


def gather(x: torch.Tensor, enabled: bool = True) -> torch.Tensor:
    """Concatenate ``x`` (shape (b, ...)) over all ranks along dim 0, with gradient.

    Parameters
    ----------
    x : torch.Tensor
        Local tensor; every rank must pass the same shape.
    enabled : bool
        When False, or when not distributed, ``x`` is returned unchanged.

    Returns
    -------
    torch.Tensor
        Shape (W*b, ...), rank 0's rows first. Differentiable (see the module notes for the
        gradient convention, which makes DDP's averaged gradients equal the full-batch ones).
    """
    if not enabled or not is_distributed():
        return x
    if x.requires_grad and torch.is_grad_enabled():
        return _GatherWithGrad.apply(x)
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


@torch.no_grad()
def all_reduce_mean(x: torch.Tensor, enabled: bool = True) -> torch.Tensor:
    """Average of ``x`` over ranks (no gradient). Identity when not distributed or ``enabled=False``."""
    if not enabled or not is_distributed():
        return x
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y / dist.get_world_size()


class BatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` whose training statistics are computed over the gathered batch.

    In training mode with ``torch.distributed`` initialised and ``gather=True``, the mean and the
    (biased) variance used for normalisation are those of the concatenation of all ranks' batches,
    with gradient (:func:`gather`), and the running statistics receive the same update on every rank
    (unbiased variance, as PyTorch does). Otherwise it is exactly ``nn.BatchNorm1d``. Inputs of
    shape (N, C) only.
    """

    def __init__(self, num_features: int, *args, gather: bool = True, **kwargs):
        super().__init__(num_features, *args, **kwargs)
        self.gather = gather

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.gather and is_distributed()):
            return super().forward(x)
        if x.dim() != 2:
            raise ValueError(f"BatchNorm1d expects (N, C) inputs, got shape {tuple(x.shape)}")
        xa = gather(x)
        mean = xa.mean(0)
        var = xa.var(0, unbiased=False)
        n = xa.shape[0]
        tracked, running_mean, running_var = self.num_batches_tracked, self.running_mean, self.running_var
        if self.track_running_stats and running_mean is not None and running_var is not None and tracked is not None:
            with torch.no_grad():
                tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(tracked)
                running_mean.mul_(1 - m).add_(m * mean.detach())
                running_var.mul_(1 - m).add_(m * var.detach() * n / max(n - 1, 1))
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        return y


def batch_norm_no_affine(x: torch.Tensor, eps: float = 1e-5, gather_stats: bool = True) -> torch.Tensor:
    """Standardise the columns of ``x`` with the (gathered) batch mean and biased variance, no affine.

    Equals ``F.batch_norm(x, None, None, training=True, eps=eps)`` on the full batch.
    """
    xa = gather(x, gather_stats)
    mean = xa.mean(0)
    var = xa.var(0, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)
