"""The checker's verdict does not depend on the order in which the points are listed.

``linear-nobias`` accepts orbits that are invariant only up to positive scaling (argmax(W z) cannot tell
z from c·z, c > 0). Its conditions (theory/statements.md S1.4) are then measured on an order-free choice
of codes, each orbit's largest-norm point, not on whichever point comes first; a zero point fails the
same way wherever it sits in its orbit. Random permutations of the points, within and across orbits, for every
family: ``test_equivalence.py::test_verdict_is_invariant_under_rotation_scaling_translation_and_order``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import idealssl
from idealssl.theory_math import regular_simplex


def _orbit0_then_simplex(orbit0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orbit 0 = the given points; orbits 1..3 = the other vertices of the centred simplex in R^3."""
    S = regular_simplex(4)
    Z = np.vstack([orbit0, S[1:]])
    return Z, np.r_[np.zeros(len(orbit0), dtype=int), 1, 2, 3]


@pytest.mark.parametrize("tiny_first", [False, True])
def test_nobias_verdict_does_not_depend_on_which_multiple_comes_first(tiny_first):
    """Orbit 0 = {S_0, 1e-6 S_0}, the centred simplex elsewhere: ideal without bias (the origin is inside
    the hull, and 1e-6 S_0 is a positive multiple of S_0) in either order; the conditions are measured on
    S_0, the orbit's largest-norm point, and the report says so."""
    S0 = regular_simplex(4)[0]
    pts = np.array([1e-6 * S0, S0]) if tiny_first else np.array([S0, 1e-6 * S0])
    Z, lab = _orbit0_then_simplex(pts)
    r = idealssl.check(Z, lab, probe="linear-nobias", task=[1, 0, 0, 1], exhaustive=True)
    assert r.ideal, {k: (c.holds, c.value) for k, c in r.conditions.items()}
    assert r.witness["fits"] and r.exhaustive["agrees"]
    assert r.conditions["nonzero_codes"].value == pytest.approx(1.0)
    big = 1 if tiny_first else 0
    assert r.codes["points"][0] == big and "largest-norm" in r.codes["rule"]
    assert "largest-norm" in str(r)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_nobias_zero_point_fails_the_same_way_wherever_it_sits(perm):
    """Orbit 0 = {S_0, 0, 2 S_0} in every order: not ideal, by invariance (a zero point is no positive
    multiple of a non-zero code), with the same verified certificate naming the zero point."""
    S0 = regular_simplex(4)[0]
    pts = np.array([S0, np.zeros(3), 2 * S0])[list(perm)]
    Z, lab = _orbit0_then_simplex(pts)
    r = idealssl.check(Z, lab, probe="linear-nobias")
    assert not r.ideal and not r.conditions["invariance"].holds
    failing = {k for k, c in r.conditions.items() if c.decisive and not c.holds}
    assert failing == {"invariance"}, failing
    ce = r.counterexample
    assert ce["kind"] == "non_invariant" and ce["verified"]
    assert ce["proof"]["zero_point"] == perm.index(1) and ce["proof"]["code_point"] == perm.index(2)


@pytest.mark.parametrize("probe", ["linear", "linear-nobias", "mlp"])
def test_report_names_the_codes_it_used(probe):
    Z = np.repeat(regular_simplex(3), 2, axis=0)
    r = idealssl.check(Z, np.repeat(np.arange(3), 2), probe=probe)
    assert r.codes == {"rule": "each orbit's first point", "points": [0, 2, 4]}
    assert r.to_dict()["codes"] == r.codes
