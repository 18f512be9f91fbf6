"""``--exhaustive``: enumerate every binary labelling of the orbits and decide each independently.

For the linear families each labelling (up to complement) is decided by a linear program on the
points (:mod:`idealssl.check.lp`), with no use of ranks or dependencies; for ``mlp`` each labelling
gets its explicit ReLU witness (:func:`~idealssl.check.witness.mlp_witness`) evaluated on the points.
The number of labellings is 2^(C−1), so C is limited to :data:`MAX_C`.
"""
from __future__ import annotations

import itertools
from typing import Dict

import numpy as np

from ..errors import InputError
from . import lp
from .witness import mlp_witness, predict

MAX_C = 12
MAX_POINTS = 2000


def exhaustive_check(Z: np.ndarray, labels: np.ndarray, codes: np.ndarray, probe: str, tol: float) -> Dict:
    """Fit every binary labelling of the C orbits; return counts and the first unfittable one.

    Parameters
    ----------
    Z : (N, d) points, or None when N > MAX_POINTS (then the codes stand in for the points)
    labels : (N,) orbit index of each point
    codes : (C, d) orbit codes
    """
    C = len(codes)
    if C > MAX_C:
        raise InputError(f"--exhaustive enumerates 2^(C-1) labellings; C = {C} orbits is above the limit of {MAX_C} (drop --exhaustive: the rank test is exact)")
    on_points = Z is not None
    pts, lab = (Z, labels) if on_points else (codes, np.arange(C))
    bias = probe != "linear-nobias"
    total, fittable, first_bad = 0, 0, None
    margins = []
    # fix orbit 0's label to 1 (complements are equivalent); for affine families skip the constant labelling
    for rest in itertools.product((1, -1), repeat=C - 1):
        y_orbit = np.array((1,) + rest, dtype=np.float64)
        if bias and np.all(y_orbit > 0):
            continue
        total += 1
        y = y_orbit[lab]
        if probe == "mlp":
            w = mlp_witness(codes, (y_orbit > 0).astype(np.int64), 2)
            pred, strict = predict(w, pts)
            ok = bool(np.all(strict & (pred == (y > 0))))
        else:
            ok = lp.separable(pts, y, bias=bias, tol=tol)
            if ok and bias:
                margins.append(_svm_margin(codes, y_orbit))
        fittable += ok
        if not ok and first_bad is None:
            first_bad = (y_orbit > 0).astype(int).tolist()
    spread = np.sqrt(np.mean(np.sum((codes - codes.mean(axis=0)) ** 2, axis=1)))
    exact_margin = (min(margins) / spread) if (margins and fittable == total and spread > 0) else None
    return {
        "method": "LP per labelling (scipy HiGHS)" if probe != "mlp" else "explicit ReLU witness per labelling",
        "on": f"all {len(Z)} points" if on_points else f"the {C} orbit codes (N > {MAX_POINTS})",
        "n_labellings": total,
        "n_fittable": int(fittable),
        "first_unfittable_orbit_labels": first_bad,
        "exact_worst_case_margin": exact_margin,
    }


def _svm_margin(codes: np.ndarray, y: np.ndarray) -> float:
    """Geometric hard margin of the labelling y (±1) of the codes (linear SVM with a huge C)."""
    from sklearn.svm import SVC

    clf = SVC(kernel="linear", C=1e10, tol=1e-10)
    clf.fit(codes, y)
    return float(np.min(y * clf.decision_function(codes)) / np.linalg.norm(clf.coef_))
