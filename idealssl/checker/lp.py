"""Linear programs that decide separability, written independently of the algebraic checks.

``separable(Z, y)`` answers "is there (w, b) with y_i (w·z_i + b) > 0 for all i?" by maximising the
margin t subject to y_i (w·z_i + b) ≥ t, −1 ≤ w_k ≤ 1, t ≤ 1 (scipy's HiGHS). With the points first
centred and scaled to unit spread, the labelling is declared separable when t* > tol. This is the
cross-check used by ``--exhaustive`` and by the tests; the checker's verdicts come from ranks and
dependencies, not from this LP.
"""

from __future__ import annotations

import numpy as np


def lp_margin(Z: np.ndarray, y: np.ndarray, bias: bool = True) -> float:
    """Largest t with y_i (w·z_i + b) ≥ t, ‖w‖_∞ ≤ 1 (b free, or b = 0 when ``bias`` is False).

    Parameters
    ----------
    Z : (n, d) array
    y : (n,) array of ±1

    Returns
    -------
    float
        t* ∈ [−∞, 1]; the labelling is strictly separable iff t* > 0 (up to solver precision).
    """
    from scipy.optimize import linprog  # imported here: scipy.optimize costs ~0.4 s at start-up

    n, d = Z.shape
    y = np.asarray(y, dtype=np.float64)
    nb = 1 if bias else 0
    # variables: w (d), [b], t ; minimise -t
    c = np.zeros(d + nb + 1)
    c[-1] = -1.0
    # -(y_i z_i)·w - y_i b + t <= 0
    A = np.hstack([-(y[:, None] * Z)] + ([-y[:, None]] if bias else []) + [np.ones((n, 1))])
    bounds = [(-1.0, 1.0)] * d + [(None, None)] * nb + [(None, 1.0)]
    res = linprog(c, A_ub=A, b_ub=np.zeros(n), bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        raise RuntimeError(f"LP failed: {res.message}")
    return float(-res.fun)


def normalise(Z: np.ndarray, bias: bool = True) -> np.ndarray:
    """Centre (affine case) and scale to unit RMS spread, so LP tolerances are relative."""
    Z = np.asarray(Z, dtype=np.float64)
    X = Z - Z.mean(axis=0) if bias else Z
    s = np.sqrt(np.einsum("ij,ij->", X, X) / len(X))
    return X / s if s > 0 else X


def separable(Z: np.ndarray, y: np.ndarray, bias: bool = True, tol: float = 1e-7) -> bool:
    """Whether the ±1 labelling y of the rows of Z is strictly separable by an affine
    (``bias=True``) or homogeneous halfspace, decided by :func:`lp_margin` on normalised points."""
    y = np.asarray(y)
    if bias and (np.all(y > 0) or np.all(y < 0)):
        return True
    return lp_margin(normalise(Z, bias), y, bias) > tol
