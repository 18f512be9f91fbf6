"""The numeric parameters of ``idealssl derive`` (:func:`.configure`, :func:`.exact`): their ranges, in one table.

The command line checks its flags against :data:`PARAMETERS` before it reads a file, and the Python API checks
its arguments against the same table before it computes anything; a value outside its range is one
:class:`~idealssl.errors.InputError` line naming the flag, the range and why the range is what it is.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..checker.report import MIN_TOL
from ..errors import InputError

#: DISSL's optimal teacher (S7) is held as a C x K matrix of float64 (with a few temporaries of its size)
MAX_TEACHER_ENTRIES = 2**24


@dataclass(frozen=True)
class Range:
    """An integer or real parameter in [lo, hi] (``hi_open``: [lo, hi)); ``hi`` None for no upper bound."""

    flag: str
    integer: bool
    lo: float
    hi: float | None
    hi_open: bool = False
    why: str = ""

    def describe(self) -> str:
        kind, fmt = ("an integer", "d") if self.integer else ("a number", "g")
        if self.hi is None:
            return f"{kind} >= {self.lo:{fmt}}"
        return f"{kind} in [{self.lo:{fmt}}, {self.hi:{fmt}}{')' if self.hi_open else ']'}"

    def check(self, value):
        """``value`` as an int or a float, or InputError."""
        if self.integer:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        else:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if ok:
            v = int(value) if self.integer else float(value)
            above = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
            if self.lo <= v and not above:  # NaN fails the first comparison
                return v
        why = f" ({self.why})" if self.why else ""
        raise InputError(f"{self.flag} must be {self.describe()}, got {value!r}{why}")


_TEACHER = f"DISSL's optimal teacher is a C x K matrix, C·K <= {MAX_TEACHER_ENTRIES}"
PARAMETERS = {
    "classes": Range("--classes", True, 2, MAX_TEACHER_ENTRIES, why=f"one orbit makes every task trivial; {_TEACHER}"),
    "dim": Range("--dim", True, 1, None),
    "dissl_categories": Range("--dissl-categories", True, 1, MAX_TEACHER_ENTRIES, why=_TEACHER),
    "temperature": Range(
        "--temperature",
        False,
        1e-3,
        1e3,
        why="1/tau bounds the logits of unit vectors; the exact values are tested over this range",
    ),
    "dissl_lambda": Range("--dissl-lambda", False, 0.0, 1e6),
    "dissl_beta": Range("--dissl-beta", False, 0.0, 1e6),
    "tol": Range("--tol", False, 0.0, 1.0, hi_open=True, why="absolute, on log losses in nats"),
    "restarts": Range("restarts", True, 0, 1000, why="random starts of each unit-sphere minimisation"),
    "seed": Range("seed", True, 0, None),
    "check_tol": Range(
        "--check-tol",
        False,
        MIN_TOL,
        1.0,
        hi_open=True,
        why="relative, idealssl check's --tol; below 1e-12 float64 rounding in the rank test would count",
    ),
}


def validated(**values) -> dict:
    """Each named value checked against :data:`PARAMETERS` (None: not given, passed through)."""
    return {k: (None if v is None else PARAMETERS[k].check(v)) for k, v in values.items()}


def check_teacher_size(classes: int, categories: int) -> None:
    """C·K within :data:`MAX_TEACHER_ENTRIES` (K defaults to C), before the teacher is built."""
    if classes * categories > MAX_TEACHER_ENTRIES:
        raise InputError(
            f"C·K = {classes * categories} (C = {classes} orbits, K = {categories} DISSL categories, default K = C) is "
            f"above {MAX_TEACHER_ENTRIES}: DISSL's optimal teacher is held as a C x K matrix; give a smaller "
            "--dissl-categories"
        )


def require_finite_logits(Z, temperature: float) -> None:
    """The raw ideal log loss's solver steps by max ‖z‖²/τ² (its gradient's Lipschitz constant); that must be a
    float64, or the solver's backtracking cannot end. Every other value of :func:`.exact` is scale-free."""
    with np.errstate(over="ignore"):
        top = float(np.max(np.einsum("ij,ij->i", Z, Z))) / temperature**2
    if not np.isfinite(top):
        norm = float(np.max(np.abs(Z)))
        raise InputError(
            f"Z holds values up to {norm:.3g}: max ‖z‖²/tau² (tau = {temperature:g}) leaves float64, which the raw "
            "ideal log loss needs; rescale Z (the whitened, unit-row, CISSL and DISSL values and the verdict do not "
            "change)"
        )
