"""Theory -> objective configuration, and exact objective values on finite ISSL problems.

Two entry points (the ``idealssl derive`` subcommand prints them):

* :func:`configure` — for a probe family and a number C of orbits, what the theory prescribes: the
  minimal representation dimension, which head must lie in the probe family, DISSL's number of
  teacher categories and the constraint on λ and β, CISSL's normalisation/temperature assumptions,
  the exact optimum of the ideal objective, and whether a given dimension can be ideal.
* :func:`exact` — on a finite problem (N × d representation Z, orbits), the population values of
  the ideal ISSL log loss (optimal unit-norm weights), its normalised (whitened) version, the CISSL
  population loss and the DISSL population objective at the optimal teacher and student, each next
  to its theoretical optimum.

Every quantity cites a statement of ``theory/statements.md`` (S1..S8), where its proof and tests are
listed. Closed forms live in :mod:`idealssl.theory_math`.

References
----------
Dubois, Hashimoto, Ermon, Liang. Improving Self-Supervised Learning by Characterizing Idealized
Representations. NeurIPS 2022 (arXiv 2209.06235): Thm. 1, Prop. 2, Eq. 6, Prop. 3, Eqs. 7 and 9.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .errors import InputError
from .theory_math import (
    PROBES,
    check_classes,
    check_probe,
    dissl_teacher_optimum,
    entropy,
    ideal_log_loss_optimum,
    minimal_dimension,
    regular_simplex,
    worst_case_erm_risk,
)

__all__ = [
    "PROBES", "configure", "Configuration", "exact", "ExactReport", "ideal_log_loss",
    "ideal_log_loss_minimum", "normalised_representation", "ideal_log_loss_optimum", "regular_simplex",
    "minimal_dimension", "worst_case_erm_risk", "dissl_teacher_optimum",
]

DEFAULT_LAMBDA = 2.3  # the released DISSL code's lambda_maximality (issl-theory.md 3.1)
DEFAULT_BETA = 0.8  # the released DISSL code's beta_det_inv (paper's alpha)


# ======================================================================= the ideal log loss
def _softmax_rows(A: np.ndarray) -> np.ndarray:
    A = A - A.max(axis=1, keepdims=True)
    E = np.exp(A)
    return E / E.sum(axis=1, keepdims=True)


def _loss_grad(W: np.ndarray, Z: np.ndarray, y: np.ndarray, w: np.ndarray, tau: float, T: Optional[np.ndarray] = None):
    """Weighted softmax cross-entropy Σ_x ω_x CE(target_x, softmax(W z_x / τ)) and its gradient in W.

    ``y`` are hard targets (orbit indices) unless ``T`` (N × K soft targets) is given.
    """
    A = Z @ W.T / tau
    A = A - A.max(axis=1, keepdims=True)
    lse = np.log(np.exp(A).sum(axis=1))
    P = np.exp(A - lse[:, None])
    if T is None:
        f = float(np.dot(w, lse - A[np.arange(len(y)), y]))
        R = P
        R[np.arange(len(y)), y] -= 1.0
    else:
        f = float(np.dot(w, (T * (lse[:, None] - A)).sum(axis=1)))
        R = P - T
    G = (R * w[:, None]).T @ Z / tau
    return f, G


def _sphere_min(Z, y, w, C, tau, starts, maxiter=2000):
    """min over unit-norm rows of W by L-BFGS on W = V / ‖V‖ (rows), from each start."""
    from scipy.optimize import minimize

    d = Z.shape[1]

    def fg(x):
        V = x.reshape(C, d)
        nv = np.linalg.norm(V, axis=1, keepdims=True)
        nv = np.maximum(nv, 1e-12)
        W = V / nv
        f, G = _loss_grad(W, Z, y, w, tau)
        GV = (G - (G * W).sum(axis=1, keepdims=True) * W) / nv
        return f, GV.ravel()

    best_f, best_W = np.inf, None
    for W0 in starts:
        res = minimize(fg, W0.ravel(), jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-11})
        V = res.x.reshape(C, d)
        W = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
        f = _loss_grad(W, Z, y, w, tau)[0]
        if f < best_f:
            best_f, best_W = f, W
    return best_f, best_W


def _signs_min(Z, y, w, C, tau, starts):
    """d = 1: unit-norm weights are signs; exhaustive for C ≤ 14, else greedy sign flips."""
    import itertools

    if C <= 14:
        best_f, best_W = np.inf, None
        for s in itertools.product((-1.0, 1.0), repeat=C):
            W = np.array(s)[:, None]
            f = _loss_grad(W, Z, y, w, tau)[0]
            if f < best_f:
                best_f, best_W = f, W
        return best_f, best_W
    best_f, best_W = np.inf, None
    for W0 in starts:
        W = np.where(W0 >= 0, 1.0, -1.0)
        f = _loss_grad(W, Z, y, w, tau)[0]
        improved = True
        while improved:
            improved = False
            for m in range(C):
                W[m] *= -1
                f2 = _loss_grad(W, Z, y, w, tau)[0]
                if f2 < f - 1e-15:
                    f, improved = f2, True
                else:
                    W[m] *= -1
        if f < best_f:
            best_f, best_W = f, W.copy()
    return best_f, best_W


def _ball_min(Z, y, w, C, tau, W0, maxiter=5000, tol=1e-10):
    """Global min over rows of W in the unit ball (a convex problem) by accelerated projected
    gradient (FISTA with backtracking), warm-started at W0."""

    def proj(W):
        n = np.linalg.norm(W, axis=1, keepdims=True)
        return W / np.maximum(n, 1.0)

    X = proj(W0.copy())
    Y = X.copy()
    t = 1.0
    L = max(1.0, float(np.max(np.einsum("ij,ij->i", Z, Z))) / tau**2)
    fX = _loss_grad(X, Z, y, w, tau)[0]
    for _ in range(maxiter):
        fY, GY = _loss_grad(Y, Z, y, w, tau)
        while True:
            Xn = proj(Y - GY / L)
            D = Xn - Y
            fn = _loss_grad(Xn, Z, y, w, tau)[0]
            if fn <= fY + np.sum(GY * D) + 0.5 * L * np.sum(D * D) + 1e-15:
                break
            L *= 2.0
        if float(np.sqrt(np.sum(D * D))) * L < tol:  # gradient mapping ~ 0: optimal
            if fn < fX:
                X, fX = Xn, fn
            break
        if fn > fX + 1e-15 * (1.0 + abs(fX)):  # monotone restart
            t, Y = 1.0, X.copy()
            continue
        tn = 0.5 * (1 + math.sqrt(1 + 4 * t * t))
        Y = Xn + ((t - 1) / tn) * (Xn - X)
        X, fX, t = Xn, min(fn, fX) if fn <= fX else fn, tn
        L *= 0.9
    return fX, X


@dataclass
class LogLossValue:
    """Value of the ideal log loss on a finite problem.

    Attributes
    ----------
    value : float
        Minimum found over unit-norm weights (the paper's W₁): an upper bound on the infimum.
    lower_bound : float
        Global minimum over weights in the unit ball (a convex relaxation, solved to ~1e-10): a lower
        bound on the unit-norm infimum.
    exact : bool
        ``value − lower_bound ≤ 1e-7``: then ``value`` is the infimum.
    weights : ndarray (C, d)
        The unit-norm weights reaching ``value``.
    """

    value: float
    lower_bound: float
    exact: bool
    weights: np.ndarray

    def to_dict(self) -> dict:
        return {"value": self.value, "lower_bound": self.lower_bound, "exact": self.exact}


def _orbit_weights(labels: np.ndarray, C: int, p: Optional[np.ndarray]) -> np.ndarray:
    """ω_x = (1/C) p_x / p_{M(x)}: equiprobable orbits (Prop. 3), p within each orbit."""
    p = np.full(len(labels), 1.0) if p is None else np.asarray(p, dtype=np.float64)
    mass = np.bincount(labels, weights=p, minlength=C)
    if np.any(mass <= 0):
        # an orbit of zero probability carries no weight under p; fall back to uniform within it
        p = np.where(mass[labels] > 0, p, 1.0)
        mass = np.bincount(labels, weights=p, minlength=C)
    return p / mass[labels] / C


def ideal_log_loss(Z, orbits, temperature: float = 1.0, restarts: int = 4, seed: int = 0) -> LogLossValue:
    """The ideal ISSL log loss of Dubois et al. (Eq. 6) on a finite problem (statements.md S4).

    L_I(φ) = inf_{‖w_m‖ = 1} Σ_m (1/C) E_{x ∈ m} [ −log softmax_m( w_{m'}ᵀ φ(x) / τ ) ],

    i.e. multinomial logistic regression of the orbit index on the representation with unit-norm
    class weights, under equiprobable orbits (the assumption of Prop. 3; within an orbit points are
    weighted by the problem's marginal p). The representation is used as given (not normalised).

    Parameters
    ----------
    Z : (N, d) array
    orbits : length-N labels, a partition list, a dict in the orbits-JSON form, or an
        :class:`idealssl.problem.Orbits`.
    temperature : float
    restarts : int
        Random starts of the non-convex unit-sphere minimisation, beside the two deterministic starts
        (normalised codes, normalised centred codes).

    Returns
    -------
    LogLossValue
        ``value`` (best unit-norm weights found) and ``lower_bound`` (exact minimum of the convex
        relaxation ‖w_m‖ ≤ 1); they agree at ideal representations.
    """
    Zf, orb = _problem(Z, orbits)
    return _ideal_log_loss(Zf, orb.labels, orb.n_orbits, _orbit_weights(orb.labels, orb.n_orbits, orb.p),
                           temperature, restarts, seed)


def _ideal_log_loss(Z, labels, C, w, temperature=1.0, restarts=4, seed=0) -> LogLossValue:
    if not (temperature > 0 and math.isfinite(temperature)):
        raise InputError(f"temperature must be a positive number, got {temperature!r}")
    N, d = Z.shape
    rng = np.random.default_rng(seed)
    codes = np.zeros((C, d))
    np.add.at(codes, labels, Z * w[:, None] * C)
    starts = []
    for A in (codes, codes - codes.mean(axis=0)):
        n = np.linalg.norm(A, axis=1, keepdims=True)
        if np.all(n > 1e-12):
            starts.append(A / n)
    starts += [rng.normal(size=(C, d)) for _ in range(restarts)]
    if d == 1:
        f, W = _signs_min(Z, labels, w, C, temperature, starts)
    else:
        f, W = _sphere_min(Z, labels, w, C, temperature, starts)
    lb, _ = _ball_min(Z, labels, w, C, temperature, W)
    lb = min(lb, f)
    return LogLossValue(float(f), float(lb), bool(f - lb <= 1e-7), W)


def normalised_representation(Z, orbits, probe: str = "linear", rtol: float = 1e-7):
    """The affine-invariant normalisation behind the normalised ideal log loss (statements.md S5).

    Affine probes: z ↦ Σ_T^{-1/2} (z − μ̄) / sqrt(r), with μ̄ the orbit-weighted mean, Σ_T the
    orbit-weighted total covariance (pseudo-inverse on its range, singular values below
    ``rtol`` × the largest dropped) and r its rank, so the result is centred with orbit-weighted
    E‖z‖² = 1. Homogeneous probes (``linear-nobias``): the same on the problem with one extra orbit,
    a single point at the origin (codes are linearly independent iff they are affinely independent
    together with 0).

    Returns
    -------
    Zn : ndarray (N', r), labels : ndarray (N',), C' : int, weights : ndarray (N',)
    """
    Zf, orb = _problem(Z, orbits)
    check_probe(probe)
    if probe == "mlp":
        raise InputError("the normalised ideal log loss is defined for linear and linear-nobias probes, not mlp")
    labels, C = orb.labels, orb.n_orbits
    w = _orbit_weights(labels, C, orb.p)
    if probe == "linear-nobias":
        Zf = np.vstack([Zf, np.zeros((1, Zf.shape[1]))])
        labels = np.append(labels, C)
        w = np.append(w * C / (C + 1), 1.0 / (C + 1))
        C = C + 1
    mu = w @ Zf
    X = (Zf - mu) * np.sqrt(w)[:, None]
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = int(np.count_nonzero(s > rtol * s[0])) if s.size and s[0] > 0 else 0
    if r == 0:
        return np.zeros((len(labels), 1)), labels, C, w
    Zn = (Zf - mu) @ Vt[:r].T / s[:r] / math.sqrt(r)
    return Zn, labels, C, w


def normalised_ideal_log_loss(Z, orbits, probe: str = "linear", temperature: float = 1.0, rtol: float = 1e-7,
                              restarts: int = 2, seed: int = 0) -> LogLossValue:
    """Ideal log loss of :func:`normalised_representation` (statements.md S5.1).

    Equals L*(C) (L*(C+1) for ``linear-nobias``) iff the representation is invariant with affinely
    (linearly) independent codes, i.e. ideal for the probe family by Theorem 1; larger otherwise.
    """
    Zn, labels, C, w = normalised_representation(Z, orbits, probe, rtol)
    return _ideal_log_loss(Zn, labels, C, w, temperature, restarts, seed)


def ideal_log_loss_minimum(C: int, d: int, temperature: float = 1.0, restarts: int = 6, seed: int = 0) -> float:
    """min over unit-norm codes in R^d and unit-norm weights of the ideal log loss, C equiprobable orbits.

    Equals L*(C, τ) for d ≥ C − 1 (the regular simplex, S4.2); for d < C − 1 it is strictly larger
    (S4.3) and is computed here by multi-start L-BFGS over codes and weights (an upper bound on the
    minimum; invariant codes suffice because, for fixed weights, the loss is a sum of per-point terms).
    """
    from scipy.optimize import minimize

    C = check_classes(C, "C")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise InputError(f"dimension must be a positive integer, got {d!r}")
    if d >= C - 1:
        return ideal_log_loss_optimum(C, temperature)
    rng = np.random.default_rng(seed)
    idx = np.arange(C)

    def fg(x):
        V = x.reshape(2, C, d)
        nz = np.maximum(np.linalg.norm(V[0], axis=1, keepdims=True), 1e-12)
        nw = np.maximum(np.linalg.norm(V[1], axis=1, keepdims=True), 1e-12)
        Zc, W = V[0] / nz, V[1] / nw
        A = Zc @ W.T / temperature
        P = _softmax_rows(A)
        f = float(np.mean(np.log(np.exp(A - A.max(axis=1, keepdims=True)).sum(axis=1)) + A.max(axis=1) - A[idx, idx]))
        R = P.copy()
        R[idx, idx] -= 1.0
        R /= C * temperature
        GZ, GW = R @ W, R.T @ Zc
        GZ = (GZ - (GZ * Zc).sum(axis=1, keepdims=True) * Zc) / nz
        GW = (GW - (GW * W).sum(axis=1, keepdims=True) * W) / nw
        return f, np.concatenate([GZ.ravel(), GW.ravel()])

    best = np.inf
    if d == 1 and C <= 14:
        # codes and weights are signs; up to relabelling the orbits, the codes are k times +1 then
        # C - k times -1, so enumerating k = 0..C and all 2^C weight signs is exhaustive
        for k in range(C + 1):
            Zc = np.where(np.arange(C) < k, 1.0, -1.0)[:, None]
            best = min(best, _signs_min(Zc, idx, np.full(C, 1.0 / C), C, temperature, [])[0])
        return float(best)
    for r in range(restarts):
        x0 = rng.normal(size=2 * C * d)
        res = minimize(fg, x0, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
        best = min(best, float(res.fun))
    return best


# ======================================================================= configuration
@dataclass
class Configuration:
    """What the theory prescribes for a probe family and C orbits (``idealssl derive --probe``).

    Attributes
    ----------
    probe, classes : the inputs.
    minimal_dimension : int
        Smallest d for which an ideal encoder exists (S1.3/S1.4/S2.1).
    dim, dim_can_be_ideal, dim_reason : the optional ``--dim`` and its verdict.
    ideal_objective : dict
        L*(C) at temperature 1, the simplex cosine, and (for ``--dim`` < C − 1, linear probes) the
        strictly larger minimum in that dimension.
    cissl, dissl : dict
        Head placement and hyper-parameter constraints (S6, S7).
    sample_efficiency : dict
        W_n = (1 − 1/C)^n at a few n (S3.1).
    statements : dict
        name -> statement number in theory/statements.md.
    """

    probe: str
    classes: int
    minimal_dimension: int
    dim: Optional[int]
    dim_can_be_ideal: Optional[bool]
    dim_reason: Optional[str]
    ideal_objective: dict
    cissl: dict
    dissl: dict
    sample_efficiency: dict
    statements: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_PROBE_WORDS = {
    "linear": ("affine probes f(z) = argmax(Wz + b)", "a linear map (with bias) of the representation",
               "invariant, with affinely independent orbit codes (rank of the centred codes = C - 1)"),
    "linear-nobias": ("homogeneous linear probes f(z) = argmax(Wz)", "a linear map without bias",
                      "invariant, with linearly independent orbit codes (rank of the codes = C)"),
    "mlp": ("MLP probes (universal idealisation)", "an MLP with the downstream probe's architecture",
            "invariant, with distinct orbit codes (plus enough MLP capacity: width-dependent)"),
}


def configure(probe: str, classes: int, dim: Optional[int] = None, dissl_categories: Optional[int] = None,
              dissl_lambda: float = DEFAULT_LAMBDA, dissl_beta: float = DEFAULT_BETA,
              temperature: float = 1.0, n_values=(1, 2, 5, 10, 20, 50, 100)) -> Configuration:
    """The objective configuration the theory prescribes (statements.md S1-S7).

    Parameters
    ----------
    probe : {"linear", "linear-nobias", "mlp"}
        Downstream probe family.
    classes : int
        C, the number of augmentation orbits (equivalence classes of ~).
    dim : int, optional
        A representation dimension to judge.
    dissl_categories : int, optional
        K, DISSL's number of teacher categories (default C, the smallest maximal choice).
    dissl_lambda, dissl_beta : float
        DISSL's maximality weight λ and teacher cross-view weight β (code names; paper α = β),
        used to evaluate the determinism constraint and the teacher optimum.
    temperature : float
        Temperature of the ideal log loss / CISSL logits.
    """
    check_probe(probe)
    C = check_classes(classes)
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1):
        raise InputError(f"--dim must be a positive integer, got {dim!r}")
    K = C if dissl_categories is None else dissl_categories
    dmin = minimal_dimension(probe, C)
    fam, head, cond = _PROBE_WORDS[probe]
    Lstar = ideal_log_loss_optimum(C, temperature)
    ideal = {
        "name": "ideal ISSL log loss L_I (Dubois et al. Eq. 6), unit-norm weights and codes, equiprobable orbits",
        "temperature": temperature,
        "optimum": Lstar,
        "optimum_formula": "log(1 + (C-1) exp(-C / ((C-1) tau)))",
        "minimiser": "regular simplex: orbit codes = unit vectors with pairwise cosine -1/(C-1), weights w_m = code of orbit m",
        "simplex_cosine": -1.0 / (C - 1),
        "simplex_dimension": C - 1,
    }
    reason = can = None
    if dim is not None:
        dim = int(dim)
        can = dim >= dmin
        if can:
            reason = f"d = {dim} >= {dmin}: an encoder that is {cond} exists"
        elif probe == "linear":
            reason = f"d = {dim} < C - 1 = {dmin}: C codes in R^{dim} are affinely dependent, so some invariant task is not linearly realisable (Radon)"
        else:
            reason = f"d = {dim} < C = {dmin}: C codes in R^{dim} are linearly dependent, so some invariant task is not realisable by homogeneous probes"
        if probe != "mlp" and dim < C - 1:
            if C <= 10:
                ideal["minimum_in_dim"] = ideal_log_loss_minimum(C, dim, temperature, restarts=4)
                ideal["minimum_in_dim_note"] = f"numerical minimum over unit-norm codes in R^{dim} (> optimum: the simplex needs d >= C - 1)"
            else:
                ideal["minimum_in_dim"] = None
                ideal["minimum_in_dim_note"] = "not computed for C > 10 (non-convex, slow); strictly larger than the optimum (S4.3)"
    # ---- CISSL (S6)
    cissl = {
        "student_head": f"in the probe family: {head}, then L2-normalised (the branch whose output is dotted with the teacher's)",
        "teacher_head": "as expressive as possible (wide MLP g on the augmented view), L2-normalised",
        "asymmetric": True,
        "why": "with a shared (symmetric) head the optimum only makes g(phi(x)) ideal, not phi(x): 1-D codes reach it (S6.3)",
        "assumptions": "unit-norm representations and teacher outputs, temperature tau, equiprobable orbits, consistent NCE (k >= 1 negatives, k -> infinity for the exact population form), augmentations X~ - M(X) - X",
        "temperature": temperature,
        "population_optimum": Lstar - math.log(C),
        "population_optimum_formula": "L*(C, tau) - log C  (InfoNCE normalised by the number of candidates)",
    }
    if probe == "mlp":
        cissl["note"] = "MLP probes: replace phi(x) by h(phi(x)) with h of the probe's MLP architecture (CISSL-MLP)"
    # ---- DISSL (S7)
    opt = dissl_teacher_optimum(C, K, dissl_lambda, dissl_beta)
    a = 1.0 + dissl_beta
    dissl = {
        "student_head": f"in the probe family: {head}, then softmax over the K categories",
        "teacher_head": "as expressive as possible (wide MLP), softmax over the K categories",
        "categories": K,
        "categories_rule": f"K >= C = {C} for a maximal teacher (K = C exactly when C is known); with K < C the teacher can only estimate a coarsening of M",
        "lambda": dissl_lambda,
        "beta": dissl_beta,
        "lambda_constraint": "0 < lambda < 1 + beta (then every optimal teacher is deterministic); lambda > 1 + beta with K > C makes every optimal teacher non-deterministic",
        "lambda_ok": bool(0 < dissl_lambda < a or (K <= C and C % K == 0 and dissl_lambda > 0)),
        "teacher_optimum": opt.to_dict(),
        "objective": "CE(q(x1), s(x2)) + beta CE(q(x1), q(x2)) - lambda H(mean q); at the optimal student >= (1+beta) H(M^|X) - lambda H(M^)",
        "paper_names": "code lambda = paper beta (maximality), code beta = paper alpha (teacher cross-view term)",
    }
    if K > C and dissl_lambda > a:
        dissl["warning"] = f"lambda = {dissl_lambda} > 1 + beta = {a}: with K = {K} > C = {C} categories the optimal teacher is not deterministic"
    ns = [int(n) for n in n_values]
    samp = {"n": ns, "W_n": [worst_case_erm_risk(n, classes=C) for n in ns],
            "formula": "W_n = (1 - 1/C)^n (equiprobable orbits, ideal encoder)"}
    statements = {"dimension": "S1.3-S1.4 / S2.1", "ideal_objective": "S4.2-S4.3", "cissl": "S6.1-S6.3",
                  "dissl": "S7.1-S7.3", "sample_efficiency": "S3.1"}
    return Configuration(probe, C, dmin, dim, can, reason, ideal, cissl, dissl, samp, statements)


# ======================================================================= exact finite-problem values
def _problem(Z, orbits):
    """Validate (Z, orbits) with the shared loaders; returns (float64 array, Orbits)."""
    import os

    from .problem import Orbits, load_orbits
    from .representation import Representation, from_array, load_representation

    if isinstance(Z, (str, os.PathLike)):
        rep = load_representation(Z)
    else:
        rep = Z if isinstance(Z, Representation) else from_array(Z)
    arr = np.asarray(rep.to_array(), dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"{rep.source}: expected an N x d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{rep.source}: contains NaN or infinite values")
    orb = orbits if isinstance(orbits, Orbits) else load_orbits(orbits, n=arr.shape[0])
    if orb.n != arr.shape[0]:
        raise InputError(f"{orb.source}: the orbits cover {orb.n} points but the representation has N = {arr.shape[0]} rows")
    if orb.n_orbits < 2:
        raise InputError(f"{orb.source}: only one orbit; every invariant task is then constant")
    return arr, orb


def _row_normalise(Z):
    n = np.linalg.norm(Z, axis=1, keepdims=True)
    return np.where(n > 0, Z / np.where(n > 0, n, 1.0), 0.0)


def _student_min(Z, labels, T, w, bias: bool, maxiter=20000):
    """inf over affine (or homogeneous) students of Σ_x ω_x CE(T_x, softmax(W z_x + b)): convex."""
    from scipy.optimize import minimize

    N, d = Z.shape
    K = T.shape[1]
    X = np.hstack([Z, np.ones((N, 1))]) if bias else Z
    D = X.shape[1]
    # scale features for conditioning (the infimum is scale-invariant)
    sc = np.sqrt(np.maximum((w[:, None] * X * X).sum(axis=0), 1e-300))
    Xs = X / sc

    def fg(x):
        W = x.reshape(K, D)
        f, G = _loss_grad(W, Xs, labels, w, 1.0, T)
        return f, G.ravel()

    res = minimize(fg, np.zeros(K * D), jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "maxfun": 4 * maxiter, "ftol": 0.0, "gtol": 1e-12})
    return float(res.fun)


def _student_universal(Z, labels, T, w):
    """inf over all functions s of the code: Σ_z P(z) H(E[T | z]) (points grouped by equal rows)."""
    _, inv = np.unique(Z, axis=0, return_inverse=True)
    inv = inv.ravel()
    G = inv.max() + 1
    Pz = np.bincount(inv, weights=w, minlength=G)
    M = np.zeros((G, T.shape[1]))
    np.add.at(M, inv, T * w[:, None])
    M /= Pz[:, None]
    return float(np.dot(Pz, entropy(M, axis=1)))


@dataclass
class ExactReport:
    """Exact population objectives on a finite problem (``idealssl derive --exact``).

    Attributes
    ----------
    n, d, classes : problem size.
    probe : str
    ideal_log_loss : dict
        On Z as given; ``optimum`` = L*(C) holds as a lower bound only for orbit-weighted
        E‖z‖² ≤ 1 (S4.2), reported with ``mean_sq_norm``.
    ideal_log_loss_unit : dict
        On the row-normalised representation (Prop. 3's unit-norm codes); ``gap`` to L*(C).
    normalised_ideal_log_loss : dict or None
        On the whitened representation (S5.1); ``reaches_optimum`` ⟺ ideal for the probe family.
    cissl : dict
        Population CISSL loss (unit-norm φ and g, infinite negatives, S6.1) and its optimum.
    dissl : dict
        Population DISSL objective at the theory's optimal teacher and the optimal student in the
        probe family (S7), next to the teacher optimum.
    sample_efficiency : dict
        W_n of an ideal encoder with these orbit masses (S3.1).
    """

    n: int
    d: int
    classes: int
    probe: str
    temperature: float
    ideal_log_loss: dict
    ideal_log_loss_unit: dict
    normalised_ideal_log_loss: Optional[dict]
    cissl: dict
    dissl: dict
    sample_efficiency: dict

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def exact(Z, orbits, probe: str = "linear", temperature: float = 1.0, dissl_categories: Optional[int] = None,
          dissl_lambda: float = DEFAULT_LAMBDA, dissl_beta: float = DEFAULT_BETA, tol: float = 1e-6,
          restarts: int = 4, seed: int = 0, n_values=(1, 2, 5, 10, 20, 50, 100)) -> ExactReport:
    """Exact population values of the ideal objectives on a finite problem (statements.md S4-S7).

    Parameters
    ----------
    Z : (N, d) array, path to ``.npy``/``.npz``, or :class:`idealssl.representation.Representation`
    orbits : labels, partition list, orbits-JSON path or dict, or :class:`idealssl.problem.Orbits`
    probe : {"linear", "linear-nobias", "mlp"}
        Probe family: selects the normalisation (S5.1) and DISSL's student family.
    temperature : float
        τ of the ideal log loss and of CISSL.
    dissl_categories, dissl_lambda, dissl_beta :
        DISSL's K (default C), λ and β (code names).
    tol : float
        Tolerance for "reaches its optimum".
    restarts, seed :
        Random starts of the non-convex unit-sphere minimisations.

    Notes
    -----
    Population = the finite problem itself: equiprobable orbits, points of an orbit weighted by the
    problem's p, augmentations uniform over the orbit of the input (X̃ − M(X) − X). Values on the
    unit sphere come from local minimisation (upper bounds); each has a ``lower_bound`` from a convex
    relaxation, and ``exact`` says when the two agree. Cost: O(N·C·d) per optimiser iteration, a
    few seconds for N ~ 10³, C ~ 50, d ~ 30; the whole array is held in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from idealssl import derive
    >>> Z = np.repeat(derive.regular_simplex(4), 2, axis=0); orbits = np.repeat(np.arange(4), 2)
    >>> r = derive.exact(Z, orbits)
    >>> bool(r.normalised_ideal_log_loss["reaches_optimum"]), round(r.cissl["optimum"], 6)
    (True, -0.803637)
    """
    check_probe(probe)
    Zf, orb = _problem(Z, orbits)
    C, labels = orb.n_orbits, orb.labels
    w = _orbit_weights(labels, C, orb.p)
    Lstar = ideal_log_loss_optimum(C, temperature)

    raw = _ideal_log_loss(Zf, labels, C, w, temperature, restarts, seed)
    msq = float(np.dot(w, np.einsum("ij,ij->i", Zf, Zf)))
    ideal_raw = dict(raw.to_dict(), optimum=Lstar, mean_sq_norm=msq,
                     note="representation as given; L* is a lower bound only when the orbit-weighted mean squared norm is <= 1")
    Zu = _row_normalise(Zf)
    unit = _ideal_log_loss(Zu, labels, C, w, temperature, restarts, seed)
    ideal_unit = dict(unit.to_dict(), optimum=Lstar, gap=unit.value - Lstar,
                      reaches_optimum=bool(unit.value - Lstar <= tol),
                      note="rows L2-normalised (Prop. 3): reaches L* iff invariant and the codes form a regular simplex")
    norm = None
    if probe != "mlp":
        Zn, ln, Cn, wn = normalised_representation(Zf, orb, probe)
        nv = _ideal_log_loss(Zn, ln, Cn, wn, temperature, restarts, seed)
        Ln = ideal_log_loss_optimum(Cn, temperature)
        norm = dict(nv.to_dict(), optimum=Ln, gap=nv.value - Ln, reaches_optimum=bool(nv.value - Ln <= tol),
                    rank=int(Zn.shape[1]) if np.any(Zn) else 0,
                    note=("whitened (affine-invariant): reaches the optimum iff ideal for " + probe + " probes (Theorem 1)"
                          + ("; computed with an extra orbit at the origin, so C' = C + 1" if probe == "linear-nobias" else "")))
    cissl = {
        "value": unit.value - math.log(C), "lower_bound": unit.lower_bound - math.log(C), "exact": unit.exact,
        "optimum": Lstar - math.log(C), "gap": unit.value - Lstar,
        "reaches_optimum": bool(unit.value - Lstar <= tol),
        "note": "population CISSL with unit-norm phi and teacher g, infinite negatives (minus log of the number of candidates) = L_I(unit phi) - log C (S6.1)",
    }
    K = C if dissl_categories is None else dissl_categories
    opt = dissl_teacher_optimum(C, K, dissl_lambda, dissl_beta)
    T = opt.teacher[labels]
    if probe == "mlp":
        stud = _student_universal(Zf, labels, T, w)
        fam = "universal student (any function of the code; the MLP idealisation)"
    else:
        stud = _student_min(Zf, labels, T, w, bias=(probe == "linear"))
        fam = "affine softmax student" if probe == "linear" else "homogeneous softmax student"
    h_cond = float(np.dot(w, entropy(T, axis=1)))
    h_marg = float(entropy(w @ T))
    value = stud + dissl_beta * h_cond - dissl_lambda * h_marg
    dissl = {
        "value": value, "teacher_optimum": opt.value, "gap": value - opt.value,
        "reaches_optimum": bool(value - opt.value <= tol),
        "categories": K, "lambda": dissl_lambda, "beta": dissl_beta,
        "H_teacher_given_X": h_cond, "H_teacher": h_marg, "student_cross_entropy": stud,
        "student_excess": stud - h_cond, "teacher": opt.to_dict(), "student": fam,
        "note": "objective at the theory's optimal (invariant) teacher and the best student of the probe family on Z; student_excess = 0 iff Z realises the teacher (S7.4)",
    }
    ns = [int(n) for n in n_values]
    mass = orb.orbit_mass()
    samp = {"n": ns, "W_n_equiprobable": [worst_case_erm_risk(n, classes=C) for n in ns],
            "W_n_data_marginal": [worst_case_erm_risk(n, masses=mass / mass.sum()) for n in ns],
            "note": "worst-case ERM risk of an ideal encoder (Prop. 2); holds for this Z only if it is ideal"}
    return ExactReport(orb.n, Zf.shape[1], C, probe, temperature, ideal_raw, ideal_unit, norm, cissl, dissl, samp)
