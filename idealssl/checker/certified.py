"""Robust Theorem 1 and a certified bound on few-shot error (theory/statements.md S10).

Theorem 1 (S1.3, S1.4, S2.1) says when an *invariant* encoder is ideal. No trained encoder is exactly
invariant; this module measures how far from invariant one may be and still provably fit every invariant
task, and from how few labels. Pure NumPy/SciPy.

Notation. Points z_x (the rows of Z; for ``linear-nobias`` the unit directions z_x/‖z_x‖, because
argmax W z cannot see a positive rescaling of a point), orbits m = 1..C, point masses p_x (uniform unless
given), codes μ_m (the mass-weighted orbit means unless given; any choice is allowed), deviations
dev(x) = ‖z_x − μ_{M(x)}‖, radii ε_m = max_{x∈m} dev(x), diameters δ_m = max_{x,x'∈m} ‖z_x − z_x'‖.

* :func:`code_margin`, :func:`cheap_margin`, :func:`labelling_margin` — the margin γ_F of the codes
  (S10.1): for affine probes min over non-constant binary labellings y of max(0, max_{‖w‖=1,b} min_m
  y_m(w·μ_m + b)), half the distance between the two codes' hulls; without bias the same with b = 0;
  for universal (``mlp``) probes half the smallest code distance. Exact (a verified interval) for small C,
  a lower bound σ_(C−1)/√C (affine) or through the dependency (no bias) otherwise.
* :func:`robust_predict` — robust Theorem 1 (S10.2): ε_max < γ ⇒ every invariant task is fitted on all
  points with margin ≥ γ − ε_max, by one-vs-rest probes built on the codes.
* :func:`certify`, :func:`core_bound`, :func:`sample_bound`, :func:`certified_risk` — the n-shot bound
  (S10.3, S10.4): with all sample points within radius r, the max-margin ERM (1-NN for ``mlp``) errs on no
  point within r of a seen orbit when δ(r) + ε < γ (``mlp``: δ(r) + 2ε < 2γ); hence
  E[risk] ≤ 1 − (1 − q)^{n+1}(1 − W_n(p̃)) for every invariant task (q: the mass outside r).
* :func:`pair_separation`, :func:`subset_certificates`, :func:`multiscale_certified`,
  :func:`margin_radius_ratio`, :func:`certified_mass` — continuous label-free scores for encoders far
  from ideal (S10.5).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError
from ..inputs.orbits import orbits_from_labels
from ..probes import get_family
from ..theory_math import erm_risk
from .geometry import find_dependency, min_pairwise_distance, singular_values

#: code margins are computed exactly (every labelling, 2^(C−1) − 1 quadratic programs) up to this many orbits
EXACT_MAX_C = 12
#: the per-sample bound and the subset scores solve sub-problems exactly up to this many orbits (else the cheap bound)
SUBSET_EXACT_MAX_C = 6
#: unit round-off of float64
_U = float(np.finfo(np.float64).eps) / 2


# ------------------------------------------------------------------------------------------ the problem
@dataclass
class Problem:
    """A finite problem in the geometry of one probe family (module docstring, notation).

    Attributes
    ----------
    points : ndarray (N, d)
        z_x, or the unit directions z_x/‖z_x‖ for ``linear-nobias`` (a zero row stays 0).
    labels : ndarray (N,) of int64
        Orbit of each point, 0..C−1.
    codes : ndarray (C, d)
        μ_m.
    mass : ndarray (N,)
        Point masses p_x (sum 1).
    deviation : ndarray (N,)
        ‖points_x − μ_{M(x)}‖; ``inf`` for a zero point under ``linear-nobias`` (every homogeneous probe
        ties on it, so no certificate covers it).
    probe : str
        ``linear``, ``linear-nobias`` or ``mlp``.
    """

    points: np.ndarray
    labels: np.ndarray
    codes: np.ndarray
    mass: np.ndarray
    deviation: np.ndarray
    probe: str

    @property
    def C(self) -> int:
        return int(self.codes.shape[0])

    @property
    def bias(self) -> bool:
        """Affine geometry (``linear`` and ``mlp``: translations change nothing) or homogeneous."""
        return self.probe != "linear-nobias"

    @cached_property
    def orbit_mass(self) -> np.ndarray:
        return np.bincount(self.labels, weights=self.mass, minlength=self.C)

    @cached_property
    def radii(self) -> np.ndarray:
        """ε_m over the points of positive mass (0 for an orbit without any)."""
        out = np.zeros(self.C)
        live = self.mass > 0
        np.maximum.at(out, self.labels[live], self.deviation[live])
        return out

    @cached_property
    def profiles(self) -> Profiles:
        """The points of positive mass sorted by orbit, then by deviation, with per-orbit running diameters and
        masses (:class:`Profiles`). The core of orbit m at radius r is the prefix of its block with dev ≤ r."""
        live = np.flatnonzero(self.mass > 0)
        order = live[np.lexsort((self.deviation[live], self.labels[live]))]
        lab = self.labels[order]
        start = np.searchsorted(lab, np.arange(self.C + 1))
        diam = np.zeros(len(order))
        for m in np.flatnonzero(np.diff(start) > 1):
            idx = order[start[m] : start[m + 1]]
            X = self.points[idx]
            diff = X[:, None, :] - X[None, :, :]  # differences, not the Gram identity: no cancellation
            D2 = np.einsum("ijk,ijk->ij", diff, diff)
            D2[np.triu_indices(len(idx))] = 0.0
            diam[start[m] : start[m + 1]] = np.sqrt(np.maximum.accumulate(D2.max(axis=1)))
        cum = np.cumsum(self.mass[order])
        cum -= np.repeat(np.r_[0.0, cum][start[:-1]], np.diff(start))  # restart the sum in each orbit
        return Profiles(start, lab, self.deviation[order], diam, cum)

    def core(self, r: float, orbits=None) -> tuple[np.ndarray, float, float]:
        """At radius r, over ``orbits`` (default all): core mass per orbit a_m = p(m ∩ {dev ≤ r}), the largest
        core diameter δ(r) and the largest core deviation ε(r) (0 for empty cores)."""
        pr = self.profiles
        k = np.bincount(pr.labels[pr.deviation <= r], minlength=self.C)
        if orbits is not None:
            k = np.where(np.isin(np.arange(self.C), orbits), k, 0)
        has = k > 0
        last = pr.start[:-1] + k - 1
        a = np.where(has, pr.cum[np.where(has, last, 0)], 0.0) if len(pr.cum) else np.zeros(self.C)
        a = a if orbits is None else a[np.asarray(orbits)]
        if not has.any():
            return a, 0.0, 0.0
        return a, float(pr.diameter[last[has]].max()), float(pr.deviation[last[has]].max())


class Profiles(NamedTuple):
    """Per-orbit profiles of a :class:`Problem` (points of positive mass only), as flat arrays in the order
    (orbit, deviation): ``start`` (C + 1 block offsets), ``labels``, ``deviation``, ``diameter`` (of the block's
    first k points, for each k) and ``cum`` (their mass)."""

    start: np.ndarray
    labels: np.ndarray
    deviation: np.ndarray
    diameter: np.ndarray
    cum: np.ndarray


def problem(Z, labels, probe: str = "linear", codes=None, p=None) -> Problem:
    """Validate (Z, orbit labels, point masses, codes) and put them in the geometry of ``probe``.

    Parameters
    ----------
    Z : array (N, d)
    labels : sequence of N orbit labels (integers or strings)
    probe : ``linear`` | ``linear-nobias`` | ``mlp``
    codes : array (C, d), optional
        One code per orbit in the order of the sorted label values; for ``linear-nobias`` in the space of
        unit directions. Default: the mass-weighted orbit means (of the unit directions without bias).
    p : array (N,), optional
        Point masses (default uniform).

    Raises
    ------
    InputError
        Shapes, non-finite values, an unknown family, masses that are not a distribution.
    """
    family = get_family(probe)
    Z = np.asarray(Z, dtype=np.float64) if not isinstance(Z, np.ndarray) else Z.astype(np.float64, copy=False)
    if Z.ndim != 2 or Z.shape[0] == 0 or Z.shape[1] == 0:
        raise InputError(f"Z must be a non-empty 2-D array (N, d), got shape {Z.shape}")
    if not np.isfinite(Z).all():
        raise InputError(f"Z holds a non-finite value in row {int(np.argmin(np.isfinite(Z).all(axis=1)))}")
    orb = orbits_from_labels(labels, p=p, source="labels")
    if orb.n != Z.shape[0]:
        raise InputError(f"labels cover {orb.n} points but Z has N = {Z.shape[0]} rows")
    lab, mass, C = orb.labels, orb.p, orb.n_orbits
    points, valid = Z, np.ones(len(Z), dtype=bool)
    if not family.bias:
        norms = np.linalg.norm(Z, axis=1)
        valid = norms > 0
        points = np.divide(Z, norms[:, None], out=np.zeros_like(Z), where=valid[:, None])
    if codes is None:
        codes = _orbit_means(points, lab, mass, valid, C)
    else:
        codes = np.asarray(codes, dtype=np.float64)
        if codes.shape != (C, Z.shape[1]) or not np.isfinite(codes).all():
            raise InputError(f"codes must be a finite array of shape ({C}, {Z.shape[1]}), got {codes.shape}")
    dev = np.linalg.norm(points - codes[lab], axis=1)
    dev[~valid] = np.inf
    return Problem(points, lab, codes, mass, dev, family.name)


def _orbit_means(points: np.ndarray, lab: np.ndarray, mass: np.ndarray, valid: np.ndarray, C: int) -> np.ndarray:
    """Mass-weighted mean of each orbit's valid points (plain mean when the orbit has no mass; 0 when none is valid)."""
    w = np.where(valid, mass, 0.0)
    tot = np.bincount(lab, weights=w, minlength=C)
    plain = np.bincount(lab, weights=valid.astype(float), minlength=C)
    w = np.where((tot[lab] > 0), w, valid.astype(float))
    tot = np.where(tot > 0, tot, plain)
    order = np.argsort(lab, kind="stable")  # every orbit has a point: reduceat over contiguous blocks
    sums = np.add.reduceat((points * w[:, None])[order], np.searchsorted(lab[order], np.arange(C)), axis=0)
    return np.divide(sums, tot[:, None], out=np.zeros_like(sums), where=tot[:, None] > 0)


