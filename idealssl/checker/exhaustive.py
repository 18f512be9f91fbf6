"""``--exhaustive``: enumerate every non-constant binary labelling of the orbits and decide each independently.

For the linear families each labelling (up to complement) is decided by a linear program on the
points (:mod:`idealssl.checker.lp`), with no use of ranks or dependencies; for ``mlp`` each labelling
gets its explicit witness (:func:`~idealssl.checker.witness.mlp_witness`, else the nearest-code network)
evaluated on the points, and counts as fittable only when its two classes' codes are more than tol × the
code spread apart (the tolerance of the ``distinct_codes`` condition). The exact worst-case margin (affine
probes) is half the smallest distance
between the convex hulls of the two classes' codes over the labellings, each distance a small
non-negative least-squares problem.
The number of labellings is 2^(C−1) − 1 (up to complement), so C is limited to :data:`MAX_C`.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import InputError
from ..probes import get_family
from . import lp
from .witness import MLP_WITNESSES, predict

MAX_C = 12
MAX_POINTS = 2000


def exhaustive_check(Z: np.ndarray | None, labels: np.ndarray, codes: np.ndarray, probe: str, tol: float) -> dict:
    """Fit every non-constant binary labelling of the C orbits; return counts and the first unfittable one.

    Parameters
    ----------
    Z : (N, d) points, or None when N > MAX_POINTS (then the codes stand in for the points)
    labels : (N,) orbit index of each point
    codes : (C, d) orbit codes
    """
    C = len(codes)
    if C > MAX_C:
        raise InputError(
            f"--exhaustive enumerates 2^(C-1) labellings; C = {C} orbits is above the limit of {MAX_C} "
            "(drop --exhaustive: the rank test is exact)"
        )
    on_points = Z is not None
    pts, lab = (Z, labels) if Z is not None else (codes, np.arange(C))
    family = get_family(probe)
    bias = family.bias
    if family.linear and not bias and on_points:
        pts = at_code_norms(pts, lab, codes)
    total, fittable, first_bad = 0, 0, None
    margins = []
    spread = np.sqrt(np.mean(np.sum((codes - codes.mean(axis=0)) ** 2, axis=1)))
    # fix orbit 0's label to 1 (complements are equivalent) and skip the constant labelling: any probe
    # fits a task with one label, so it is never evidence either way
    for rest in itertools.product((1, -1), repeat=C - 1):
        y_orbit = np.array((1,) + rest, dtype=np.float64)
        if np.all(y_orbit > 0):
            continue
        total += 1
        y = y_orbit[lab]
        if not family.linear:
            # the witness must fit every point, and the two classes' codes must be further apart than
            # the tolerance: a probe that changes class over a distance the tolerance calls zero does not count
            ok = _class_gap(codes, y_orbit) > tol * spread
            for build in MLP_WITNESSES if ok else ():
                pred, strict = predict(build(codes, (y_orbit > 0).astype(np.int64), 2), pts)
                ok = bool(np.all(strict & (pred == (y > 0))))
                if ok:
                    break
        else:
            ok = lp.separable(pts, y, bias=bias, tol=tol)
            if ok and bias:
                margins.append(hull_margin(codes[y_orbit > 0], codes[y_orbit < 0]))
        fittable += ok
        if not ok and first_bad is None:
            first_bad = (y_orbit > 0).astype(int).tolist()
    exact_margin = (min(margins) / spread) if (margins and fittable == total and spread > 0) else None
    return {
        "method": "LP per labelling (scipy HiGHS)" if family.linear else "explicit ReLU witness per labelling",
        "on": f"all {len(pts)} points" if on_points else f"the {C} orbit codes (N > {MAX_POINTS})",
        "n_labellings": total,
        "n_fittable": int(fittable),
        "first_unfittable_orbit_labels": first_bad,
        "exact_worst_case_margin": exact_margin,
    }


def at_code_norms(Z: np.ndarray, labels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each point rescaled to the norm of its orbit's code, z ↦ z ‖μ_(M(x))‖ / ‖z‖ (zero points stay 0).

    A positive rescaling of a point changes no homogeneous probe's decision on it, so strict separability
    is unchanged; the LP's margin is then measured at the codes' scale, as the rank test measures it
    (points that are positive multiples of their code count as the code, S1.4)."""
    n = np.linalg.norm(Z, axis=1)
    target = np.linalg.norm(codes, axis=1)[labels]
    return Z * np.divide(target, n, out=np.zeros_like(n), where=n > 0)[:, None]


def _class_gap(codes: np.ndarray, y_orbit: np.ndarray) -> float:
    """Smallest distance between a code labelled +1 and a code labelled −1."""
    P, Q = codes[y_orbit > 0], codes[y_orbit < 0]
    return float(np.sqrt(((P[:, None, :] - Q[None, :, :]) ** 2).sum(axis=2)).min())


def hull_margin(P: np.ndarray, Q: np.ndarray) -> float:
    """Best geometric margin of an affine probe separating the rows of P from those of Q: half the
    distance between their convex hulls, min ‖αᵀP − βᵀQ‖ / 2 over α, β ≥ 0 with Σα = Σβ = 1.

    Solved as non-negative least squares (an exact active-set method, no iteration cap to hit on
    nearly degenerate codes) with the two sum constraints as heavily weighted rows; α and β are then
    renormalised, so the value is the distance of an actual pair of hull points (an upper bound,
    tight to the solver's precision)."""
    from scipy.optimize import nnls

    centre = np.vstack([P, Q]).mean(axis=0)
    P, Q = P - centre, Q - centre
    p, q = len(P), len(Q)
    M = 1e4 * max(float(np.abs(np.vstack([P, Q])).max()), 1e-300)
    A = np.vstack([np.hstack([P.T, -Q.T]), M * np.r_[np.ones(p), np.zeros(q)], M * np.r_[np.zeros(p), np.ones(q)]])
    b = np.r_[np.zeros(P.shape[1]), M, M]
    x, _ = nnls(A, b, maxiter=50 * (p + q))
    a, c = x[:p], x[p:]
    if a.sum() <= 0 or c.sum() <= 0:  # pragma: no cover - the weighted rows force both sums near 1
        return 0.0
    return float(np.linalg.norm((a / a.sum()) @ P - (c / c.sum()) @ Q)) / 2.0
