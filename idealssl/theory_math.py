"""Closed forms from the theory (theory/statements.md), in plain numpy: no sympy, no torch.

Every function names the statement of ``theory/statements.md`` it implements. The sympy modules in
``theory/`` derive these expressions symbolically and ``tests/theory`` checks that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError
from .probes import get_family

__all__ = [
    "check_classes",
    "ideal_log_loss_optimum",
    "regular_simplex",
    "minimal_dimension",
    "erm_risk",
    "worst_case_erm_risk",
    "merge_orbits",
    "numerical_rank",
    "matrix_rank",
    "NOISE_FLOOR",
    "code_spectra",
    "Spectra",
    "affine_rank",
    "entropy",
    "dissl_invariant_objective",
    "DisslOptimum",
    "dissl_teacher_optimum",
]


def check_classes(C, what: str = "--classes") -> int:
    if isinstance(C, bool) or not isinstance(C, (int, np.integer)):
        raise InputError(f"{what} must be an integer, got {C!r}")
    if C < 2:
        raise InputError(f"{what} must be >= 2 (one orbit makes every task trivial), got {C}")
    return int(C)


# ---------------------------------------------------------------- S4: ideal log loss and simplex
def ideal_log_loss_optimum(C: int, temperature: float = 1.0) -> float:
    """L*(C, τ) = log(1 + (C − 1) exp(−C / ((C − 1) τ))) (theory/statements.md, S4.2).

    The minimum of the ideal ISSL log loss (Dubois et al. 2022, Eq. 6) over unit-norm weights and
    representations with orbit-weighted mean squared norm ≤ 1 (in particular unit-norm codes), for C
    equiprobable orbits at temperature τ; reached exactly at the regular simplex.
    """
    C = check_classes(C, "C")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise InputError(f"temperature must be a positive number, got {temperature!r}")
    return math.log1p((C - 1) * math.exp(-C / ((C - 1) * temperature)))


def _nearest_sqrt(num: int, den: int) -> float:
    """The float nearest to sqrt(num / den) for positive integers num, den, decided in exact rational
    arithmetic (no dependence on the platform's sqrt or rounding of num / den)."""
    q = Fraction(num, den)
    e = math.sqrt(num / den)
    while True:
        up, down = math.nextafter(e, math.inf), math.nextafter(e, 0.0)
        if ((Fraction(e) + Fraction(up)) / 2) ** 2 < q:
            e = up
        elif ((Fraction(e) + Fraction(down)) / 2) ** 2 > q:
            e = down
        else:
            return e


def regular_simplex(C: int, d: int | None = None) -> np.ndarray:
    """C unit vectors in R^d (d ≥ C − 1, default C − 1) with pairwise cosine −1/(C − 1), summing to 0.

    Closed form (the Helmert basis; statements.md S4.1): column j = 1..C−1 is the Helmert contrast
    (1, …, 1, −j, 0, …, 0)/sqrt(j(j+1)) (j ones) scaled by sqrt(C/(C−1)), so vertex m (m = 0..C−1) has

        v_m[j] = sqrt(C / ((C−1) j (j+1)))   for m < j,
        v_m[j] = −sqrt(C j / ((C−1)(j+1)))   for m = j,
        v_m[j] = 0                           for m > j,

    and zeros in the coordinates C..d. The contrasts are an orthonormal basis U of the complement of
    the all-ones vector, U Uᵀ = I − 11ᵀ/C, so the Gram matrix is (C/(C−1))(I − 11ᵀ/C). Every entry is
    the float nearest to its exact value (decided in rational arithmetic), so the result is the same
    to the last bit on every platform (``theory.simplex.helmert_simplex`` is the exact form).
    """
    C = check_classes(C, "C")
    d = C - 1 if d is None else int(d)
    if d < C - 1:
        raise InputError(f"a regular simplex with C = {C} vertices needs d >= {C - 1}, got d = {d}")
    j = range(1, C)
    above = np.array([_nearest_sqrt(C, (C - 1) * k * (k + 1)) for k in j])  # rows m < j
    diagonal = np.array([-_nearest_sqrt(C * k, (C - 1) * (k + 1)) for k in j])  # row m = j
    out = np.zeros((C, d))
    out[:, : C - 1] = np.triu(np.broadcast_to(above, (C, C - 1)))
    out[np.arange(1, C), np.arange(C - 1)] = diagonal
    return out


def minimal_dimension(probe: str, C: int) -> int:
    """Smallest representation dimension for which some encoder is ideal (S1.3, S1.4, S2.1).

    linear (affine probes): C − 1 (affinely independent codes); linear-nobias: C − 1 (rank C − 1 with
    the origin inside the codes' hull, e.g. the centred regular simplex; S1.4); mlp (universal probes):
    1 (distinct codes). The values live with the families
    (:attr:`idealssl.probes.ProbeFamily.minimal_dimension`).
    """
    family = get_family(probe)
    return family.minimal_dimension(check_classes(C, "C"))


# ---------------------------------------------------------------- ranks
def numerical_rank(sv: np.ndarray, tol: float) -> int:
    """#{i : σ_i > tol · σ_1} for singular values ``sv`` in decreasing order; 0 when σ_1 = 0."""
    if len(sv) == 0 or sv[0] <= 0:
        return 0
    return int(np.count_nonzero(sv > tol * sv[0]))


def matrix_rank(A: np.ndarray, rtol: float) -> int:
    """Numerical rank of A: singular values above ``rtol`` times the largest."""
    A = np.asarray(A, dtype=np.float64)
    if A.size == 0:
        return 0
    return numerical_rank(np.linalg.svd(A, compute_uv=False), rtol)


#: singular values below NOISE_FLOOR · √(C d) · max|μ| are float64 rounding (the centring's error is a few
#: ulps of the largest entry per element), not geometry: :func:`code_spectra` counts them as 0
NOISE_FLOOR = 16 * float(np.finfo(np.float64).eps)


#: what :func:`code_spectra` returns: (σ of the centred codes, σ of the codes, the method that computed them)
Spectra = tuple[np.ndarray, np.ndarray, str]


def code_spectra(codes: np.ndarray, tol: float) -> Spectra:
    """Singular values of the centred codes [μ_m − μ̄] and of the codes [μ_m], decreasing, and the method that
    computed them; values at the rounding level of the codes (:data:`NOISE_FLOOR`) are 0 (identical codes far from the
    origin leave ~1e-16 of their norm after centring).

    The first spectrum measures the affine hull of the C codes (its numerical rank is their affine rank, S1.3),
    the second their linear span (S1.4). For tall matrices (C > 4d) with ``tol`` ≥ 1e-6 both come from the d x d
    Gram matrix G = Σ μ_m μ_mᵀ, whose relative precision (~1e-8 of σ_1) is ample for such tolerances; the centred
    Gram is G − C μ̄μ̄ᵀ unless the centroid is far from the codes' spread (cancellation), when it is formed
    directly. Otherwise by SVD.

    Parameters
    ----------
    codes : numpy.ndarray, shape (C, d)
        One point per orbit.
    tol : float
        The relative tolerance the spectra will be thresholded at (chooses the method).

    Returns
    -------
    sv_affine, sv_linear : numpy.ndarray
    how : str
        ``"SVD"`` or ``"eigenvalues of the d x d Gram matrix"``.
    """
    codes = np.asarray(codes, dtype=np.float64)
    C, d = codes.shape
    mu = codes.mean(axis=0)
    if C > 4 * d and tol >= 1e-6:
        G = codes.T @ codes
        Gc = G - C * np.outer(mu, mu)
        S2 = np.trace(Gc) / C
        if mu @ mu > 1e4 * max(S2, 0.0):
            centred = codes - mu
            Gc = centred.T @ centred

        def root(M: np.ndarray) -> np.ndarray:
            return np.sqrt(np.clip(np.linalg.eigvalsh(M)[::-1], 0.0, None))

        sv_aff, sv_lin, how = root(Gc), root(G), "eigenvalues of the d x d Gram matrix"
    else:
        sv_aff, sv_lin, how = np.linalg.svd(codes - mu, compute_uv=False), np.linalg.svd(codes, compute_uv=False), "SVD"
    floor = NOISE_FLOOR * math.sqrt(C * d) * float(np.abs(codes).max(initial=0.0))
    return np.where(sv_aff > floor, sv_aff, 0.0), np.where(sv_lin > floor, sv_lin, 0.0), how


def affine_rank(codes: np.ndarray, rtol: float) -> int:
    """Affine rank of C points: the dimension of their affine hull, rank [μ_m − μ̄] (S1.3: affine probes need
    C − 1), as the number of singular values of the centred points above ``rtol`` times the largest
    (:func:`code_spectra`, :func:`numerical_rank`).

    >>> affine_rank(np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]), 1e-9)   # collinear: 1, though they span R^2
    1
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.size == 0:
        return 0
    return numerical_rank(code_spectra(codes, rtol)[0], rtol)


# ---------------------------------------------------------------- S3: sample efficiency
def erm_risk(p, n) -> float:
    """W_n = Σ_m p_m (1 − p_m)^n for orbit masses ``p`` and one sample size ``n`` (S3.1), unvalidated.

    Computed as p·exp(n log1p(−p)), accurate for large n and small p; orbits of mass 0 or 1 add 0."""
    q = np.asarray(p, dtype=np.float64).ravel()
    q = q[(q > 0) & (q < 1.0)]
    return float(np.sum(q * np.exp(n * np.log1p(-q)))) if len(q) else 0.0


def worst_case_erm_risk(n, classes: int | None = None, masses: Sequence[float] | None = None):
    """W_n = Σ_m p_m (1 − p_m)^n for an ideal encoder (statements.md S3.1; Dubois et al. Prop. 2).

    Give either ``classes`` (equiprobable orbits: W_n = (1 − 1/C)^n) or the orbit ``masses``.
    ``n`` may be an int or an array of ints (sample sizes ≥ 0).
    """
    if (classes is None) == (masses is None):
        raise InputError("give exactly one of classes= or masses=")
    if masses is None:
        C = check_classes(classes, "classes")
        p = np.full(C, 1.0 / C)
    else:
        p = np.asarray(masses, dtype=np.float64).ravel()
        if p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1.0) > 1e-9:
            raise InputError("orbit masses must be non-negative and sum to 1")
    nn = np.asarray(n)
    if nn.dtype.kind not in "iu" or np.any(nn < 0):
        raise InputError(f"sample sizes n must be non-negative integers, got {n!r}")
    p = p[p > 0]
    out = np.sum(p[None, :] * np.power(1.0 - p[None, :], nn.reshape(-1, 1).astype(np.float64)), axis=1)
    return float(out[0]) if nn.ndim == 0 else out.reshape(nn.shape)


def merge_orbits(masses: Sequence[float], groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Orbit masses after merging orbits into ``groups`` (a partition of the orbit indices)."""
    p = np.asarray(masses, dtype=np.float64)
    flat = sorted(i for g in groups for i in g)
    if flat != list(range(len(p))):
        raise InputError("groups must partition the orbit indices 0..C-1")
    return np.array([p[list(g)].sum() for g in groups])


# ---------------------------------------------------------------- S7: DISSL teacher optimum
def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -t.sum(axis=axis)


def dissl_invariant_objective(q: np.ndarray, lam: float, beta: float) -> float:
    """F(q) = (1 + β) H(M̂ | M) − λ H(M̂) for an invariant teacher q (C × K, rows q(·|m)) over C
    equiprobable orbits: the DISSL population objective at its optimal student (statements.md S7.1)."""
    q = np.asarray(q, dtype=np.float64)
    return float((1.0 + beta) * entropy(q, axis=1).mean() - lam * entropy(q.mean(axis=0)))


@dataclass
class DisslOptimum:
    """Optimum of the DISSL population objective over teachers (statements.md S7.2, S7.3).

    Attributes
    ----------
    value : float
        Objective value of ``teacher`` (the optimum when ``exact``; otherwise the best value found,
        an upper bound on the infimum).
    lower_bound : float
        A proven lower bound on the infimum (equal to ``value`` when ``exact``).
    exact : bool
    deterministic : bool or None
        Whether every optimal teacher is deterministic (``None``: not settled by the theory).
    teacher : ndarray (C, K)
        An (optimal when ``exact``) invariant teacher, row m = q(·|orbit m).
    regime : str
        Which case of the theorem applies.
    """

    value: float
    lower_bound: float
    exact: bool
    deterministic: bool | None
    teacher: np.ndarray
    regime: str

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "lower_bound": self.lower_bound,
            "exact": self.exact,
            "deterministic": self.deterministic,
            "regime": self.regime,
        }


