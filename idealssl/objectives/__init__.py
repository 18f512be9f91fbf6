"""Objectives: one module per loss, one interface (:mod:`idealssl.objectives.base`).

>>> from idealssl.objectives import build, available
>>> available()   # ['barlow', 'byol', 'cissl', 'dino', 'dissl', 'simclr', 'swav', 'vicreg', 'vje']
>>> obj = build("dissl", dim=128, categories=256)
"""

__all__ = ["Objective", "ObjectiveOutput", "UnknownObjectiveError", "available", "build", "register"]


def __getattr__(name):
    """Import torch (through :mod:`.base`) only when an objective is asked for, so that the torch-free
    :mod:`idealssl.objectives.defaults` can be read by :mod:`idealssl.derive`."""
    if name in __all__:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
