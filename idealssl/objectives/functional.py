"""Pure helpers shared by several objectives (no module state, no heads)."""

from __future__ import annotations

import torch

__all__ = ["entropy"]


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of the categorical distributions in the last dimension, 0 log 0 = 0."""
    return -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(-1)
