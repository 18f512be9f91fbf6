"""Objectives: one module per loss, one interface (:mod:`idealssl.objectives.base`)."""
from .base import Objective, ObjectiveOutput, available, build, register

__all__ = ["Objective", "ObjectiveOutput", "available", "build", "register"]
