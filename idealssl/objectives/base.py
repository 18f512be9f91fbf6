"""The one interface every objective implements.

Data flow (the trainer's step, :mod:`idealssl.step`): ``data -> views -> encoder -> objective -> optimizer``.
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

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import InputError


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
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)


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

    def forward(
        self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None
    ) -> ObjectiveOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_views(self, views: Sequence[torch.Tensor], min_views: int | None = None) -> list[torch.Tensor]:
        """Validate ``views``: a list of at least ``min_views`` (default ``n_global``) tensors (B, dim), same B.

        Raises ``ValueError`` with one precise line otherwise.
        """
        min_views = self.n_global if min_views is None else min_views
        if isinstance(views, torch.Tensor) or not isinstance(views, (list, tuple)):
            raise ValueError(
                f"{self.name}: views must be a list of (B, {self.dim}) tensors, got {type(views).__name__}"
            )
        if len(views) < min_views:
            raise ValueError(f"{self.name}: needs at least {min_views} views, got {len(views)}")
        b = None
        for i, v in enumerate(views):
            if not isinstance(v, torch.Tensor) or v.dim() != 2 or v.shape[1] != self.dim:
                shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                raise ValueError(f"{self.name}: view {i} must have shape (B, {self.dim}), got {shape}")
            if b is None:
                b = v.shape[0]
            elif v.shape[0] != b:
                raise ValueError(
                    f"{self.name}: all views must have the same batch size, view 0 has {b}, view {i} has {v.shape[0]}"
                )
        if b is None or b < 2:
            raise ValueError(f"{self.name}: batch size must be >= 2, got {b}")
        return list(views)

    def momentum(self, step: int, total_steps: int) -> float:
        """EMA coefficient for the backbone (only used when ``momentum_backbone``)."""
        return 0.0

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """Per-step state update (EMA heads, schedules). Default: nothing."""


def _first_tensor(obj):
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (list, tuple)):
        for x in obj:
            t = _first_tensor(x)
            if t is not None:
                return t
    return None


def float32_loss(fn):
    """Decorator for pure loss functions: run with autocast disabled, so that a loss called inside a
    mixed-precision region (fp16/bf16 heads) is computed in float32. The functions cast their inputs
    with ``.float()`` themselves."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t = _first_tensor(list(args) + list(kwargs.values()))
        device = t.device.type if t is not None else "cpu"
        with torch.autocast(device_type=device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper


_REGISTRY: dict[str, Callable[..., Objective]] = {}


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


class UnknownObjectiveError(InputError, KeyError):
    """Unknown objective name or hyperparameter (an ``InputError``; also a ``KeyError`` for callers that catch it)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def build(name: str, dim: int, **hparams) -> Objective:
    """Build a registered objective by (case-insensitive) name.

    Raises
    ------
    UnknownObjectiveError
        (an :class:`idealssl.errors.InputError` and a ``KeyError``) for an unknown name, with the list of
        names, or for a hyperparameter the objective does not take, with the list it takes.
    InputError
        for a bad value of a known hyperparameter (e.g. a negative temperature), one line.
    """
    names = available()
    key = str(name).lower()
    if key not in _REGISTRY:
        raise UnknownObjectiveError(f"unknown method {name!r}; available: {', '.join(names)}")
    cls = _REGISTRY[key]
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = [k for k in params if k not in ("self", "dim")]
        bad = sorted(set(hparams) - set(accepted))
        if bad:
            raise UnknownObjectiveError(
                f"method {key!r} has no hyperparameter {', '.join(map(repr, bad))}; it takes: {', '.join(accepted)}"
            )
    try:
        return cls(dim=dim, **hparams)
    except InputError:
        raise
    except (ValueError, TypeError) as exc:  # a bad value for a known hyperparameter
        raise InputError(f"method {key!r}: {exc}") from exc