# ------------------------------------------------------------------------------------------ S10.1 margins
@dataclass(frozen=True)
class Margin:
    """The margin γ_F of the codes (S10.1): ``lower ≤ γ_F ≤ upper``.

    Attributes
    ----------
    lower, upper : float
        Both ends verified in float64 from explicit objects, with an allowance for rounding: ``lower`` is
        the margin of a probe (w, b) evaluated on the codes, ``upper`` half the distance between two points
        of the two codes' hulls (the distance from 0 to the hull of the signed codes without bias) for the
        binding labelling, or a dependency bound. A solver's claim is never trusted.
    exact : bool
        Every non-constant labelling was solved (``lower`` and ``upper`` then agree to rounding); otherwise
        ``lower`` is the cheap bound of :func:`cheap_margin` and ``upper`` a pair or dependency bound.
    labelling : ndarray of 0/1 or None
        The binding labelling (orbits labelled 1 vs 0), when known.
    method : str
    """

    lower: float
    upper: float
    exact: bool
    labelling: np.ndarray | None
    method: str

    def to_dict(self) -> dict[str, Any]:
        lab = None if self.labelling is None else [int(v) for v in self.labelling]
        return {"lower": self.lower, "upper": self.upper, "exact": self.exact, "labelling": lab, "method": self.method}


