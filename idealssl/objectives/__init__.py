"""Objectives: one module per loss, one interface (:mod:`idealssl.objectives.base`).

>>> from idealssl.objectives import build, available
>>> available()   # ['barlow', 'byol', 'cissl', 'dino', 'dissl', 'simclr', 'swav', 'vicreg', 'vje']
>>> obj = build("dissl", dim=128, n_classes=256)
"""
from .base import Objective, ObjectiveOutput, UnknownObjectiveError, available, build, register

__all__ = ["Objective", "ObjectiveOutput", "UnknownObjectiveError", "available", "build", "register"]
