"""Compact head sizes for small problems (8x8 digits, synthetic worlds, CPU runs).

The objectives' defaults follow the original implementations (DISSL C' = 16384, VICReg 8192-8192-8192,
DINO 65536 prototypes, ...), far too large for an 8x8 image or a finite synthetic world. ``compact``
returns constructor kwargs that shrink every head to a common ``width`` while leaving the loss
hyperparameters (temperatures, weights, momenta) at their defaults.

>>> from idealssl.objectives import build
>>> from idealssl.objectives.presets import compact
>>> obj = build("dissl", dim=64, **compact("dissl", width=128))
"""

from __future__ import annotations

__all__ = ["compact"]


def compact(name: str, width: int = 256, categories: int | None = None, out_dim: int | None = None) -> dict:
    """Constructor kwargs with every head width (hidden and output) about ``width``.

    Parameters
    ----------
    name : str
        Registered objective name.
    width : int
        Hidden width of the heads; output widths are ``width`` (contrastive/regression heads) or
        ``width // 2`` (projection sizes), with at least 8.
    categories : int, optional
        Number of categories / prototypes for DISSL (C'), DINO (K) and SwAV (default ``2 * width``).
    out_dim : int, optional
        Projection size of the contrastive / regression heads (SimCLR, CISSL, SwAV, BYOL; default
        ``width // 2``) and DINO's bottleneck.
    """
    if width < 8:
        raise ValueError(f"width must be >= 8, got {width}")
    half = max(width // 2, 8) if out_dim is None else int(out_dim)
    k = 2 * width if categories is None else int(categories)
    table = {
        "simclr": dict(hidden_dim=width, out_dim=half),
        "cissl": dict(out_dim=half, teacher_hidden_dim=width, probe_hidden_dim=width),
        "dissl": dict(categories=k, teacher_hidden_dim=width, bottleneck=half, probe_hidden_dim=width),
        "dino": dict(hidden_dim=width, bottleneck_dim=half, out_dim=k, use_bn=True),
        "swav": dict(hidden_dim=width, out_dim=half, n_prototypes=k),
        "byol": dict(hidden_dim=width, out_dim=half),
        "vicreg": dict(hidden_dim=width, out_dim=width),
        "barlow": dict(hidden_dim=width, out_dim=width),
        "vje": dict(hidden_dim=half),
    }
    key = name.lower()
    if key not in table:
        from .base import UnknownObjectiveError

        raise UnknownObjectiveError(f"no compact preset for method {name!r}; presets: {', '.join(sorted(table))}")
    return dict(table[key])