def _deterministic_teacher(C: int, K: int, groups: int) -> np.ndarray:
    """C x K one-hot teacher mapping the C orbits onto the first ``groups`` categories in the most
    balanced partition (consecutive orbits share a category)."""
    q = np.zeros((C, K))
    m = 0
    for k, s in enumerate(_balanced_sizes(C, groups)):
        q[m : m + s, k] = 1.0
        m += s
    return q


def _balanced_sizes(total: int, parts: int) -> list[int]:
    a, b = divmod(total, parts)
    return [a + 1] * b + [a] * (parts - b)


def _dissl_numeric(C: int, K: int, lam: float, beta: float, restarts: int = 8, seed: int = 0):
    """Local minimisation of F over invariant teachers (softmax logits, L-BFGS, several starts)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)

    def fg(x):
        L = x.reshape(C, K)
        L = L - L.max(axis=1, keepdims=True)
        q = np.exp(L)
        q /= q.sum(axis=1, keepdims=True)
        qb = q.mean(axis=0)
        lq = np.log(np.maximum(q, 1e-300))
        lqb = np.log(np.maximum(qb, 1e-300))
        f = (1 + beta) * (-(q * lq).sum(axis=1).mean()) - lam * (-(qb * lqb).sum())
        g = (1 + beta) / C * (-lq - 1.0) - lam / C * (-lqb - 1.0)[None, :]
        gl = q * (g - (q * g).sum(axis=1, keepdims=True))
        return f, gl.ravel()

    best = (np.inf, None)
    for r in range(restarts):
        x0 = rng.normal(scale=3.0 if r % 2 else 0.3, size=C * K)
        res = minimize(fg, x0, jac=True, method="L-BFGS-B", options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
        if res.fun < best[0]:
            L = res.x.reshape(C, K)
            q = np.exp(L - L.max(axis=1, keepdims=True))
            best = (float(res.fun), q / q.sum(axis=1, keepdims=True))
    return best


def dissl_teacher_optimum(C: int, K: int, lam: float, beta: float, numeric: bool = True) -> DisslOptimum:
    """Optimal invariant teacher of the DISSL population objective, by the determinism theorem.

    Objective (code names): CE(q(x₁), s(x₂)) + β CE(q(x₁), q(x₂)) − λ H(q̄), x₁ ~ x₂ two views of
    one input, C equiprobable orbits, K teacher categories. At the optimal student every teacher's
    value is at least F = (1 + β) H(M̂|X) − λ H(M̂) (statements.md S7.1), and

    * λ ≤ 1 + β (any K): min = −λ · H(most balanced partition of the C orbits into min(K, C)
      groups), reached by a deterministic teacher; every optimum is deterministic if λ < 1 + β (S7.2);
    * λ > 1 + β, K > C: min ≥ (1 + β) log(K/C) − λ log K, with equality when C | K (each orbit
      spread uniformly over K/C own categories); no optimum is deterministic (S7.3);
    * λ > 1 + β, K ≤ C: min ≥ −λ log K, with equality (deterministic, balanced) when K | C.

    When the theorem leaves the value open (non-divisible sizes), ``numeric=True`` refines the
    upper bound by local minimisation over teachers.
    """
    C = check_classes(C, "C")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise InputError(f"the number of teacher categories must be a positive integer, got {K!r}")
    K = int(K)
    for name, v in (("lambda", lam), ("beta", beta)):
        if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v >= 0):
            raise InputError(f"DISSL {name} must be a non-negative number, got {v!r}")
    a = 1.0 + beta
    if lam <= a:
        q = _deterministic_teacher(C, K, min(K, C))
        value = dissl_invariant_objective(q, lam, beta)
        regime = "lambda <= 1 + beta: deterministic teacher, most balanced partition of the orbits"
        if lam == a and K > C:
            regime += " (lambda = 1 + beta: spread teachers tie)"
        return DisslOptimum(value, value, True, True if lam < a else None, q, regime)
    if K > C:
        lower = a * math.log(K / C) - lam * math.log(K)
        ks = _balanced_sizes(K, C)
        q = np.zeros((C, K))
        k0 = 0
        for m, k in enumerate(ks):
            q[m, k0 : k0 + k] = 1.0 / k
            k0 += k
        value = dissl_invariant_objective(q, lam, beta)
        exact = K % C == 0
        if not exact and numeric and C * K <= 4096:
            v2, q2 = _dissl_numeric(C, K, lam, beta)
            if v2 < value:
                value, q = v2, q2
        return DisslOptimum(
            value, lower, exact, False, q, "lambda > 1 + beta and K > C: every optimal teacher is non-deterministic"
        )
    lower = -lam * math.log(K)
    q = _deterministic_teacher(C, K, K)
    value = dissl_invariant_objective(q, lam, beta)
    exact = C % K == 0
    if not exact and numeric and C * K <= 4096:
        v2, q2 = _dissl_numeric(C, K, lam, beta)
        if v2 < value - 1e-12:
            value, q = v2, q2
    return DisslOptimum(
        value,
        lower,
        exact,
        True if exact else None,
        q,
        "lambda > 1 + beta and K <= C: deterministic balanced teacher when K divides C",
    )
