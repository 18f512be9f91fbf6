"""The ideal ISSL log loss on a finite problem: the one numeric minimiser (NumPy and SciPy, no torch).

L_I(φ) = inf over unit-norm class weights of the orbit-weighted softmax cross-entropy of the orbit
index (Dubois et al. 2022, Eq. 6; theory/statements.md S4), its normalised (whitened) version (S5)
and its minimum over codes in R^d (S4.3). Used by :mod:`idealssl.derive` and by the synthetic
evaluation (:func:`idealssl.synthetic.evaluate.ideal_log_loss`).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..inputs.orbits import Orbits, load_orbits
from ..inputs.representation import Representation, from_array, load_representation
from ..probes import get_family
from ..theory_math import check_classes, ideal_log_loss_optimum


def _softmax_rows(A: np.ndarray) -> np.ndarray:
    A = A - A.max(axis=1, keepdims=True)
    E = np.exp(A)
    return E / E.sum(axis=1, keepdims=True)


def _loss_grad(W: np.ndarray, Z: np.ndarray, y: np.ndarray, w: np.ndarray, tau: float, T: np.ndarray | None = None):
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
        res = minimize(
            fg, W0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-11}
        )
        V = res.x.reshape(C, d)
        W = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
        f = _loss_grad(W, Z, y, w, tau)[0]
        if f < best_f:
            best_f, best_W = f, W
    return best_f, best_W


def _signs_min(Z, y, w, C, tau, starts):
    """d = 1: unit-norm weights are signs; exhaustive for C ≤ 14, else greedy sign flips."""
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


def orbit_weights(labels: np.ndarray, C: int, p: np.ndarray | None) -> np.ndarray:
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
        :class:`idealssl.inputs.orbits.Orbits`.
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
    Zf, orb = finite_problem(Z, orbits)
    return minimise_ideal_log_loss(
        Zf, orb.labels, orb.n_orbits, orbit_weights(orb.labels, orb.n_orbits, orb.p), temperature, restarts, seed
    )


def merged_points(Z: np.ndarray, labels: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal (z_x, orbit of x) pairs merged into one point carrying the sum of their weights ω_x.

    The objective Σ_x ω_x CE(orbit of x, softmax(W z_x / τ)) and its gradient are sums over points whose terms
    depend on the pair (z_x, orbit) only, so the merged problem has the same value and gradient at every W (up to
    the order of floating-point additions). An invariant orbit collapses to one point: the minimisers then cost
    O(C d) per evaluation instead of O(N d)."""
    keys = np.column_stack([labels.astype(np.float64), Z])
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    if len(uniq) == len(Z):
        return Z, labels, w
    return uniq[:, 1:], uniq[:, 0].astype(labels.dtype), np.bincount(inverse.ravel(), weights=w, minlength=len(uniq))


def minimise_ideal_log_loss(
    Z: np.ndarray,
    labels: np.ndarray,
    C: int,
    w: np.ndarray,
    temperature: float = 1.0,
    restarts: int = 4,
    seed: int = 0,
    maxiter: int = 2000,
    relaxation: bool = True,
) -> LogLossValue:
    """inf over unit-norm class weights of Σ_x ω_x CE(orbit of x, softmax(W z_x / τ)): the one numeric minimiser.

    Multi-start L-BFGS on the sphere (starts: the normalised weighted codes, the normalised centred
    codes, ``restarts`` Gaussian ones; exhaustive over signs when d = 1), then, with ``relaxation``,
    the convex relaxation over the unit ball (FISTA) for a certified lower bound. Without it,
    ``lower_bound`` is the value itself and ``exact`` is False.

    Parameters
    ----------
    Z : (N, d) points; labels : (N,) orbit indices 0..C-1; w : (N,) point weights ω_x (summing to 1)
    """
    if not (temperature > 0 and math.isfinite(temperature)):
        raise InputError(f"temperature must be a positive number, got {temperature!r}")
    Z, labels, w = merged_points(Z, labels, w)
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
        f, W = _sphere_min(Z, labels, w, C, temperature, starts, maxiter=maxiter)
    if not relaxation:
        return LogLossValue(float(f), float(f), False, W)
    lb, _ = _ball_min(Z, labels, w, C, temperature, W)
    lb = min(lb, f)
    return LogLossValue(float(f), float(lb), bool(f - lb <= 1e-7), W)


