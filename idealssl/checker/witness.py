"""Witness probes: explicit probes that fit a given invariant task, checked by evaluating them.

* affine (``linear``): scores s(z) = W z + b with s_k(μ_m) = 1[label_m = k] solved exactly by the
  minimum-norm solution of [μ_m, 1] X = onehot — possible for every labelling iff the codes are
  affinely independent (theory/statements.md S1.3, Lemma A);
* homogeneous (``linear-nobias``): s(z) = W z with scores chosen in the range of the codes
  (:func:`homogeneous_witness`): every non-constant labelling when the codes have rank C, or rank
  C − 1 with a positive dependency (theory/statements.md S1.4);
* ``mlp``: a one-hidden-layer ReLU network of width 2(C−1) on a direction u along which the codes'
  projections t_m = u·μ_m are distinct: each class score is flat near every t_m and ramps between
  consecutive ones, so it is exact on every code and robust to deviations below a quarter of the
  smallest gap (universal probes need only invariance and distinct codes, Sec. 5);
* ``mlp``, when the projection leaves gaps smaller than the deviations (many codes, one direction):
  the nearest-code classifier, a max-affine (maxout) network: unit m scores
  2(μ_m − μ̄)·(z − μ̄) − ‖μ_m − μ̄‖² = ‖z − μ̄‖² − ‖z − μ_m‖², and class k scores the maximum of its
  units. It is a ReLU network (max(a, b) = a + ReLU(b − a), a tree of depth ⌈log2 C⌉) and it
  classifies every point closer to its own code than to any other code correctly.

Every witness is evaluated on all N points (:func:`evaluate`) before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..inputs.representation import Representation


def affine_witness(codes: np.ndarray, orbit_labels: np.ndarray, n_classes: int, bias: bool = True) -> dict:
    """Minimum-norm (W, b) with argmax(W μ_m + b) = label_m (exact when the codes are independent)."""
    C, d = codes.shape
    T = np.zeros((C, n_classes))
    T[np.arange(C), orbit_labels] = 1.0
    if bias:
        mu = codes.mean(axis=0)
        X = codes - mu
        s = np.sqrt(np.einsum("ij,ij->", X, X) / C) or 1.0
        A = np.hstack([X / s, np.ones((C, 1))])
        sol, *_ = np.linalg.lstsq(A, T, rcond=None)
        W = sol[:d].T / s
        b = sol[d] - W @ mu
    else:
        s = np.sqrt(np.einsum("ij,ij->", codes, codes) / C) or 1.0
        sol, *_ = np.linalg.lstsq(codes / s, T, rcond=None)
        W = sol.T / s
        b = np.zeros(n_classes)
    return {"kind": "affine" if bias else "linear", "W": W, "b": b}


def homogeneous_witness(codes: np.ndarray, orbit_labels: np.ndarray, n_classes: int) -> dict:
    """W with argmax(W μ_m) = label_m and no bias, for every non-constant labelling of ideal codes (S1.4).

    Rank C − 1 with the dependency Σ α_m μ_m = 0, α > 0: the achievable score vectors (w·μ_m)_m are exactly
    those orthogonal to α, so class k gets the scores 1 on its orbits S_k and −α(S_k)/α(S_kᶜ) on the others
    (orthogonal to α, negative off S_k), and an unused class the scores 0; each row is then solved exactly.
    The same scores are used at rank C when the left singular vector of the smallest singular value is
    one-signed: they are orthogonal to it, so W has no component along that direction, which a rank test
    at the checker's tolerance may call zero (solving along it would amplify deviations by 1/σ_C).
    Otherwise rank C: the minimum-norm solution of W μ_m = onehot(label_m); not ideal: the least-squares
    one-hot solution, which may not fit."""
    C, d = codes.shape
    s = np.sqrt(np.einsum("ij,ij->", codes, codes) / C) or 1.0
    X = codes / s
    U, sv, _ = np.linalg.svd(X, full_matrices=True)
    T = np.zeros((C, n_classes))
    T[np.arange(C), orbit_labels] = 1.0
    alpha = U[:, -1] * np.sign(U[np.argmax(np.abs(U[:, -1])), -1]) if C > 1 else np.ones(1)
    rank = int(np.count_nonzero(sv > 1e-12 * (sv[0] if len(sv) else 0.0))) if len(sv) else 0
    if C > 1 and rank >= C - 1 and np.all(alpha > 0) and len(np.unique(orbit_labels)) > 1:
        for k in range(n_classes):
            inside = orbit_labels == k
            if inside.any():
                T[:, k] = np.where(inside, 1.0, -alpha[inside].sum() / alpha[~inside].sum())
    sol, *_ = np.linalg.lstsq(X, T, rcond=None)
    return {"kind": "linear", "W": sol.T / s, "b": np.zeros(n_classes)}


def mlp_witness(codes: np.ndarray, orbit_labels: np.ndarray, n_classes: int, seed: int = 0) -> dict:
    """One-hidden-layer ReLU MLP of width 2(C−1) fitting the labelling (see module docstring).

    The direction u is the best (largest smallest gap between consecutive projections, relative to
    the projections' range) among the top principal direction and 32 Gaussian directions.
    """
    C, d = codes.shape
    mu = codes.mean(axis=0)
    X = codes - mu
    rng = np.random.default_rng(seed)
    cands: list = [rng.standard_normal(d) for _ in range(32)]
    if C > 1:
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        cands.insert(0, vt[0])
    best: np.ndarray | None = None
    best_gap = -1.0
    for u in cands:
        u = u / np.linalg.norm(u)
        t = np.sort(X @ u)
        rng_t = t[-1] - t[0]
        gap = float(np.min(np.diff(t)) / rng_t) if C > 1 and rng_t > 0 else 0.0
        if gap > best_gap:
            best, best_gap = u, gap
    assert best is not None  # 32 Gaussian candidates at least
    u = best
    t = X @ u
    order = np.argsort(t, kind="stable")
    s = t[order]
    V = np.zeros((C, n_classes))
    V[np.arange(C), orbit_labels[order]] = 1.0
    W1: list = []
    b1: list = []
    W2: list = []
    for i in range(C - 1):
        g = s[i + 1] - s[i]
        a, b = s[i] + g / 4, s[i + 1] - g / 4
        delta = (V[i + 1] - V[i]) / max(b - a, 1e-300)
        W1 += [u, u]
        b1 += [-(a + u @ mu), -(b + u @ mu)]  # units act on z: u·(z − μ̄) − a = u·z − (a + u·μ̄)
        W2 += [delta, -delta]
    if not W1:  # one orbit: constant score
        W1, b1, W2 = [np.zeros(d)], [0.0], [np.zeros(n_classes)]
    return {
        "kind": "mlp",
        "activation": "relu",
        "W1": np.asarray(W1),
        "b1": np.asarray(b1),
        "W2": np.asarray(W2).T,
        "b2": V[0].copy(),
        "direction_gap": best_gap,
    }


def nearest_code_witness(codes: np.ndarray, orbit_labels: np.ndarray, n_classes: int) -> dict:
    """Max-affine probe: class k scores max over its orbits m of ‖z − μ̄‖² − ‖z − μ_m‖² (see module docstring)."""
    mu = codes.mean(axis=0)
    X = codes - mu
    W = 2.0 * X
    b = -np.einsum("ij,ij->i", X, X) - W @ mu  # unit m: W_m · z + b_m = 2 X_m·(z − μ̄) − ‖X_m‖²
    return {
        "kind": "maxout",
        "W": W,
        "b": b,
        "unit_class": np.asarray(orbit_labels, dtype=np.int64),
        "n_classes": int(n_classes),
    }


#: the MLP witness constructions, tried in this order (the first that fits every point is kept)
MLP_WITNESSES = (mlp_witness, nearest_code_witness)


def erm_failure_probe(z_seen: np.ndarray, z_other: np.ndarray, bias: bool = True) -> dict:
    """2-class probe predicting class 1 on ``z_seen`` and class 0 on ``z_other``.

    Affine: the perpendicular bisector of the two points, scaled so that the score is ±1/2 on them.
    Homogeneous (``bias=False``): w = ẑ_seen − ẑ_other, with w·z_seen = ‖z_seen‖(1 − cos θ) > 0 and
    w·z_other = ‖z_other‖(cos θ − 1) < 0 whenever the directions differ (a zero z_other ties)."""
    d = len(z_seen)
    if not bias:
        ns, no = np.linalg.norm(z_seen), np.linalg.norm(z_other)
        w = (z_seen / ns if ns > 0 else 0.0) - (z_other / no if no > 0 else 0.0)
        return {"kind": "linear", "W": np.vstack([np.zeros(d), w]), "b": np.zeros(2)}
    diff = z_seen - z_other
    w = diff / float(diff @ diff)
    b = -float(w @ (z_seen + z_other)) / 2.0
    return {"kind": "affine", "W": np.vstack([np.zeros(d), w]), "b": np.array([0.0, b])}


def scores(probe: dict, Z: np.ndarray) -> np.ndarray:
    """Class scores of a probe on the rows of Z."""
    if probe["kind"] == "mlp":
        H = np.maximum(Z @ probe["W1"].T + probe["b1"], 0.0)
        return H @ probe["W2"].T + probe["b2"]
    if probe["kind"] == "maxout":
        U = Z @ probe["W"].T + probe["b"]
        S = np.full((len(Z), probe["n_classes"]), -np.inf)
        for k in range(probe["n_classes"]):
            units = probe["unit_class"] == k
            if units.any():
                S[:, k] = U[:, units].max(axis=1)
        return S
    return Z @ probe["W"].T + probe["b"]


def predict(probe: dict, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and whether the top score is strictly above the runner-up (no tie)."""
    S = scores(probe, Z)
    if S.shape[1] == 1:
        return np.zeros(len(Z), dtype=np.int64), np.ones(len(Z), dtype=bool)
    top2 = np.partition(S, -2, axis=1)[:, -2:]
    pred = np.argmax(S, axis=1)
    with np.errstate(invalid="ignore"):
        scale = np.abs(top2).max(axis=1)  # relative: a tie is a tie at any scale of z
    strict = (top2[:, 1] - top2[:, 0]) > 1e-9 * scale
    return pred, strict


def evaluate(probe: dict, rep: Representation, point_labels: np.ndarray) -> dict:
    """Accuracy of ``probe`` on all N points (streaming); ties count as errors.

    Returns ``{"n_errors": int, "accuracy": float, "first_error": index or None}``.
    """
    errors, first = 0, None
    for start, block in rep.chunks():
        pred, strict = predict(probe, block)
        wrong = (pred != point_labels[start : start + len(block)]) | ~strict
        k = int(wrong.sum())
        if k and first is None:
            first = start + int(np.argmax(wrong))
        errors += k
    return {"n_errors": errors, "accuracy": 1.0 - errors / rep.n, "first_error": first}


def in_original_units(probe: dict, factor: float) -> dict:
    """The probe whose decisions on z are ``probe``'s on ``factor · z`` (``factor`` a power of two): converts a
    probe built on rescaled data back to the user's units.

    Notes
    -----
    W (f z) + b = s (W (f/s) z + b/s) for every s > 0, and ReLU and max commute with s (positive
    homogeneity), so first-layer weights times f/s and every bias divided by s give the same argmax, with
    scores divided by s. s = 1 (scores kept) unless f·W leaves float64's normal range (subnormal or huge
    data); then s = 2^⌊k/2⌋ for f = 2^k, which keeps both products in range.
    """
    if factor == 1.0:
        return probe
    key = "W1" if probe["kind"] == "mlp" else "W"
    top = float(np.abs(probe[key]).max(initial=0.0))
    with np.errstate(over="ignore", under="ignore"):
        kept = top * factor
    if top == 0.0 or (np.isfinite(kept) and kept >= np.finfo(np.float64).tiny):
        return {**probe, key: probe[key] * factor}
    s = float(np.ldexp(1.0, int(np.log2(factor)) // 2))
    biases = {b: probe[b] / s for b in ("b", "b1", "b2") if b in probe}
    return {**probe, key: probe[key] * (factor / s), **biases}


def probe_to_json(probe: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in probe.items()}


@dataclass
class Witness:
    """A probe fitting a given task, with its evaluation on all N points.

    Attributes
    ----------
    probe : dict
        The probe (``kind`` and its weights as arrays), acting on the user's Z.
    classes : list
        The task's label values.
    evaluation : dict
        :func:`evaluate`'s result.
    """

    probe: dict[str, Any]
    classes: list[Any]
    evaluation: dict[str, Any]

    @property
    def fits(self) -> bool:
        return self.evaluation["n_errors"] == 0

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON form (``witness``)."""
        return {
            "probe": probe_to_json(self.probe),
            "classes": self.classes,
            "evaluation": self.evaluation,
            "fits": self.fits,
        }