def _basis(X: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning (at least) the row space of X (reduced QR of Xᵀ)."""
    if X.shape[0] == 0:
        return np.zeros((X.shape[1], 0))
    return np.linalg.qr(X.T)[0]


def _ldp(G: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """x minimising ‖x‖ subject to G x ≥ 1, and convex weights α of the rows of G.

    Least distance programming by one non-negative least-squares problem (Lawson and Hanson, *Solving Least
    Squares Problems*, 1974, ch. 23): u ≥ 0 minimising ‖[Gᵀ; 1ᵀ] u − e‖, residual r; x = −r_{:k}/r_k when
    r_k < 0. Then p = Gᵀα, α = u/Σu, is the point of conv(rows of G) nearest 0 and x ∥ p. When the hull holds
    0 the problem is infeasible (x is None) and p ≈ 0. SciPy's ``nnls`` (an active-set method) sometimes
    stops at a non-optimal point (scipy/scipy#25389); its answer is accepted only when x is feasible and
    ‖x‖‖p‖ = 1 (no duality gap), else the problem is solved again by bounded-variable least squares
    (``lsq_linear``, BVLS). Callers verify whatever comes back."""
    from scipy.optimize import lsq_linear, nnls  # imported here: scipy.optimize costs ~0.4 s at start-up

    m, k = G.shape
    scale = float(np.abs(G).max()) if G.size else 0.0
    if not scale > 0:
        return None, np.full(m, 1.0 / m)
    E = np.vstack([G.T / scale, np.ones((1, m))])
    f = np.zeros(k + 1)
    f[-1] = 1.0
    try:
        u = nnls(E, f, maxiter=max(100, 30 * m))[0]
    except RuntimeError:  # pragma: no cover - iteration limit
        u = np.zeros(m)
    x, alpha = _ldp_solution(E, f, u)
    if x is None or not _ldp_optimal(E[:k].T, x, alpha):
        x, alpha = _ldp_solution(E, f, lsq_linear(E, f, bounds=(0.0, np.inf), method="bvls").x)
    return (None if x is None else x / scale), alpha


def _ldp_solution(E: np.ndarray, f: np.ndarray, u: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    r = E @ u - f
    total = float(u.sum())
    alpha = u / total if total > 0 else np.full(len(u), 1.0 / len(u))
    return (-r[:-1] / r[-1] if r[-1] < 0 else None), alpha


def _ldp_optimal(G: np.ndarray, x: np.ndarray, alpha: np.ndarray, rtol: float = 1e-9) -> bool:
    """x feasible (G x ≥ 1) and no duality gap with the hull point p = Gᵀα (‖x‖‖p‖ = 1)."""
    return bool((G @ x).min() >= 1.0 - rtol and abs(np.linalg.norm(x) * np.linalg.norm(alpha @ G) - 1.0) <= rtol)


def labelling_margin(
    pos, neg, bias: bool = True, basis: np.ndarray | None = None
) -> tuple[float, float, np.ndarray, float]:
    """Verified interval for the best margin of one binary labelling (S10.1).

    γ(y) = max(0, max_{‖w‖=1, b} min( min_{x∈pos} (w·x + b), min_{x∈neg} −(w·x + b) )), with b = 0 when
    ``bias`` is False: with bias γ(y) = dist(conv pos, conv neg)/2, without γ(y) = dist(0, conv(pos ∪ −neg));
    0 exactly when the labelling is not strictly separable. The hard-margin problem is solved by least distance
    programming (:func:`_ldp`) on the differences x − x' (x ∈ pos, x' ∈ neg), resp. the signed points; then

    * lower = the margin of the unit w found (b the midpoint), evaluated on the points in float64;
    * upper = half the distance between the two hull points λ·pos and ν·neg given by the dual weights
      (without bias: ‖α·(pos ∪ −neg)‖), since for any unit w and any b, 2·min ≤ w·(λ·pos − ν·neg);

    both widened by a float64 rounding allowance 8 (d + |pos| + |neg|) u max‖x‖. So lower ≤ γ(y) ≤ upper
    whatever the solver did (``lower`` is clipped at 0; when the hulls meet, ``upper`` ≈ 0). ``basis``:
    orthonormal columns spanning the differences (resp. the points), to solve in few dimensions.
    Returns (lower, upper, w, b).
    """
    pos, neg = np.atleast_2d(np.asarray(pos, dtype=np.float64)), np.atleast_2d(np.asarray(neg, dtype=np.float64))
    if len(pos) == 0 or len(neg) == 0:
        raise InputError("a binary labelling needs points with each label")
    d = pos.shape[1]
    G = (pos[:, None, :] - neg[None, :, :]).reshape(-1, d) if bias else np.vstack([pos, -neg])
    Q = _basis(np.vstack([pos[1:] - pos[0], neg - pos[0]]) if bias else G) if basis is None else basis
    x, alpha = _ldp(G @ Q)
    w = Q @ x if x is not None else np.zeros(d)
    if not (np.isfinite(w).all() and np.linalg.norm(w) > 0):
        w = Q[:, 0].copy() if Q.shape[1] else np.eye(d)[0]
    w = w / np.linalg.norm(w)
    sp, sn = pos @ w, neg @ w
    if bias:
        lower, b = (sp.min() - sn.max()) / 2.0, -(sp.min() + sn.max()) / 2.0
        A = alpha.reshape(len(pos), len(neg))
        upper = float(np.linalg.norm(A.sum(axis=1) @ pos - A.sum(axis=0) @ neg)) / 2.0
    else:
        lower, b = min(sp.min(), -sn.max()), 0.0
        upper = float(np.linalg.norm(alpha @ G))
    top = max(float(np.abs(pos).max()), float(np.abs(neg).max())) * math.sqrt(d)
    slack = 8.0 * (d + len(pos) + len(neg)) * _U * top
    return max(float(lower) - slack, 0.0), upper + slack, w, float(b)


def cheap_margin(codes, probe: str = "linear") -> float:
    """A lower bound on γ_F from the spectrum of the codes (S10.1), O(C² d).

    * ``linear``: σ_(C−1)(M_c)/√C, M_c the centred codes: for a labelling y ∈ {±1}^C the minimum-norm w with
      M_c w = y − ȳ1 (in range(M_c) = 1^⊥ at affine rank C − 1) has ‖w‖ ≤ ‖y − ȳ1‖/σ_(C−1) ≤ √C/σ_(C−1), and
      b = ȳ − w·μ̄ gives every code the score y_m, i.e. margin 1/‖w‖. Exact for the regular simplex with C even.
    * ``linear-nobias``: the larger of σ_C/√C (rank C: solve M w = y) and σ_(C−1) α_min/√(A(A − α_min)) when the
      last left singular vector α of M is one-signed (A = Σ|α|): scores 1 on S and −α(S)/α(Sᶜ) off S lie in
      α^⊥, so have a preimage of norm ≤ ‖s‖/σ_(C−1); S1.4's count gives the bound. Exact for the centred simplex.
    * ``mlp``: half the smallest code distance (exact).

    0 when the family's rank condition fails (C − 1 > d).
    """
    codes = np.asarray(codes, dtype=np.float64)
    C, d = codes.shape
    family = get_family(probe)
    if C < 2:
        return math.inf
    if not family.linear:
        return min_pairwise_distance(codes)[0] / 2.0
    if C - 1 > d:
        return 0.0
    if family.bias:
        return float(singular_values(codes - codes.mean(axis=0))[C - 2]) / math.sqrt(C)
    U, sv, _ = np.linalg.svd(codes, full_matrices=C > d)  # U is C × C either way
    best = float(sv[C - 1]) / math.sqrt(C) if len(sv) >= C else 0.0
    alpha = U[:, C - 1] * np.sign(U[np.argmax(np.abs(U[:, C - 1])), C - 1])
    if np.all(alpha > 0):
        A, amin = float(alpha.sum()), float(alpha.min())
        best = max(best, float(sv[C - 2]) * amin / math.sqrt(A * (A - amin)))
    return best


def _pair_margins(codes: np.ndarray, bias: bool, rows: slice) -> np.ndarray:
    """Exact margins of the 2-orbit problems {m} vs {m'} for m in ``rows`` (block × C): ‖μ_m − μ_m'‖/2 with
    bias; dist(0, [ν_m, −ν_m']) without (the segment's point nearest 0). The diagonal is +inf."""
    if bias:
        codes = codes - codes.mean(axis=0)  # distances do not move; the Gram identity loses less
    A = codes[rows]
    sqa, sq = np.einsum("ij,ij->i", A, A), np.einsum("ij,ij->i", codes, codes)
    G = A @ codes.T
    if bias:
        out = np.sqrt(np.clip(sqa[:, None] + sq[None, :] - 2.0 * G, 0.0, None)) / 2.0
    else:  # a = ν_m, b = −ν_m': ‖a + t(b − a)‖², t ∈ [0, 1]
        ab, bb, aa = -G, sq[None, :], sqa[:, None]
        den = aa + bb - 2.0 * ab
        t = np.clip(np.divide(aa - ab, den, out=np.zeros_like(den), where=den > 0), 0.0, 1.0)
        out = np.sqrt(np.clip(aa - 2.0 * t * (aa - ab) + t * t * den, 0.0, None))
    idx = np.arange(rows.start, min(rows.stop, len(codes)))
    out[idx - rows.start, idx] = np.inf
    return out


def _upper_margin(codes: np.ndarray, bias: bool, block: int = 1024) -> float:
    """An upper bound on γ_F for large C: the smallest 2-orbit margin (a labelling's margin is at most that of
    its restriction to two orbits), and with bias a Radon dependency among at most d + 2 codes (certificates.py)."""
    C, d = codes.shape
    best = min(float(_pair_margins(codes, bias, slice(i, i + block)).min()) for i in range(0, C, block))
    if bias and C >= 3:
        k = min(C, d + 2)
        dep = find_dependency(codes[:k], k - 2, affine=True)
        if dep is not None:
            best = min(best, dep.margin_bound)
    return best


def code_margin(codes, probe: str = "linear", exact_max_c: int = EXACT_MAX_C, pair_upper: bool = True) -> Margin:
    """γ_F of the codes (S10.1): exact for C ≤ ``exact_max_c`` (every labelling up to complement by
    :func:`labelling_margin`, about 2^(C−1) small problems), else [:func:`cheap_margin`, a pair/dependency bound]
    (``pair_upper`` False: no upper end, +inf, which saves its O(C² d)). For the linear families with C − 1 > d,
    exactly 0 (Radon, S1.3: some labelling of C ≥ d + 2 points is not separable, with or without bias).
    ``mlp``: half the smallest code distance, always exact. One orbit: +inf (no non-constant task)."""
    codes = np.asarray(codes, dtype=np.float64)
    C, d = codes.shape
    family = get_family(probe)
    if C < 2:
        return Margin(math.inf, math.inf, True, None, "one orbit: every invariant task is constant")
    if not family.linear:
        dist, i, j = min_pairwise_distance(codes)
        exact = float(np.linalg.norm(codes[i] - codes[j])) / 2.0
        slack = 8.0 * d * _U * float(np.abs(codes).max()) * math.sqrt(d)
        lab = np.zeros(C, dtype=np.int64)
        lab[i] = 1
        return Margin(exact - slack, exact + slack, True, lab, "half the smallest code distance")
    if C - 1 > d:
        return Margin(0.0, 0.0, True, None, f"C − 1 = {C - 1} > d = {d}: some labelling is not separable (Radon, S1.3)")
    if C > exact_max_c:
        upper = _upper_margin(codes, family.bias) if pair_upper else math.inf
        return Margin(cheap_margin(codes, probe), upper, False, None, _cheap_how(family.bias))
    Q = _basis(codes[1:] - codes[0]) if family.bias else _basis(codes)
    lo, up, arg = math.inf, math.inf, None
    for rest in itertools.product((1, 0), repeat=C - 1):
        y = np.array((1,) + rest, dtype=bool)
        if y.all():
            continue
        a, b, _, _ = labelling_margin(codes[y], codes[~y], family.bias, basis=Q)
        lo = min(lo, a)
        if b < up:
            up, arg = b, y.astype(np.int64)
    how = f"exact: all {2 ** (C - 1) - 1} non-constant labellings, each a verified interval"
    return Margin(lo, up, True, arg, how)


def margin_lower(codes, probe: str = "linear", exact_max_c: int = SUBSET_EXACT_MAX_C) -> float:
    """The lower end of :func:`code_margin` without its upper bound: exact for C ≤ ``exact_max_c``, else
    :func:`cheap_margin` (what the per-sample bound and the subset scores need)."""
    codes = np.asarray(codes, dtype=np.float64)
    if len(codes) > exact_max_c and get_family(probe).linear:
        return cheap_margin(codes, probe)
    return code_margin(codes, probe, exact_max_c).lower


def _cheap_how(bias: bool) -> str:
    low = "σ_(C−1)/√C of the centred codes" if bias else "σ_C/√C or the dependency bound σ_(C−1)α_min/√(A(A−α_min))"
    return f"lower: {low}; upper: the closest 2-orbit problem" + (" or a Radon dependency" if bias else "")


# ------------------------------------------------------------------------------------------ S10.2 robust Theorem 1
def _orbit_task(orbit_labels, C: int) -> np.ndarray:
    y = np.asarray(orbit_labels)
    if y.shape != (C,):
        raise InputError(f"the task must give one label per orbit ({C}), got shape {y.shape}")
    return np.unique(y, return_inverse=True)[1].reshape(C)


def _separator(codes: np.ndarray, inside: np.ndarray, bias: bool, exact: bool) -> tuple[np.ndarray, float]:
    """A unit (w, b) scoring the orbits in ``inside`` positive and the others negative: the max-margin one
    (:func:`labelling_margin`) when ``exact``, else the construction behind :func:`cheap_margin` (minimum-norm
    interpolation of y − ȳ1 with bias; without, of the scores 1 on S, −α(S)/α(Sᶜ) off S when the last left
    singular vector α is one-signed, of y otherwise)."""
    if exact:
        _, _, w, b = labelling_margin(codes[inside], codes[~inside], bias)
        return w, b
    y = np.where(inside, 1.0, -1.0)
    if bias:
        mu = codes.mean(axis=0)
        w = np.linalg.lstsq(codes - mu, y - y.mean(), rcond=None)[0]
        b = float(y.mean() - w @ mu)
    else:
        U = np.linalg.svd(codes, full_matrices=len(codes) > codes.shape[1])[0]
        a = U[:, -1] * np.sign(U[np.argmax(np.abs(U[:, -1])), -1])
        s = np.where(inside, 1.0, -a[inside].sum() / a[~inside].sum()) if np.all(a > 0) else y
        w, b = np.linalg.lstsq(codes, s, rcond=None)[0], 0.0
    n = float(np.linalg.norm(w))
    return (w / n, b / n) if n > 0 else (w, b)


def robust_predict(prob: Problem, orbit_labels, exact_max_c: int = EXACT_MAX_C) -> tuple[np.ndarray, np.ndarray]:
    """The probe of robust Theorem 1 (S10.2) for the invariant task ``orbit_labels`` (one label per orbit):
    its prediction (an index into the sorted label values) and its multiclass margin on every point.

    Linear families: one-vs-rest, class k scored by a unit (w_k, b_k) separating its orbits' codes from the
    others' (max-margin for C ≤ ``exact_max_c``); f(z) = argmax_k w_k·z + b_k. The margin at a point of class c
    is min_{k≠c} ((w_c − w_k)·z + b_c − b_k)/‖w_c − w_k‖, the distance from z to the nearest point another class
    scores at least as high (negative when z is misclassified). ``mlp``: the nearest code's class, with margin
    the distance to the nearest bisector between that code and a code of another class (a lower bound on the
    distance to the decision boundary). S10.2: when ε_max < γ every margin is ≥ γ − ε_max > 0."""
    y = _orbit_task(orbit_labels, prob.C)
    K = int(y.max()) + 1
    cls = y[prob.labels]
    if K == 1:
        return np.zeros(len(cls), dtype=np.int64), np.full(len(cls), np.inf)
    Z, codes = prob.points, prob.codes
    if not get_family(prob.probe).linear:
        sq = np.einsum("ij,ij->i", codes, codes)
        D2 = np.einsum("ij,ij->i", Z, Z)[:, None] + sq[None, :] - 2.0 * Z @ codes.T
        near = np.argmin(D2, axis=1)
        diff = codes[None, :, :] - codes[near][:, None, :]
        dist = np.linalg.norm(diff, axis=2)
        signed = (D2 - D2[np.arange(len(Z)), near][:, None]) / (2.0 * np.where(dist > 0, dist, np.inf))
        signed[y[None, :] == y[near][:, None]] = np.inf
        margin = signed.min(axis=1)
        pred = y[near]
        return pred, np.where(pred == cls, margin, -margin)
    exact = prob.C <= exact_max_c
    Wb = [_separator(codes, y == k, prob.bias, exact) for k in range(K)]
    W, b = np.array([w for w, _ in Wb]), np.array([c for _, c in Wb])
    S = Z @ W.T + b
    pred = np.argmax(S, axis=1)
    own = S[np.arange(len(Z)), cls]
    norms = np.linalg.norm(W[cls][:, None, :] - W[None, :, :], axis=2)
    gaps = (own[:, None] - S) / np.where(norms > 0, norms, np.inf)
    gaps[np.arange(len(Z)), cls] = np.inf
    return pred, gaps.min(axis=1)


# ------------------------------------------------------------------------------------------ S10.3-S10.4 n-shot bounds
def nshot_premise(probe: str, gamma: float, delta: float, eps_sample: float, eps_core: float) -> bool:
    """The premise of S10.3 on a sample whose points deviate at most ``eps_sample`` from their codes, cores of
    diameter ≤ ``delta`` and deviation ≤ ``eps_core``: δ + ε_sample < γ for the linear families (max-margin ERM),
    δ + ε_sample + ε_core < 2γ for ``mlp`` (1-NN). Under it the learner errs on no core point of a seen orbit."""
    if not get_family(probe).linear:
        return delta + eps_sample + eps_core < 2.0 * gamma
    return delta + eps_sample < gamma


def core_bound(core_mass, n: int) -> float:
    """B(n) = 1 − s^(n+1) (1 − W_n(p̃)), s = Σ_m a_m, p̃ = a/s (S10.4), for core masses a_m = p(m ∩ core).

    An upper bound on the expected n-shot risk of the max-margin ERM (1-NN for ``mlp``) on every invariant task
    when the core satisfies the premise of S10.3: the learner is right on a fresh point x whenever the n sample
    points and x are all core (probability s^(n+1)) and x's orbit was seen (then probability 1 − W_n(p̃)).
    Equals (1 − q)^n [(1 − q) W_n(p̃) + q] + 1 − (1 − q)^n with q = 1 − s, and W_n when q = 0."""
    a = np.asarray(core_mass, dtype=np.float64)
    s = min(float(a.sum()), 1.0)
    if not s > 0:
        return 1.0
    return float(1.0 - math.exp((n + 1) * math.log(s)) * (1.0 - erm_risk(a / a.sum(), n)))


def best_radius(
    prob: Problem, gamma: float, kind: str = "nshot", orbits=None, eps_sample: float | None = None
) -> float | None:
    """The largest deviation r whose core (the points with dev ≤ r, over ``orbits``, default all) certifies:

    * ``population`` (S10.2): ε(r) < γ, every task fitted on the core with margin ≥ γ − ε(r);
    * ``nshot`` (S10.3): the premise of :func:`nshot_premise` with core diameter δ(r), core deviation ε(r) and
      ε_sample = ε(r) (any sample from the core), or the given ``eps_sample`` (one sample, then r ≥ eps_sample).

    ε(r) and δ(r) grow with r, so the certified radii form a prefix, found by bisection. None when none
    certifies."""
    if kind not in ("nshot", "population"):
        raise InputError(f"kind must be 'nshot' or 'population', got {kind!r}")
    keep = (prob.mass > 0) & np.isfinite(prob.deviation)
    if orbits is not None:
        keep &= np.isin(prob.labels, orbits)
    cand = np.unique(prob.deviation[keep])
    if eps_sample is not None:
        cand = cand[cand >= eps_sample]

    def ok(r: float) -> bool:
        _, delta, eps = prob.core(r, orbits)
        if kind == "population":
            return eps < gamma
        return nshot_premise(prob.probe, gamma, delta, eps if eps_sample is None else eps_sample, eps)

    lo, hi = 0, len(cand)  # cand[:lo] certify, cand[hi:] do not
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(float(cand[mid])):
            lo = mid + 1
        else:
            hi = mid
    return float(cand[lo - 1]) if lo else None


@dataclass
class Certificate:
    """What S10.2–S10.4 certify for one problem, for every invariant task at once.

    Attributes
    ----------
    probe : str
    gamma : Margin
        γ_F of the codes (:func:`code_margin`).
    eps_max, delta_max : float
        Largest deviation and largest orbit diameter (points of positive mass).
    eps_quantiles : dict
        Quantiles of the deviations of the points of positive mass (plain, not mass-weighted).
    population : bool
        ε_max < γ: every invariant task is fitted on every point with margin ≥ γ − ε_max (S10.2).
    nshot : bool
        The premise of S10.3 holds on all points: the n-shot risk is at most W_n for every task and n.
    radius : float or None
        The largest radius whose core certifies the n-shot premise (:func:`best_radius`); None: none does.
    core_mass : ndarray (C,)
        p(m ∩ core) at ``radius`` (zeros when None).
    certified_mass, certified_mass_population : float
        Mass of the n-shot core; mass of the largest core with ε(r) < γ (fitted by one probe per task).
    """

    probe: str
    gamma: Margin
    eps_max: float
    delta_max: float
    eps_quantiles: dict[str, float]
    population: bool
    nshot: bool
    radius: float | None
    core_mass: np.ndarray
    certified_mass: float
    certified_mass_population: float
    orbit_mass: np.ndarray = field(repr=False)

    def bound(self, n: int) -> float:
        """:func:`core_bound` at the certified core: E[n-shot risk] ≤ this, for every invariant task (S10.4)."""
        return core_bound(self.core_mass, n) if self.radius is not None else 1.0

    def n_below(self, target: float = 0.01, n_max: int = 10**12) -> int | None:
        """The smallest n with :meth:`bound` ≤ ``target`` (None if none). With no mass outside the core the
        bound is W_n, decreasing in n; otherwise B(n) ≥ 1 − s^(n+1) caps the useful n, and the smallest n is
        searched on a geometric grid refined by bisection (exact when B decreases up to the target)."""
        s = float(self.core_mass.sum())
        if self.radius is None or not s > 0:
            return None
        lim = n_max if s >= 1.0 else min(n_max, int(math.log1p(-target) / math.log(s)))
        prev, n = 0, 1
        while n <= lim and self.bound(n) > target:
            prev, n = n, max(n + 1, int(n * 1.25))
        if n > lim:
            n = lim
            if n <= prev or self.bound(n) > target:
                return None
        while n - prev > 1:  # bound(n) <= target < bound(prev) (prev = 0: B(0) = 1)
            mid = (prev + n) // 2
            if self.bound(mid) <= target:
                n = mid
            else:
                prev = mid
        return n

    def to_dict(self, ns=(1, 2, 5, 10, 20, 50, 100, 1000), target: float = 0.01) -> dict[str, Any]:
        """Plain-Python fields (for JSON): the figures above, the bound at ``ns``, the n reaching ``target``."""
        g = self.gamma.lower
        return {
            "probe": self.probe,
            "gamma": self.gamma.to_dict(),
            "eps_max": self.eps_max,
            "delta_max": self.delta_max,
            "eps_over_gamma": self.eps_max / g if g > 0 else math.inf,
            "eps_quantiles": dict(self.eps_quantiles),
            "population": self.population,
            "nshot": self.nshot,
            "radius": self.radius,
            "certified_mass": self.certified_mass,
            "certified_mass_population": self.certified_mass_population,
            "bound": [[int(n), self.bound(int(n))] for n in ns],
            "target": target,
            "n_below_target": self.n_below(target),
        }


QUANTILES = (0.5, 0.9, 0.99, 1.0)


def certify(prob: Problem, exact_max_c: int = EXACT_MAX_C) -> Certificate:
    """The certificate of S10.2–S10.4 for ``prob`` (every invariant task): γ (:func:`code_margin`), the radii, the
    population and n-shot verdicts, the best core and its bound. Cost: γ as in :func:`code_margin`, then
    O(Σ_m n_m² d) for the diameters and O(C log N) per bisection step of :func:`best_radius`."""
    gamma = code_margin(prob.codes, prob.probe, exact_max_c)
    live = prob.mass > 0
    dev = prob.deviation[live]
    eps = float(dev.max())
    delta = float(prob.profiles.diameter.max()) if len(prob.profiles.diameter) else 0.0
    g = gamma.lower
    r = best_radius(prob, g, "nshot")
    a = prob.core(r)[0] if r is not None else np.zeros(prob.C)
    r_pop = best_radius(prob, g, "population")
    pop_mass = float(prob.core(r_pop)[0].sum()) if r_pop is not None else 0.0
    return Certificate(
        probe=prob.probe,
        gamma=gamma,
        eps_max=eps,
        delta_max=delta,
        eps_quantiles={f"q{q:g}": float(np.quantile(dev, q, method="higher")) for q in QUANTILES},
        population=bool(eps < g),
        nshot=bool(nshot_premise(prob.probe, g, delta, eps, eps)),
        radius=r,
        core_mass=a,
        certified_mass=float(a.sum()),
        certified_mass_population=pop_mass,
        orbit_mass=prob.orbit_mass,
    )


def orbit_certificate(
    codes, radii, orbit_mass, probe: str = "linear", exact_max_c: int = EXACT_MAX_C, pair_upper: bool = True
) -> Certificate:
    """The certificate of :func:`certify` from per-orbit summaries alone: codes μ_m, radii ε_m (any upper bounds on
    each orbit's largest deviation from μ_m; +inf for an orbit holding a zero point without bias) and masses p_m.

    Diameters are bounded through the code, δ_m ≤ 2ε_m, and the core is made of whole orbits,
    K(r) = ⋃{m : ε_m ≤ r}. S10.4's proof uses of its core only that the sample's and the fresh point's deviations
    are at most ε(K) and that the orbit diameters within K are at most δ(K); here ε(K) ≤ r and δ(K) ≤ 2r, so the
    premise holds when 3r < γ (``mlp``: 4r < 2γ, i.e. 2r < γ) and B(n) = 1 − s^(n+1)(1 − W_n(p̃)) with a_m = p_m on
    K. K(r) lies inside the point core {dev ≤ r} of the same codes, whose premise then holds too, and B never
    increases as the core grows (S10.4, the best radius): the bound is never below :func:`certify`'s on the same
    codes. Cost: γ as in :func:`code_margin`, then O(C log C). ``eps_quantiles`` are over the C radii."""
    codes = np.asarray(codes, dtype=np.float64)
    eps = np.asarray(radii, dtype=np.float64)
    mass = np.asarray(orbit_mass, dtype=np.float64)
    gamma = code_margin(codes, probe, exact_max_c, pair_upper)
    g = gamma.lower
    live = mass > 0
    e_live = eps[live] if live.any() else np.zeros(1)
    eps_max = float(e_live.max())
    cand = np.unique(e_live[np.isfinite(e_live)])
    good = [float(r) for r in cand if nshot_premise(probe, g, 2.0 * float(r), float(r), float(r))]
    radius = max(good) if good else None
    core = np.where(live & (eps <= radius), mass, 0.0) if radius is not None else np.zeros(len(mass))
    pop = float(mass[live & (eps < g)].sum())
    return Certificate(
        probe=get_family(probe).name,
        gamma=gamma,
        eps_max=eps_max,
        delta_max=2.0 * eps_max,
        eps_quantiles={f"q{q:g}": float(np.quantile(e_live, q, method="higher")) for q in QUANTILES},
        population=bool(eps_max < g),
        nshot=bool(nshot_premise(probe, g, 2.0 * eps_max, eps_max, eps_max)),
        radius=radius,
        core_mass=core,
        certified_mass=float(core.sum()),
        certified_mass_population=pop,
        orbit_mass=mass,
    )


def sample_bound(prob: Problem, idx, exact_max_c: int = SUBSET_EXACT_MAX_C) -> float:
    """b(D): an upper bound on the risk, on every invariant task, of the max-margin ERM (1-NN for ``mlp``) fitted
    on the sample D of point indices ``idx`` (S10.3, per sample).

    With S the orbits seen in D: if D shows one orbit, every task is constant on D, the learner predicts that
    class everywhere and errs at most off S: b = 1 − p(S). Otherwise, with γ_S the margin of S's codes (exact for
    |S| ≤ ``exact_max_c``, else the cheap bound) and ε_D the largest deviation in D, the learner is right on every
    point of S within the largest radius r ≥ ε_D whose core satisfies the premise (:func:`best_radius`):
    b = 1 − p(core_r ∩ S); b = 1 when no radius does. Only the seen orbits' margin enters, so b can be < 1
    even when C > d + 1 and the full problem has γ = 0."""
    idx = np.asarray(idx, dtype=np.int64)
    S = np.unique(prob.labels[idx])
    if len(S) == 1:
        return float(1.0 - prob.orbit_mass[S].sum())
    eps_d = float(prob.deviation[idx].max())
    if not math.isfinite(eps_d):
        return 1.0
    g = margin_lower(prob.codes[S], prob.probe, exact_max_c)
    r = best_radius(prob, g, "nshot", orbits=S, eps_sample=eps_d)
    return 1.0 if r is None else float(1.0 - prob.core(r, S)[0].sum())


def certified_risk(
    prob: Problem, n: int, draws: int = 256, seed: int = 0, exact_max_c: int = SUBSET_EXACT_MAX_C
) -> tuple[float, float]:
    """Monte Carlo estimate of E_D[b(D)] over samples D ~ p^n (:func:`sample_bound`), with its standard error.

    E_D[b(D)] is a proven upper bound on the expected n-shot risk of the max-margin ERM for every invariant task;
    the mean of ``draws`` i.i.d. values of b in [0, 1] estimates it without bias (numpy seed ``seed``). Cost:
    ``draws`` margins of at most n codes plus the bisection of :func:`best_radius` on the seen orbits."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    b = np.array(
        [sample_bound(prob, rng.choice(len(prob.mass), size=int(n), p=prob.mass), exact_max_c) for _ in range(draws)]
    )
    return float(b.mean()), float(b.std(ddof=1) / math.sqrt(draws)) if draws > 1 else math.nan


# ------------------------------------------------------------------------------------------ S10.5 soft scores
def certified_mass(prob: Problem, kind: str = "nshot", exact_max_c: int = EXACT_MAX_C) -> float:
    """Score: the mass of the largest certified core of the whole problem (S10.5, from :func:`certify`).

    ``population``: the share of points on which one probe per task is right for every invariant task (S10.2);
    ``nshot``: 1 − q, the mass whose core bound 1 − (1 − q)^(n+1)(1 − W_n(p̃)) holds. Predicts a floor on the
    accuracy of fully trained probes (``population``), resp. of few-shot max-margin probes, on every task. It is
    0 whenever γ_F of all C codes is 0, e.g. for the linear families as soon as C > d + 1."""
    cert = certify(prob, exact_max_c)
    return cert.certified_mass if kind == "nshot" else cert.certified_mass_population


def alpha_cores(prob: Problem, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """Per orbit, ε_m and δ_m of its α-core: the ⌈α n_m⌉ points of smallest deviation (α = 1: the whole orbit)."""
    if not 0.0 < quantile <= 1.0:
        raise InputError(f"quantile must lie in (0, 1], got {quantile!r}")
    pr = prob.profiles
    n = np.diff(pr.start)
    k = np.maximum(np.ceil(quantile * n - 1e-12).astype(np.int64), 1)
    last = np.where(n > 0, pr.start[:-1] + k - 1, 0)
    eps, delta = np.where(n > 0, pr.deviation[last], 0.0), np.where(n > 0, pr.diameter[last], 0.0)
    return eps, delta


def pair_separation(
    prob: Problem, quantile: float = 1.0, kind: str = "population", block: int = 1024
) -> dict[str, float]:
    """Score: the share of the C(C−1)/2 two-orbit sub-problems that are certified (S10.5; the k = 2 certificate),
    each orbit represented by its α-core (the ``quantile`` of its points nearest its code).

    With γ_mm' the exact 2-orbit margin (‖μ_m − μ_m'‖/2 with bias, dist(0, [ν_m, −ν_m']) without) and ε, δ the
    α-cores' radius and diameter: ``population`` asks ε_m + ε_m' < 2γ_mm' (the two balls are disjoint, hence
    separable; without bias max(ε_m, ε_m') < γ_mm'); ``nshot`` asks the premise of S10.3 on the pair
    (max δ + max ε < γ, ``mlp``: max δ + 2 max ε < 2γ). Returns ``pairs`` (that share) and ``orbits`` (the share of
    orbits certified against every other orbit). Predicts pairwise (binary) discriminability of orbits by a
    probe, the quantity behind k-NN accuracy on invariant tasks. Rotation and scale invariant, translation
    invariant with bias. Cost O(C² d) in blocks of ``block`` rows."""
    eps, delta = alpha_cores(prob, quantile)
    table = pair_table(prob.codes, prob.probe, eps, delta, kind, block)
    return {"pairs": table.pairs, "orbits": float(table.orbit_ok.mean())}


class PairTable(NamedTuple):
    """Two-orbit certificates of :func:`pair_table`: ``pairs`` (share of the C(C−1)/2 pairs certified),
    ``orbit_ok`` (per orbit: certified against every other), ``nearest`` (per orbit, the other orbit of smallest
    2-orbit margin; −1 when C = 1) and ``nearest_margin`` (that margin, +inf when C = 1)."""

    pairs: float
    orbit_ok: np.ndarray
    nearest: np.ndarray
    nearest_margin: np.ndarray


def pair_table(codes, probe: str, eps, delta, kind: str = "population", block: int = 1024) -> PairTable:
    """The k = 2 certificates of every pair of orbits (S10.5), from per-orbit radii ``eps`` and diameters ``delta``
    (any upper bounds, e.g. δ_m ≤ 2ε_m, give a sound, weaker table).

    With γ_mm' the exact 2-orbit margin (‖μ_m − μ_m'‖/2 with bias, dist(0, [ν_m, −ν_m']) without): ``population``
    asks ε_m + ε_m' < 2γ_mm' with bias (two disjoint balls), max(ε_m, ε_m') < γ_mm' without (S10.2(i) on the pair);
    ``nshot`` the premise of S10.3 on the pair (max δ + max ε < γ; ``mlp``: max δ + 2 max ε < 2γ). Cost O(C² d)
    in blocks of ``block`` rows."""
    if kind not in ("nshot", "population"):
        raise InputError(f"kind must be 'nshot' or 'population', got {kind!r}")
    codes = np.asarray(codes, dtype=np.float64)
    eps, delta = np.asarray(eps, dtype=np.float64), np.asarray(delta, dtype=np.float64)
    family = get_family(probe)
    C, good_pairs = len(codes), 0
    orbit_ok = np.ones(C, dtype=bool)
    nearest, nearest_margin = np.full(C, -1, dtype=np.int64), np.full(C, np.inf)
    for i in range(0, C, block):
        rows = slice(i, min(i + block, C))
        g = _pair_margins(codes, family.bias, rows)
        idx = np.arange(rows.start, rows.stop)
        if C > 1:
            nearest[rows] = np.argmin(g, axis=1)
            nearest_margin[rows] = g[idx - i, nearest[rows]]
        e_max = np.maximum(eps[rows, None], eps[None, :])
        with np.errstate(invalid="ignore"):  # an infinite radius (a zero point without bias) certifies nothing
            if kind == "population":
                ok = (eps[rows, None] + eps[None, :] < 2.0 * g) if family.bias else (e_max < g)
            else:
                d_max = np.maximum(delta[rows, None], delta[None, :])
                ok = (d_max + 2.0 * e_max < 2.0 * g) if not family.linear else (d_max + e_max < g)
        ok[idx - i, idx] = True
        orbit_ok[rows] &= ok.all(axis=1)
        good_pairs += int(ok[np.arange(C)[None, :] > idx[:, None]].sum())  # each pair m < m' once
    total = C * (C - 1) // 2
    return PairTable(good_pairs / total if total else 1.0, orbit_ok, nearest, nearest_margin)


def subset_certificates(
    prob: Problem, k: int, n_subsets: int = 32, seed: int = 0, exact_max_c: int = SUBSET_EXACT_MAX_C
) -> dict[str, Any]:
    """Score at scale k: ``n_subsets`` uniformly random k-orbit sub-problems (numpy seed ``seed``), each
    certified as a problem of its own (S10.5).

    For a subset S: γ_S (:func:`code_margin`, exact for k ≤ ``exact_max_c``, else the cheap bound), ε_S and δ_S
    over its points. Returns ``certified`` (the share with the n-shot premise on all their points: a few-shot
    task among those k orbits is learned with risk ≤ W_n), ``population`` (share with ε_S < γ_S), ``mass`` (mean
    certified core mass of S over p(S), the continuous version) and ``ratio`` (median γ_S/ε_S; 3 or more
    certifies, since δ ≤ 2ε). k = 2 with every pair is :func:`pair_separation` at α = 1; k = C is :func:`certify`.
    Why it matters: an n-shot sample sees at most n orbits and only their margin enters (:func:`sample_bound`),
    so these shares bound few-shot error where the whole problem cannot be certified (C > d + 1)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= prob.C:
        raise InputError(f"k must be an integer in [2, {prob.C}], got {k!r}")
    rng = np.random.default_rng(seed)
    cert, pop, mass, ratio = [], [], [], []
    for _ in range(n_subsets):
        S = np.sort(rng.choice(prob.C, size=int(k), replace=False))
        g = margin_lower(prob.codes[S], prob.probe, exact_max_c)
        _, delta, eps = prob.core(math.inf, S)
        cert.append(nshot_premise(prob.probe, g, delta, eps, eps))
        pop.append(eps < g)
        r = best_radius(prob, g, "nshot", orbits=S)
        pS = float(prob.orbit_mass[S].sum())
        mass.append(float(prob.core(r, S)[0].sum()) / pS if (r is not None and pS > 0) else 0.0)
        ratio.append(g / eps if eps > 0 else math.inf)
    return {
        "k": int(k),
        "certified": float(np.mean(cert)),
        "population": float(np.mean(pop)),
        "mass": float(np.mean(mass)),
        "ratio": float(np.median(ratio)),
        "subsets": int(n_subsets),
    }


def max_scale(prob: Problem) -> int:
    """The largest k for which a k-orbit sub-problem can be certified: min(C, d + 1) for the linear families (γ = 0
    above, Radon), C for ``mlp``."""
    d = prob.points.shape[1]
    return prob.C if not get_family(prob.probe).linear else min(prob.C, d + 1)


def multiscale_certified(prob: Problem, ks=None, n_subsets: int = 32, seed: int = 0) -> dict[str, Any]:
    """Score: :func:`subset_certificates` at k = 2, 4, 8, … up to :func:`max_scale` (S10.5), and two summaries:
    ``area``, the mean certified share over those scales (each scale weighs the same, i.e. log-uniform in k), and
    ``scale``, the largest k whose certified share is at least 1/2 (0 when none). k = C, the full certificate,
    is one of the scales when C ≤ :func:`max_scale` (one subset: the problem itself). Predicts the number of
    classes up to which few-shot linear probes on orbit-level tasks are certified; it decreases from 1 (ideal)
    as within-orbit spread grows relative to the margins. Cost: per subset an SVD of k × d, at most
    ``n_subsets`` · Σ_k k² d flops."""
    top = max_scale(prob)
    if ks is None:
        ks = [2**j for j in range(1, int(math.log2(max(top, 2))) + 1)]
        if prob.C == top and ks[-1] != top:
            ks.append(top)
    rows = [subset_certificates(prob, int(k), 1 if k == prob.C else n_subsets, seed) for k in ks if 2 <= k <= prob.C]
    shares = [r["certified"] for r in rows]
    scale = max((r["k"] for r in rows if r["certified"] >= 0.5), default=0)
    return {"scales": rows, "area": float(np.mean(shares)) if shares else 0.0, "scale": int(scale)}


def margin_radius_ratio(
    prob: Problem, quantiles=(0.5, 0.9, 1.0), k: int | None = None, n_subsets: int = 32, seed: int = 0
) -> dict[str, float]:
    """Score: γ / ε_α for deviation quantiles α (S10.5): of the whole problem (``k`` None; γ by :func:`code_margin`),
    or the median over random k-orbit subsets. At α = 1 a ratio above 1 certifies every task on every point
    (S10.2) and above 3 every n-shot task (S10.3, δ ≤ 2ε); below 1 the ratio keeps ranking. Continuous,
    rotation and scale invariant (translation too with bias). ε_α is the plain quantile of the deviations of the
    points of positive mass (over the subset's points for k)."""
    qs = [float(q) for q in quantiles]
    if any(not 0.0 <= q <= 1.0 for q in qs):
        raise InputError(f"quantiles must lie in [0, 1], got {quantiles!r}")
    live = prob.mass > 0

    def ratios(S: np.ndarray | None, gamma: float) -> list[float]:
        dev = prob.deviation[live if S is None else (live & np.isin(prob.labels, S))]
        return [gamma / e if e > 0 else math.inf for e in np.quantile(dev, qs, method="higher")]

    if k is None:
        vals = ratios(None, code_margin(prob.codes, prob.probe).lower)
    else:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= prob.C:
            raise InputError(f"k must be an integer in [2, {prob.C}], got {k!r}")
        rng = np.random.default_rng(seed)
        per = []
        for _ in range(n_subsets):
            S = np.sort(rng.choice(prob.C, size=int(k), replace=False))
            per.append(ratios(S, margin_lower(prob.codes[S], prob.probe)))
        vals = [float(v) for v in np.median(np.array(per), axis=0)]
    return {f"q{q:g}": float(v) for q, v in zip(qs, vals)}


def pair_ratios(prob: Problem, quantile: float = 0.5, block: int = 1024) -> np.ndarray:
    """The certification ratio of every two-orbit sub-problem (S10.5, the continuous form of
    :func:`pair_separation`'s ``population`` test), in the order of ``itertools.combinations(range(C), 2)``.

    With γ_mm' the exact two-orbit margin and ε_m the radius of orbit m's α-core (α = ``quantile``):
    ρ_mm' = 2γ_mm'/(ε_m + ε_m') with bias (the two balls are disjoint, hence the pair separable, iff ρ > 1), and
    γ_mm'/max(ε_m, ε_m') without. ``inf`` where both radii are 0 and γ > 0 (0/0 counts as 0). The share of ρ > 1 is
    :func:`pair_separation`'s ``pairs``; the median ρ keeps ordering encoders when few pairs are certified.
    Rotation and scale invariant, translation invariant with bias. Cost O(C² d) in blocks of ``block`` rows."""
    eps, _ = alpha_cores(prob, quantile)
    C, out = prob.C, []
    for i in range(0, C, block):
        rows = slice(i, min(i + block, C))
        g = _pair_margins(prob.codes, prob.bias, rows)
        den = (eps[rows, None] + eps[None, :]) / 2.0 if prob.bias else np.maximum(eps[rows, None], eps[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(den > 0, g / np.where(den > 0, den, 1.0), np.where(g > 0, np.inf, 0.0))
        idx = np.arange(rows.start, rows.stop)
        out.append(r[np.arange(C)[None, :] > idx[:, None]])
    return np.concatenate(out) if out else np.zeros(0)
