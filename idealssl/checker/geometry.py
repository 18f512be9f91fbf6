"""Geometry of the orbit codes: spectra and ranks (:func:`code_geometry`), spreads, dependencies, margins, the
sample-efficiency curve.

Notation (theory/statements.md S1.1): codes μ_1..μ_C ∈ R^d, centroid μ̄ = (1/C) Σ_m μ_m, centred
codes c_m = μ_m − μ̄ (the rows of M_c). All tolerances are relative, so every verdict is unchanged by
rotations, translations (affine and MLP families) and positive scalings of Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..theory_math import Spectra, code_spectra, erm_risk, numerical_rank
from .stats import OrbitStats


def spread(codes: np.ndarray) -> float:
    """S = sqrt((1/C) Σ_m ‖μ_m − μ̄‖²): the RMS distance of the codes to their centroid."""
    c = codes - codes.mean(axis=0)
    return float(np.sqrt(np.einsum("ij,ij->", c, c) / len(codes)))


def rms_norm(codes: np.ndarray) -> float:
    """sqrt((1/C) Σ_m ‖μ_m‖²): the scale used by homogeneous (no-bias) linear probes."""
    return float(np.sqrt(np.einsum("ij,ij->", codes, codes) / len(codes)))


def singular_values(M: np.ndarray) -> np.ndarray:
    """Singular values of M in decreasing order (LAPACK gesdd, values only)."""
    if M.size == 0:
        return np.zeros(0)
    return np.linalg.svd(M, compute_uv=False)


@dataclass
class Dependency:
    """A dependency Σ_m λ_m μ_m = v ≈ 0 among codes (with Σ_m λ_m = 0 for affine dependencies).

    Attributes
    ----------
    lam : ndarray (C,)
        Coefficients, zero outside the support; ``Σ λ_m = 0`` exactly when ``affine``.
    residual : float
        ‖v‖ = ‖Σ_m λ_m μ_m‖ recomputed in float64 from the codes.
    margin_bound : float
        ‖v‖ / ‖λ‖₁: no probe of the family separates the Radon labelling (λ > 0 vs λ < 0) with a
        geometric margin (distance to the decision hyperplane) larger than this.
    """

    lam: np.ndarray
    residual: float
    margin_bound: float
    affine: bool


def find_dependency(codes: np.ndarray, rank: int, affine: bool) -> Dependency | None:
    """An affine (or linear) dependency among the codes: λ ≠ 0 with Σ_m λ_m μ_m ≈ 0 (and Σ_m λ_m = 0
    exactly, for affine dependencies).

    λ is a null vector of A = [(μ_m − μ̄)/s ; 1] (affine) or A = [μ_m / s] (linear). When A has more
    columns than rows (C > d + 1, resp. C > d: any d + 2 points of R^d are affinely dependent) A has
    an exact null vector, the last column of the complete Q of Aᵀ = QR (Householder QR, backward
    stable, a fraction of an SVD's cost); otherwise it is the right singular vector of the smallest
    singular value. Entries below 1e-12 of the largest are set to 0 so that the support is as small as
    the geometry allows. Callers pass at most d + 2 codes, so A is small.
    Returns None when the codes are independent at this rank (rank equal to C − 1, resp. C).

    Radon's theorem (theory/statements.md S1.3, Lemma A): the labelling {λ > 0} vs {λ < 0} is then not
    realisable by any affine (resp. homogeneous) halfspace; :class:`Dependency.margin_bound`
    quantifies it when the dependency holds only up to floating point.
    """
    C, d = codes.shape
    centred = codes - codes.mean(axis=0)
    s = spread(codes) if affine else rms_norm(codes)
    s = s if s > 0 else 1.0
    if (rank + 1 if affine else rank) >= C:
        return None
    A = np.vstack([centred.T / s, np.ones((1, C))]) if affine else codes.T / s
    if A.shape[1] > A.shape[0]:
        lam = np.linalg.qr(A.T, mode="complete")[0][:, -1].copy()
    else:
        lam = np.linalg.svd(A, full_matrices=True)[2][-1].copy()
    if affine:
        lam -= lam.mean()  # Σ λ = 0 exactly (the '1' row holds it only up to rounding)
    lam[np.abs(lam) < 1e-12 * np.abs(lam).max()] = 0.0
    if affine:
        lam -= lam[lam != 0].mean() * (lam != 0)
    lam /= np.abs(lam).max()
    v = lam @ centred if affine else lam @ codes
    residual = float(np.linalg.norm(v))
    l1 = float(np.abs(lam).sum())
    return Dependency(lam=lam, residual=residual, margin_bound=residual / l1, affine=affine)


def homogeneous_dependency(codes: np.ndarray, rank: int) -> np.ndarray | None:
    """A linear dependency α ≠ 0 among the codes (Σ_m α_m μ_m ≈ 0) whose labelling is never constant.

    * rank = C − 1: the one dependency (up to scale), the left singular vector of the smallest singular
      value of the C × d matrix of codes;
    * rank ≤ C − 2: the left null space has dimension ≥ 2, so some dependency has a zero coefficient:
      a combination of two null vectors that cancels one coordinate (for C > d + 1, a dependency among
      the first d + 1 codes, zero on the others);
    * rank = C: None (no dependency).

    α is oriented so that its largest entry is positive, and scaled to ‖α‖_∞ = 1. A dependency with a
    zero or with both signs labels its positive entries 1 and every other orbit 0: never a constant
    labelling (theory/statements.md S1.4).
    """
    C, d = codes.shape
    if rank >= C:
        return None
    s = rms_norm(codes) or 1.0
    if C > d + 1:  # any d + 1 codes are linearly dependent
        sub = codes[: d + 1] / s
        lam = np.zeros(C)
        lam[: d + 1] = np.linalg.svd(sub, full_matrices=True)[0][:, -1]
    else:
        U = np.linalg.svd(codes / s, full_matrices=True)[0]
        if rank == C - 1:
            lam = U[:, -1].copy()
        else:
            a, b = U[:, -1], U[:, -2]
            j = int(np.argmax(np.abs(a) * np.abs(b)))  # a coordinate where both are clearly non-zero
            if abs(a[j]) * abs(b[j]) < 1e-12:  # some null vector already has a zero there
                lam = a.copy() if abs(a[j]) < 1e-12 else b.copy()
            else:
                lam = b[j] * a - a[j] * b
                lam[j] = 0.0
    lam[np.abs(lam) < 1e-12 * np.abs(lam).max()] = 0.0
    lam /= lam[int(np.argmax(np.abs(lam)))]
    return lam


def min_pairwise_distance(codes: np.ndarray, block: int = 2048) -> tuple[float, int, int]:
    """Smallest distance between two distinct orbits' codes, with the pair (i < j).

    Blocked Gram computation, O(C² d) flops and O(block²) memory. Candidates found through the
    Gram identity are re-measured exactly to avoid cancellation for nearly equal codes.
    """
    C = len(codes)
    if C < 2:
        return math.inf, -1, -1
    X = codes - codes.mean(axis=0)
    sq = np.einsum("ij,ij->i", X, X)
    best = (math.inf, -1, -1)
    for a in range(0, C, block):
        Xa = X[a : a + block]
        for b in range(a, C, block):
            Xb = X[b : b + block]
            D = sq[a : a + block, None] + sq[None, b : b + block] - 2.0 * (Xa @ Xb.T)
            if a == b:
                D[np.tril_indices(len(Xa))] = np.inf
            # re-measure the few smallest candidates exactly
            k = min(8, D.size)
            cand = np.argpartition(D, k - 1, axis=None)[:k]
            for flat in cand:
                ii, jj = np.unravel_index(flat, D.shape)
                if not np.isfinite(D[ii, jj]):
                    continue
                dist = float(np.linalg.norm(codes[a + ii] - codes[b + jj]))
                if dist < best[0]:
                    best = (dist, int(a + ii), int(b + jj))
    return best


def sample_efficiency(mass: np.ndarray, target: float = 0.01, n_max: int = 10**15):
    """Worst-case ERM risk of an ideal encoder, W_n = Σ_m p_m (1 − p_m)^n (Prop. 2).

    Returns the curve at n = 1, 2, 5, 10, 20, 50, ... (up to the first n with W_n ≤ target, and
    one decade more) and the smallest n with W_n ≤ target (``None`` if above ``n_max``).

    Notes
    -----
    Holds for tasks sharing the marginal p over orbits (theory/statements.md S3.1); with
    equiprobable orbits it is (1 − 1/C)^n. If tasks may change the marginal, the supremum is larger.
    """
    p = np.asarray(mass, dtype=np.float64)
    p = p[p > 0]

    def W(n: int) -> float:
        return erm_risk(p, n)

    if len(p) == 1:  # one orbit: nothing to learn
        needed = 1
    else:
        lo, hi = 0, 1
        while W(hi) > target and hi < n_max:
            lo, hi = hi, hi * 2
        if W(hi) > target:
            needed = None
        else:
            while hi - lo > 1:  # W is decreasing in n
                mid = (lo + hi) // 2
                if W(mid) <= target:
                    hi = mid
                else:
                    lo = mid
            needed = hi
    grid: list = []
    top = (needed or n_max) * 10
    base = 1
    while base <= top and len(grid) < 60:
        for k in (1, 2, 5):
            if base * k <= top:
                grid.append(base * k)
        base *= 10
    curve = [[n, W(n)] for n in grid]
    return curve, needed, W


@dataclass
class CodeGeometry:
    """The orbit codes and their spectra, measured once for every family's conditions.

    Attributes
    ----------
    codes : ndarray (C, d)
        The codes r_m (each orbit's first point, or its largest-norm point under
        :class:`ScaledInvariance`), in the checker's (possibly rescaled) units.
    first : ndarray (C,)
        Index of each code's point.
    sv_aff, sv_lin : ndarray
        Singular values of the centred codes [μ_m − μ̄] and of the codes [μ_m] (rounding-level values
        set to 0), decreasing.
    aff_rank, lin_rank : int
        Their numerical ranks at ``tol``.
    method : str
        How the spectra were computed.
    spread : float
        S = sqrt(Σ σ²_aff / C), the RMS distance of the codes to their centroid.
    scale : float
        The unit of relative deviations: S, or the codes' RMS norm when S = 0.
    tol : float
    """

    codes: np.ndarray
    first: np.ndarray
    sv_aff: np.ndarray
    sv_lin: np.ndarray
    aff_rank: int
    lin_rank: int
    method: str
    spread: float
    scale: float
    tol: float

    @property
    def C(self) -> int:
        return int(self.codes.shape[0])

    @property
    def d(self) -> int:
        return int(self.codes.shape[1])


def code_geometry(st: OrbitStats, tol: float, notes: list[str], spectra: Spectra | None = None) -> CodeGeometry:
    """Spectra and ranks of the codes (:func:`idealssl.theory_math.code_spectra`: singular values at the rounding
    level of the codes are zero; identical codes far from the origin leave ~1e-16 of their norm after centring);
    ``spectra``: ``code_spectra(st.codes, tol)`` computed beforehand."""
    codes = st.codes
    C = codes.shape[0]
    sv_aff, sv_lin, how = code_spectra(codes, tol) if spectra is None else spectra
    S = float(np.sqrt(np.sum(np.square(sv_aff)) / C))  # spread: Σσ² of the centred codes = ‖μ − μ̄‖_F²
    scale = S
    if scale == 0:
        scale = rms_norm(codes) or float(st.max_dev.max()) or 1.0
        notes.append(
            ("all orbit codes coincide (zero spread)" if C > 1 else "one orbit: there is no spread between codes")
            + "; deviations are measured relative to the codes' norm, which depends on the origin (translating Z "
            "changes the invariance value)"
        )
    return CodeGeometry(
        codes, st.first, sv_aff, sv_lin, numerical_rank(sv_aff, tol), numerical_rank(sv_lin, tol), how, S, scale, tol
    )