def homogeneous_rescaling(Z: np.ndarray, labels: np.ndarray, C: int, w: np.ndarray, rtol: float = 1e-7):
    """Positive per-point and per-orbit rescaling for homogeneous probes (statements.md S5.1, S1.4).

    argmax(W z) = argmax(W (c z)) for every c > 0, so rescaling points positively changes nothing for
    ``linear-nobias``. Every point goes to the unit sphere (zero points stay 0); with μ̂_m the resulting
    codes (orbit means):

    * rank C: unchanged; the codes lie on an affine hyperplane missing the origin, on which homogeneous
      probes are exactly the affine probes, so the centred whitening applies (``centred`` True);
    * rank C − 1 and the dependency Σ α_m μ̂_m = 0 one-signed, every |α_m| > rtol ‖α‖: orbit m is scaled by
      α_m > 0, which makes the codes' orbit-weighted mean 0 (``centred`` True, centring is a no-op);
    * otherwise (not ideal): unchanged, and the whitening is uncentred, a linear map (``centred`` False).

    Returns the rescaled points, ``centred`` and the case in words.
    """
    n = np.linalg.norm(Z, axis=1, keepdims=True)
    Zu = np.where(n > 0, Z / np.where(n > 0, n, 1.0), 0.0)
    codes = np.zeros((C, Z.shape[1]))
    np.add.at(codes, labels, Zu * (w * C)[:, None])
    U, sv, _ = np.linalg.svd(codes, full_matrices=True)
    r = int(np.count_nonzero(sv > rtol * sv[0])) if sv.size and sv[0] > 0 else 0
    if r == C:
        return Zu, True, "rank C: centred whitening (the codes lie on an affine hyperplane missing the origin)"
    if r == C - 1:
        a = U[:, -1] / U[int(np.argmax(np.abs(U[:, -1]))), -1]
        if np.all(a > rtol * np.linalg.norm(a)):
            case = "rank C - 1, positive dependency alpha: orbits scaled by alpha (centred codes)"
            return Zu * a[labels][:, None], True, case
    return Zu, False, "neither rank C nor a positive dependency: uncentred whitening (not ideal for homogeneous probes)"


def normalised_representation(Z, orbits, probe: str = "linear", rtol: float = 1e-7):
    """The normalisation behind the normalised ideal log loss (statements.md S5.1).

    Affine probes: z ↦ Σ_T^{-1/2} (z − μ̄) / sqrt(r), with μ̄ the orbit-weighted mean, Σ_T the
    orbit-weighted total covariance (pseudo-inverse on its range, singular values below
    ``rtol`` × the largest dropped) and r its rank, so the result is centred with orbit-weighted
    E‖z‖² = 1: an affine bijection of the data's affine hull, which affine probes cannot see.
    Homogeneous probes (``linear-nobias``): first the positive rescaling of
    :func:`homogeneous_rescaling` (which homogeneous probes cannot see), then the same whitening,
    centred or not as that function says. The C orbits are kept as they are (no extra orbit).

    Returns
    -------
    Zn : ndarray (N, r), labels : ndarray (N,), C : int, weights : ndarray (N,)
    """
    Zf, orb = finite_problem(Z, orbits)
    family = get_family(probe)
    if not family.log_loss_defined:
        raise InputError(f"the normalised ideal log loss is defined for linear and linear-nobias probes, not {probe}")
    labels, C = orb.labels, orb.n_orbits
    w = orbit_weights(labels, C, orb.p)
    centred = True
    if not family.bias:
        Zf, centred, _ = homogeneous_rescaling(Zf, labels, C, w, rtol)
    mu = w @ Zf if centred else np.zeros(Zf.shape[1])
    X = (Zf - mu) * np.sqrt(w)[:, None]
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = int(np.count_nonzero(s > rtol * s[0])) if s.size and s[0] > 0 else 0
    if r == 0:
        return np.zeros((len(labels), 1)), labels, C, w
    Zn = (Zf - mu) @ Vt[:r].T / s[:r] / math.sqrt(r)
    return Zn, labels, C, w


def normalised_ideal_log_loss(
    Z, orbits, probe: str = "linear", temperature: float = 1.0, rtol: float = 1e-7, restarts: int = 2, seed: int = 0
) -> LogLossValue:
    """Ideal log loss of :func:`normalised_representation` (statements.md S5.1).

    Equals L*(C) iff the representation is ideal for the probe family: invariant with affinely
    independent codes (``linear``, Theorem 1), or invariant up to positive scaling with codes of rank C,
    or of rank C − 1 with a positive dependency (``linear-nobias``, S1.4); larger otherwise.
    """
    Zn, labels, C, w = normalised_representation(Z, orbits, probe, rtol)
    return minimise_ideal_log_loss(Zn, labels, C, w, temperature, restarts, seed)


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
    for _ in range(restarts):
        x0 = rng.normal(size=2 * C * d)
        res = minimize(fg, x0, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
        best = min(best, float(res.fun))
    return best


def finite_problem(Z, orbits):
    """Validate (Z, orbits) with the shared loaders; returns (float64 array, Orbits)."""
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
        raise InputError(
            f"{orb.source}: the orbits cover {orb.n} points but the representation has N = {arr.shape[0]} rows"
        )
    if orb.n_orbits < 2:
        raise InputError(f"{orb.source}: only one orbit; every invariant task is then constant")
    return arr, orb
