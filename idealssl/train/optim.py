"""Optimisers the trainer offers beyond torch's: LARS.

LARS (You, Gitman, Ginsburg 2017, "Large Batch Training of Convolutional Networks"), as used by the
large-batch SSL recipes (SimCLR, BYOL, Barlow Twins, VICReg): SGD with momentum in which each weight
tensor's update is scaled by a layer-wise trust ratio

.. math:: \\eta\\,\\frac{\\lVert w \\rVert}{\\lVert g + \\lambda w \\rVert}

(1 when either norm is 0), the weight decay λ being added to the gradient first. Biases and
normalisation parameters (every tensor with one dimension) are excluded from both the weight decay and
the adaptation, as in those recipes (their ``exclude_bias_and_norm``); they take plain SGD-momentum steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["LARS"]


class LARS(torch.optim.Optimizer):
    """LARS with momentum; ``eta`` is the trust coefficient (0.001 in the original, 0.02 in Barlow Twins)."""

    def __init__(
        self, params: Iterable, lr: float = 0.1, weight_decay: float = 0.0, momentum: float = 0.9, eta: float = 0.001
    ):
        if lr < 0 or weight_decay < 0 or not 0 <= momentum < 1 or eta <= 0:
            raise ValueError(f"LARS: bad lr={lr}, weight_decay={weight_decay}, momentum={momentum} or eta={eta}")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:  # weights: decay and trust ratio; biases and norms (1-d) excluded
                    if g["weight_decay"]:
                        d = d.add(p, alpha=g["weight_decay"])
                    wn, dn = torch.linalg.vector_norm(p), torch.linalg.vector_norm(d)
                    ratio = torch.where((wn > 0) & (dn > 0), g["eta"] * wn / dn, torch.ones_like(wn))
                    d = d.mul(ratio)
                if g["momentum"]:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = d.clone()
                    else:
                        buf.mul_(g["momentum"]).add_(d)
                    d = buf
                p.add_(d, alpha=-g["lr"])
        return loss
