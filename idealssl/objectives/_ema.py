"""EMA teachers and momentum schedules shared by BYOL and DINO."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn


def cosine_momentum(base: float, step: int, total_steps: int, final: float = 1.0) -> float:
    """Cosine schedule from ``base`` at step 0 to ``final`` at ``total_steps`` (BYOL Sec. 3.2; DINO).

    .. math:: \\tau_k = \\tau_{\\infty} - (\\tau_{\\infty} - \\tau_0)\\,(\\cos(\\pi k/K) + 1)/2
    """
    if total_steps <= 0:
        return float(base)
    k = min(max(int(step), 0), int(total_steps))
    return float(final - (final - base) * (math.cos(math.pi * k / total_steps) + 1) / 2)


def frozen_copy(module: nn.Module) -> nn.Module:
    """Deep copy of ``module`` with gradients disabled (the EMA teacher's initial state)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, for parameters.

    Buffers (batch-norm running statistics) are the teacher's own, updated by its forward passes, as in
    BYOL and DINO.
    """
    for pt, po in zip(target.parameters(), online.parameters()):
        pt.mul_(momentum).add_(po.detach(), alpha=1.0 - momentum)
