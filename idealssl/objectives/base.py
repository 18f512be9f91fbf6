"""The one interface every objective implements.

Data flow (design.md section 3): ``data -> views -> encoder -> objective -> optimizer``.
An objective owns its heads and any teacher state (EMA heads, centres, queues, marginal EMAs);
the trainer owns the backbone, the optimiser and, when an objective asks for it, an EMA copy of
the backbone (``momentum_backbone = True``, as BYOL and DINO need).

Contract
--------
``forward(views, targets=None) -> ObjectiveOutput``

views
    list of V tensors of shape (B, d): the online encoder's embeddings of V augmented views of the
    same B inputs, view v of input i at ``views[v][i]``. The first ``n_global`` views are the
    global (large) crops; the rest, if any, are local crops (multi-crop).
targets
    ``None``, or (for objectives with ``momentum_backbone = True``) the EMA backbone's embeddings of
    the ``n_global`` global views, computed under ``torch.no_grad()``.

The returned ``loss`` is a scalar tensor to minimise; ``logs`` maps names to detached floats or
0-d tensors (monitored values such as entropies, the temperature, the EMA coefficient).

``update(step, total_steps)`` is called by the trainer after each optimiser step; objectives with
EMA teachers or schedules update them there (and return the backbone EMA coefficient, if any, via
``momentum(step, total_steps)``).

Distributed: objectives whose loss uses batch statistics gather across processes when
``torch.distributed`` is initialised and ``gather=True`` (default), so that the loss and its
gradients equal those of one process on the full batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence

import torch
from torch import nn


@dataclass
class ObjectiveOutput:
    """Result of an objective's forward pass.

    Attributes
    ----------
    loss : torch.Tensor
        Scalar loss to minimise.
    logs : dict
        Monitored values (detached), e.g. ``{"H_M": ..., "H_M_given_Z": ...}``.
    """

    loss: torch.Tensor
    logs: Dict[str, torch.Tensor | float] = field(default_factory=dict)


class Objective(nn.Module):
    """Base class: heads + loss. Subclasses set ``name`` and implement ``forward``.

    Parameters
    ----------
    dim : int
        Dimension d of the encoder's embeddings (the representation the probe sees).
    """

    name: str = "objective"
    #: the trainer keeps an EMA copy of the backbone and passes its embeddings as ``targets``
    momentum_backbone: bool = False
    #: number of global views the objective expects (multi-crop adds local views after them)
    n_global: int = 2

    def __init__(self, dim: int):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = int(dim)

    def forward(self, views: Sequence[torch.Tensor], targets: Optional[Sequence[torch.Tensor]] = None) -> ObjectiveOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def momentum(self, step: int, total_steps: int) -> float:
        """EMA coefficient for the backbone (only used when ``momentum_backbone``)."""
        return 0.0

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """Per-step state update (EMA heads, schedules). Default: nothing."""


_REGISTRY: Dict[str, Callable[..., Objective]] = {}


def register(name: str):
    """Class decorator: make an objective buildable by name (``idealssl train --method NAME``)."""

    def deco(cls):
        key = name.lower()
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ValueError(f"objective {name!r} registered twice")
        _REGISTRY[key] = cls
        cls.name = key
        return cls

    return deco


def available() -> list[str]:
    """Names of the registered objectives, sorted."""
    from . import _load_all  # noqa: F401  (imports every objective module so they register)

    return sorted(_REGISTRY)


def build(name: str, dim: int, **hparams) -> Objective:
    """Build a registered objective. Raises ``KeyError`` with the list of names when unknown."""
    names = available()
    key = name.lower()
    if key not in _REGISTRY:
        raise KeyError(f"unknown method {name!r}; available: {', '.join(names)}")
    return _REGISTRY[key](dim=dim, **hparams)
