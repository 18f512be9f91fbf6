"""Near-ideal problems and independent few-shot learners for tests/check/test_certified.py.

The code generators are a copy of the ideal kinds of tests/check/test_equivalence.py (``make_codes``), kept
here so that the two files can change independently. The learners are scikit-learn's, not idealssl's:

* affine (``linear``): one-vs-rest hard-margin SVMs, ``SVC(kernel="linear", C=1e8)`` per class present;
* homogeneous (``linear-nobias``): the same on the unit directions, each binary problem symmetrised
  ((u, y) and (−u, −y)), whose max-margin separator has b = 0, and the intercept dropped;
* ``mlp``: 1-NN (``KNeighborsClassifier(n_neighbors=1)``).

A sample showing one label gets the constant prediction. Risk counts ties as errors.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from idealssl.theory_math import regular_simplex

IDEAL_KINDS = ("gaussian", "simplex_affine", "simplex_linear_image", "origin_inside")
NOISE = ("isotropic", "outlier", "along_margin", "along_hyperplane")


def _unit(rng, d):
    v = rng.normal(size=d)
    return v / np.linalg.norm(v)


def make_codes(kind: str, C: int, d: int, seed: int) -> np.ndarray:
    """C ideal codes in R^d (d ≥ C − 1; d ≥ C for ``gaussian``): affinely independent, and for ``origin_inside``
    and ``simplex_linear_image`` also ideal without bias (the origin inside their hull). Copied from the
    equivalence harness's boundary generators."""
    rng = np.random.default_rng(seed)
    S = regular_simplex(C)

    def image(P):  # a random linear map of the rows of P into R^d
        return P @ rng.normal(size=(d, P.shape[1])).T

    if kind == "gaussian":
        codes = rng.normal(size=(C, d))
    elif kind == "simplex_affine":
        codes = image(S) + rng.normal(size=d)
    elif kind == "origin_inside":
        beta = rng.dirichlet(np.ones(C))
        codes = image(S - beta @ S)
    elif kind == "simplex_linear_image":
        codes = image(S)
    else:  # pragma: no cover
        raise ValueError(kind)
    return codes * 10.0 ** rng.uniform(-2, 2)


def noisy_points(codes, per, radius, shape, direction, seed):
    """``per`` points per orbit around each code, deviations of norm ≤ ``radius`` (the largest exactly
    ``radius``), re-centred so that each code is its orbit's mean (the default codes).

    ``isotropic``: random directions; ``outlier``: one orbit has one point at ``radius``, the rest at radius/10;
    ``along_margin``: ± along ``direction`` (the binding labelling's normal); ``along_hyperplane``: orthogonal to
    it. Returns (Z, labels)."""
    rng = np.random.default_rng(seed)
    C, d = codes.shape
    u = direction / np.linalg.norm(direction)
    Z, lab = [], []
    for m in range(C):
        dev = []
        for j in range(per):
            if shape == "along_margin":
                v = u * (1 if j % 2 == 0 else -1)
            elif shape == "along_hyperplane" and d > 1:
                v = _unit(rng, d)
                v -= (v @ u) * u
                v = v / np.linalg.norm(v) if np.linalg.norm(v) > 0 else u
                v *= 1 if j % 2 == 0 else -1
            else:
                v = _unit(rng, d)
            scale = radius if (shape != "outlier" or (m == 0 and j == 0)) else radius / 10
            dev.append(v * scale * (1.0 if j < 2 else rng.uniform(0.3, 1.0)))
        dev = np.array(dev)
        dev -= dev.mean(axis=0)  # code = orbit mean
        top = float(np.linalg.norm(dev, axis=1).max())
        if top > 0 and (shape != "outlier" or m == 0):
            dev *= radius / top  # the largest deviation is exactly ``radius``
        elif top > 0:
            dev *= min(1.0, radius / 10 / top)
        Z.append(codes[m] + dev)
        lab += [m] * per
    return np.vstack(Z), np.array(lab)


class Learner:
    """The few-shot learner of S10.3, fitted on (X, y) with scikit-learn; ``predict`` on any points."""

    def __init__(self, probe: str, X: np.ndarray, y: np.ndarray):
        self.probe, self.classes = probe, np.unique(y)
        if len(self.classes) == 1:
            return
        # the max-margin probe commutes with translations (affine) and positive scalings: fit on unit-scale data
        self.shift = X.mean(axis=0) if probe != "linear-nobias" else np.zeros(X.shape[1])
        self.scale = float(np.abs(X - self.shift).max()) or 1.0
        X = (X - self.shift) / self.scale
        if probe == "mlp":
            self.knn = KNeighborsClassifier(n_neighbors=1).fit(X, y)
            return
        self.W, self.b = [], []
        for k in self.classes:
            t = (y == k).astype(int)
            if probe == "linear":
                svm = SVC(kernel="linear", C=1e8, tol=1e-8).fit(X, t)
                self.W.append(svm.coef_[0])
                self.b.append(float(svm.intercept_[0]))
            else:  # symmetrised data: the max-margin separator has b = 0
                svm = SVC(kernel="linear", C=1e8, tol=1e-8).fit(np.vstack([X, -X]), np.r_[t, 1 - t])
                self.W.append(svm.coef_[0])
                self.b.append(0.0)
        self.W, self.b = np.array(self.W), np.array(self.b)

    def predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted labels and whether each prediction is strict (no tie)."""
        if len(self.classes) == 1:
            return np.full(len(Z), self.classes[0]), np.ones(len(Z), dtype=bool)
        Z = (Z - self.shift) / self.scale
        if self.probe == "mlp":
            return self.knn.predict(Z), np.ones(len(Z), dtype=bool)
        S = Z @ self.W.T + self.b
        top2 = np.sort(S, axis=1)[:, -2:]
        return self.classes[np.argmax(S, axis=1)], top2[:, 1] - top2[:, 0] > 1e-12 * np.abs(top2).max(axis=1)


def risk(probe: str, points, orbit_task, labels, mass, idx) -> float:
    """Exact risk (mass of misclassified or tied points) of the learner fitted on the sample ``idx``."""
    y = orbit_task[labels]
    pred, strict = Learner(probe, points[idx], y[idx]).predict(points)
    return float(mass[(pred != y) | ~strict].sum())
