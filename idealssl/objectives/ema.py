"""The one EMA updater of the package: objectives' teacher heads (BYOL, DINO) and the trainers' EMA
backbone (:mod:`idealssl.step`, used by ``idealssl train`` and the synthetic trainer).

Buffers are copied from the online network (one documented choice, for every caller). Parameters are
averaged, ``target <- m * target + (1 - m) * online``; buffers (BatchNorm running mean/variance and
``num_batches_tracked``) are set to the online network's. Why: the teacher's forward passes run in
training mode, where BatchNorm normalises with the batch's own statistics, so its running statistics
never shape the loss; they only matter when the teacher is used in eval mode (evaluation, export, a
k-NN monitor on the teacher). A teacher whose buffers are left alone then normalises with statistics
that either were never updated (a teacher run under ``eval()`` or never run keeps BatchNorm's
initial mean 0 / variance 1) or describe a different network. The online network's running
statistics are themselves an exponential average of the batch statistics the (nearby) online
weights produced, so copying them is the closest cheap estimate for the averaged weights; averaging
them a second time would only add lag (and is meaningless for the integer ``num_batches_tracked``).
The trainers' EMA backbone and the objectives' teacher heads (BYOL, DINO) follow the same rule; for the heads it
changes no loss, since their teachers run in training mode.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["cosine_momentum", "frozen_copy", "ema_update_"]


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
    """``target <- momentum * target + (1 - momentum) * online`` for parameters; buffers copied from
    ``online`` (see the module docstring for why)."""
    for pt, po in zip(target.parameters(), online.parameters(), strict=True):
        pt.mul_(momentum).add_(po.detach(), alpha=1.0 - momentum)
    for bt, bo in zip(target.buffers(), online.buffers(), strict=True):
        bt.copy_(bo)
