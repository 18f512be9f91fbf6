"""One training step and its per-step schedules, shared by both trainers: ``idealssl train``
(:mod:`idealssl.train.loop`) and the synthetic trainer (:mod:`idealssl.synthetic.train`).

Order of one step ``t`` of ``T`` (as in DINO's ``train_one_epoch`` and the BYOL recipe)::

    lr of every scheduled group <- base_lr * schedules.lr[t]
    forward (under autocast when asked): views -> encoder -> objective (targets from the EMA backbone)
    check(loss)                       the caller's finiteness / stop test, before any state changes
    zero_grad, backward(loss + aux), clip the first group's gradients to ``grad_clip``, optimiser step
    objective.update(t, T)            teacher heads, centres, marginal EMAs, step counters
    EMA backbone <- ema_update_(EMA, online, schedules.momentum[t])

The objective's state for step t is final before anything reads the EMA coefficient for step t. The
relative order of the last two lines does not change any number for the registered objectives:
``objective.momentum(t, T)`` is a pure function of (t, T) (cosine schedules), and the EMA backbone and the
objective's own teachers are disjoint modules. Schedules are precomputed per step (DINO's ``main_dino.py``
builds its lr, weight decay and momentum schedules as arrays up front), so that a resumed run reads exactly
the values of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .objectives.ema import ema_update_

__all__ = ["Forward", "warmup_cosine", "Schedules", "StepOutput", "training_step"]

Forward = Callable[[], tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]]


def warmup_cosine(step: int, total: int, warmup: int, final: float = 0.0) -> float:
    """Learning-rate multiplier at ``step`` of ``total``: linear warmup over ``warmup`` steps, then cosine
    decay from 1 to ``final`` (the ISSL protocol: ``final = 0``).

    .. math:: f(t) = f_{final} + (1 - f_{final}) \\tfrac12 (1 + \\cos(\\pi \\min(1, (t - w) / (T - w))))
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return final + (1 - final) * (0.5 * (1 + math.cos(math.pi * min(1.0, t))))


@dataclass
class Schedules:
    """Per-step values, precomputed for the whole run: lr multiplier and EMA-backbone coefficient.

    Attributes
    ----------
    total : int
        Steps of the run (a step past the end reads the last value).
    lr : numpy.ndarray or None
        Learning-rate multiplier per step (:func:`warmup_cosine`); None for a constant learning rate.
    momentum : numpy.ndarray or None
        EMA-backbone coefficient per step (``objective.momentum(t, T)``); None without an EMA backbone.
    """

    total: int
    lr: np.ndarray | None = None
    momentum: np.ndarray | None = None

    @classmethod
    def build(
        cls, total: int, objective: nn.Module, warmup: int | None = None, ema: bool = False, lr_final: float = 0.0
    ) -> Schedules:
        """The schedules of a run of ``total`` steps.

        Parameters
        ----------
        total : int
        objective : torch.nn.Module
            Gives the EMA coefficient ``objective.momentum(t, total)`` when ``ema``.
        warmup : int or None
            None: constant learning rate; otherwise :func:`warmup_cosine` with this many warmup steps,
            decaying to ``lr_final`` times the base learning rate.
        ema : bool
            Whether the run has an EMA backbone.
        lr_final : float
            The multiplier the cosine ends at (0 for the ISSL protocol).
        """
        lr = None if warmup is None else np.array([warmup_cosine(s, total, warmup, lr_final) for s in range(total)])
        mom = None
        if ema:
            mom = np.array([float(objective.momentum(s, total)) for s in range(total)])  # type: ignore[operator]
        return cls(total, lr, mom)

    def lr_factor(self, step: int) -> float:
        assert self.lr is not None
        return float(self.lr[min(step, self.total - 1)])

    def ema_momentum(self, step: int) -> float:
        assert self.momentum is not None
        return float(self.momentum[min(step, self.total - 1)])


@dataclass
class StepOutput:
    """What one step returns: the objective's loss, the auxiliary loss (or None), the objective's logs and
    what ``check`` returned."""

    loss: torch.Tensor
    aux_loss: torch.Tensor | None
    logs: dict[str, Any] = field(default_factory=dict)
    checked: Any = None  #: what ``check`` returned


def training_step(  # noqa: PLR0913  (the image trainer's call site passes the precision and clipping options)
    forward: Forward,
    optimizer: torch.optim.Optimizer,
    objective: nn.Module,
    step: int,
    schedules: Schedules,
    *,
    ema: nn.Module | None = None,
    online: nn.Module | None = None,
    grad_clip: float = 0.0,
    autocast: bool = False,
    device_type: str = "cpu",
    check: Callable[[torch.Tensor], Any] | None = None,
    autocast_dtype: torch.dtype = torch.bfloat16,
    scaler: Any = None,
) -> StepOutput:
    """Run step ``step`` (see the module docstring for the order).

    Parameters
    ----------
    forward
        Computes ``(loss, aux_loss, logs)`` from the current batch: views -> encoder -> objective
        (``aux_loss``, e.g. the online probe's, is added before ``backward``; None for none).
    optimizer
        Groups with a ``base_lr`` follow ``schedules.lr`` unless they are marked ``fixed``.
    objective
        Its ``update(step, total)`` runs after the optimiser step (if it has one).
    ema, online
        The EMA backbone and the online backbone it follows (``schedules.momentum`` must be set).
    check
        Called with the loss before any state changes; raises to abort the step (non-finite loss).
    autocast_dtype, scaler
        The autocast precision (bf16 by default; float16 for ``16-mixed``) and, for float16, a
        ``torch.amp.GradScaler`` (the loss is scaled for backward, gradients unscaled before clipping).
    """
    if schedules.lr is not None:
        factor = schedules.lr_factor(step)
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"] * (1.0 if g.get("fixed") else factor)
    ctx = torch.autocast(device_type=device_type, dtype=autocast_dtype) if autocast else contextlib.nullcontext()
    with ctx:
        loss, aux, logs = forward()
    checked = check(loss) if check is not None else None
    optimizer.zero_grad(set_to_none=True)
    total = loss if aux is None else loss + aux
    if scaler is not None:
        scaler.scale(total).backward()
        if grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], float(grad_clip))
        scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        scaler.update()
    else:
        total.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], float(grad_clip))
        optimizer.step()
    with torch.no_grad():
        update = getattr(objective, "update", None)
        if callable(update):
            update(step, schedules.total)
        if ema is not None:
            assert online is not None
            ema_update_(ema, online, schedules.ema_momentum(step))
    return StepOutput(loss, aux, logs, checked)
