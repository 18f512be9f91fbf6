"""Each decisive condition of each family, on problems whose truth holds by construction.

The verdict alone cannot tell whether every condition is measured right: some conditions imply others (a
linear rank below C − 1 also leaves no positive dependency, for example), so a condition that always held
would leave every verdict unchanged. Here each constructed problem states which decisive conditions fail
(theory/statements.md S1.3, S1.4, S2.1), and each strict comparison is tested at its threshold. The
checker's mutation test (``tests/check/mutants.py``) relies on these tests to kill mutants of single
conditions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import idealssl
from idealssl.theory_math import regular_simplex

SIMPLEX = regular_simplex(4)  # centred: the origin inside the hull, affinely independent, rank C - 1
MOVED = np.vstack([SIMPLEX, SIMPLEX[:1] + 0.3 * np.eye(3)[1]])  # orbit 0's second point moved by 0.3
MARGINS = {"worst_case_margin"}
NOBIAS_STRUCTURE = {"linear_rank", "positive_dependency", "effective_dimension"} | MARGINS

# (probe, name, points, orbit of each point, decisive conditions that fail)
CASES = [
    ("linear", "simplex", SIMPLEX, [0, 1, 2, 3], set()),
    (
        "linear",
        "collinear (span rank C - 1, affine rank C - 2)",
        [[1, 0], [1, 1], [1, 2]],
        [0, 1, 2],
        {"affine_independence", "effective_dimension"} | MARGINS,
    ),
    ("linear", "one point moved", MOVED, [0, 1, 2, 3, 0], {"invariance"}),
    ("linear-nobias", "centred simplex (rank C - 1, origin inside)", SIMPLEX, [0, 1, 2, 3], set()),
    ("linear-nobias", "rank C", np.eye(3), [0, 1, 2], set()),
    ("linear-nobias", "±e1, ±e2 (rank C - 2)", [[1, 0], [-1, 0], [0, 1], [0, -1]], [0, 1, 2, 3], NOBIAS_STRUCTURE),
    ("linear-nobias", "origin on an edge", [[1, 0], [-1, 0], [0, 1]], [0, 1, 2], {"positive_dependency"} | MARGINS),
    ("linear-nobias", "origin outside", [[1, 0], [0, 1], [1, 1]], [0, 1, 2], {"positive_dependency"} | MARGINS),
    (
        "linear-nobias",
        "a zero code",
        [[1, 0], [0, 1], [0, 0]],
        [0, 1, 2],
        {"positive_dependency", "nonzero_codes"} | MARGINS,
    ),
    (
        "linear-nobias",
        "a code at 1e-7 of the others, origin inside",
        [[1, 0], [0, 1], [-1e-7, -1e-7]],
        [0, 1, 2],
        {"nonzero_codes"} | MARGINS,
    ),
    ("linear-nobias", "one point moved", MOVED, [0, 1, 2, 3, 0], {"invariance"}),
    (
        "linear-nobias",
        "one point's direction turned by 0.01",
        np.vstack([SIMPLEX, SIMPLEX[:1] + 0.01 * np.eye(3)[1]]),
        [0, 1, 2, 3, 0],
        {"invariance"},
    ),
    ("linear-nobias", "one point a positive multiple", np.vstack([SIMPLEX, 5 * SIMPLEX[:1]]), [0, 1, 2, 3, 0], set()),
    ("mlp", "distinct codes on a line", [[0], [1], [1.001]], [0, 1, 2], set()),
    ("mlp", "two orbits share a code", [[0], [1], [1]], [0, 1, 2], {"distinct_codes"} | MARGINS),
    ("mlp", "every orbit one code", [[1], [1], [1]], [0, 1, 2], {"distinct_codes", "effective_dimension"} | MARGINS),
    ("mlp", "one point moved", MOVED, [0, 1, 2, 3, 0], {"invariance"}),
]


@pytest.mark.parametrize("probe,name,Z,orbit,failing", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_each_condition_holds_exactly_when_its_construction_says(probe, name, Z, orbit, failing):
    r = idealssl.check(np.asarray(Z, dtype=np.float64), orbit, probe=probe, graded=False)
    got = {k for k, c in r.conditions.items() if c.decisive and not c.holds}
    assert got == failing, {k: (c.holds, c.value) for k, c in r.conditions.items()}
    assert r.ideal == (not failing)


def _theta_problem() -> np.ndarray:
    """e1, e2 and −(cos θ, sin θ), θ = 0.1: the origin inside; the unit codes' dependency is
    (cos θ, sin θ, 1), so ``positive_dependency`` = sin θ / √2 ≈ 0.071, far above the default tolerance."""
    t = 0.1
    return np.array([[1.0, 0.0], [0.0, 1.0], [-math.cos(t), -math.sin(t)]])


# (probe, condition, points, orbit): the condition's value lies in [1e-12, 1) and does not depend on the tolerance
AT_THRESHOLD = [
    ("linear", "invariance", np.vstack([SIMPLEX, SIMPLEX[:1] + 1e-3 * np.eye(3)[2]]), [0, 1, 2, 3, 0]),
    ("mlp", "invariance", np.vstack([SIMPLEX, SIMPLEX[:1] + 1e-3 * np.eye(3)[2]]), [0, 1, 2, 3, 0]),
    ("mlp", "distinct_codes", np.array([[0.0], [1.0], [1.001]]), [0, 1, 2]),
    ("linear-nobias", "nonzero_codes", np.array([[1.0, 0.0], [0.0, 1.0], [-0.01, -0.01]]), [0, 1, 2]),
    ("linear-nobias", "positive_dependency", _theta_problem(), [0, 1, 2]),
]


@pytest.mark.parametrize("probe,cond,Z,orbit", AT_THRESHOLD, ids=[f"{c[0]}-{c[1]}" for c in AT_THRESHOLD])
def test_comparisons_at_the_threshold(probe, cond, Z, orbit):
    """At tol equal to its measured value, a condition compared by ``>`` fails and one compared by ``<=``
    holds: the comparisons are the documented ones, strict where the report says so."""
    v = idealssl.check(Z, orbit, probe=probe, graded=False).conditions[cond].value
    assert 1e-12 <= v < 1
    at = idealssl.check(Z, orbit, probe=probe, tol=v, graded=False).conditions[cond]
    assert at.value == v and at.threshold == v
    assert at.holds == (at.comparison == "<="), (at.comparison, at.value)


def test_nobias_tolerance_above_every_dependency_coefficient_does_not_crash():
    """Codes e1 and −e1: the unit codes' dependency is (1, 1)/√2, so at tol = 0.75 every coefficient lies within
    tol of 0 and ``positive_dependency`` fails. Counting them all as zeros left no dependency and the certificate
    divided by zero (also reached through the graded verdict, which re-measures at the tolerance a large
    deviation sets). No labelling is certified by that dependency: the report is not ideal, without a certificate,
    and says so."""
    r = idealssl.check(np.array([[1.0, 0.0], [-1.0, 0.0]]), [0, 1], probe="linear-nobias", tol=0.75)
    assert not r.ideal and not r.conditions["positive_dependency"].holds
    assert r.counterexample is None and any("no certificate" in n for n in r.notes)
    moved = np.array([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.6], [1.0, 0.0]])  # orbit 1's second point far off
    r = idealssl.check(moved, [0, 1, 1, 0], probe="linear-nobias")
    assert not r.ideal and r.counterexample["kind"] == "non_invariant" and r.graded is not None
