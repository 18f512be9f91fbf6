"""Per probe family: the conditions of the theory on the orbit codes, their certificate and witnesses.

Theory (theory/statements.md S1–S2; Dubois et al. 2022, Thm. 1 and Sec. 5): an encoder is sample
optimal for all invariant tasks and a probe family F iff it is invariant (x ~ x+ ⇒ φ(x) = φ(x+),
measured in :mod:`.decision`) and

* ``linear`` (affine probes): the C orbit codes are affinely independent, rank[μ_m − μ̄] = C − 1
  (S1.3; the main-text "dim span ≥ C − 1" is necessary, not sufficient: the note under S1.3);
* ``linear-nobias`` (homogeneous probes): rank[μ_m] = C, or rank C − 1 and the one dependency
  Σ α_m μ_m = 0 has every α_m non-zero and of one sign (S1.4); invariance is only needed up to
  positive scaling (argmax W z = argmax W (cz), c > 0), and then the codes are each orbit's
  largest-norm point (an order-free choice; :class:`ScaledInvariance`);
* ``mlp`` (universal probes): the codes are distinct (S2.1).

Each family is one :class:`FamilyRules` entry of :data:`FAMILIES`: a function measuring its
conditions (and building a certificate when one fails), its witness constructions, and optionally a
relaxation of the invariance condition. Adding a family = one entry here + one in
:mod:`idealssl.probes`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..inputs.orbits import Orbits
from ..inputs.representation import Representation
from ..probes import FAMILIES as PROBE_FAMILIES
from ..probes import ProbeFamily
from . import certificates as cert
from .certificates import Certificate
from .geometry import CodeGeometry, homogeneous_dependency, min_pairwise_distance
from .report import Condition
from .stats import OrbitStats, largest_norm_points, orbit_stats, ray_deviation
from .witness import MLP_WITNESSES, affine_witness, homogeneous_witness


def _rel(sv: np.ndarray, k: int) -> float:
    """σ_k / σ_1 (0 when there is no k-th value or σ_1 = 0)."""
    return float(sv[k - 1] / sv[0]) if (len(sv) >= k and sv[0] > 0) else 0.0


def _shown(sv: np.ndarray) -> list:
    """Up to 1000 singular values, relative to the largest, for the report."""
    return (sv / sv[0]).tolist()[:1000] if len(sv) and sv[0] > 0 else sv.tolist()[:1000]


def _margin(holds: bool, value: float, lower: str) -> Condition:
    return Condition(
        holds=holds,
        value=value if holds else 0.0,
        threshold=0.0,
        comparison=">",
        description=lower if holds else "no positive margin: some task is not separable (see certificate)",
        detail={"bound": "lower" if holds else "upper"},
    )


Measured = tuple[dict[str, Condition], Certificate | None]


def affine_conditions(g: CodeGeometry, rep: Representation, orb: Orbits, notes: list[str]) -> Measured:
    """``linear``: affine independence of the codes (S1.3), with the paper's span condition for information."""
    C, tol, sv = g.C, g.tol, g.sv_aff
    independent = g.aff_rank == C - 1
    conds = {
        "affine_independence": Condition(
            holds=independent,
            value=1.0 if C == 1 else _rel(sv, C - 1),
            threshold=tol,
            comparison=">",
            description="σ_(C−1) / σ_1 of the centred codes [μ_m − μ̄] (affinely independent iff > tol)",
            detail={"singular_values_relative": _shown(sv), "affine_rank": g.aff_rank, "method": g.method},
        ),
        "effective_dimension": Condition(
            holds=g.aff_rank >= C - 1,
            value=g.aff_rank,
            threshold=C - 1,
            comparison=">=",
            description=f"affine rank of the codes vs the required C − 1 (nominal d = {g.d})",
            detail={"nominal_dim": g.d, "linear_span_rank": g.lin_rank},
        ),
        "worst_case_margin": _margin(
            independent,
            1.0 if C == 1 else float(sv[C - 2]) / math.sqrt(C) / g.scale if independent else 0.0,
            "lower bound σ_(C−1)/√C on every binary task's best margin, relative to the spread",
        ),
    }
    span_ok = g.lin_rank >= C - 1
    conds["span_dimension_paper"] = Condition(
        holds=span_ok,
        value=g.lin_rank,
        threshold=C - 1,
        comparison=">=",
        description="the paper's main-text condition dim span{φ(x)} ≥ C − 1 (necessary, NOT sufficient)",
        decisive=False,
    )
    if span_ok and not independent:
        notes.append(
            "the paper's main-text condition dim span ≥ C − 1 holds, but the codes are affinely dependent, so some "
            "invariant task is not linearly separable: the span condition is not sufficient "
            "(theory/statements.md S1.3, note on the paper's wording); the affine one decides"
        )
    certificate = None
    if g.aff_rank < C - 1:
        S = g.spread
        certificate = cert.radon_certificate(
            g.codes,
            orb,
            cert.affine_dependency(g.codes, g.aff_rank),
            S if S > 0 else g.scale,
            tol,
            True,
            g.first,
            top=float(sv[0]) if len(sv) else None,
            unit="code spread" if S > 0 else "the codes' RMS norm",
        )
    return conds, certificate


def _dependency_value(codes: np.ndarray, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """min_m α̂_m / ‖α̂‖ for the dependency of the unit codes, α̂_m = α_m ‖μ_m‖ (a per-code positive
    scaling changes α but not α̂, and homogeneous probes cannot see such scalings); α̂ is oriented so
    that its largest entry is positive. Positive iff α is one-signed without zeros."""
    a = lam * np.linalg.norm(codes, axis=1)
    if not np.abs(a).max() > 0:  # the dependency of a zero code
        return 0.0, a
    a = a / a[int(np.argmax(np.abs(a)))]
    return float(a.min() / np.linalg.norm(a)), a


def homogeneous_conditions(g: CodeGeometry, rep: Representation, orb: Orbits, notes: list[str]) -> Measured:
    """``linear-nobias`` (S1.4): every non-constant invariant task is realised by argmax(W z) iff the codes
    have rank C, or rank C − 1 and their one dependency Σ α_m μ_m = 0 has every α_m non-zero and of
    one sign (the origin in the relative interior of the codes' convex hull). A zero code fails on its
    own (argmax(W·0) ties), and its dependency e_m is the certificate."""
    C, tol, sv, codes = g.C, g.tol, g.sv_lin, g.codes
    lin_scale = float(np.sqrt(np.sum(np.square(sv)) / C)) or 1.0  # RMS norm of the codes
    norms = np.linalg.norm(codes, axis=1)
    zero_value = 1.0 if C == 1 else float(norms.min() / norms.max()) if norms.max() > 0 else 0.0
    rank_ok = g.lin_rank >= C - 1
    lam = homogeneous_dependency(codes, g.lin_rank) if C > 1 else None
    alpha_value, alpha = 1.0, None  # rank C: no dependency
    if lam is not None:
        alpha_value, alpha = _dependency_value(codes, lam) if g.lin_rank == C - 1 else (0.0, None)
    positive = g.lin_rank == C or (g.lin_rank == C - 1 and (C == 1 or alpha_value > tol))
    nonzero = zero_value > tol
    realisable = rank_ok and positive and nonzero
    margin = _homogeneous_margin(g, lam, lin_scale) if realisable else 0.0
    conds = {
        "linear_rank": Condition(
            holds=rank_ok,
            value=1.0 if C == 1 else _rel(sv, C - 1),
            threshold=tol,
            comparison=">",
            description="σ_(C−1) / σ_1 of the codes [μ_m] (rank ≥ C − 1 iff > tol)",
            detail={
                "singular_values_relative": _shown(sv),
                "linear_rank": g.lin_rank,
                "linearly_independent": g.lin_rank == C,
                "sigma_C_relative": _rel(sv, C),
                "method": g.method,
            },
        ),
        "positive_dependency": Condition(
            holds=positive,
            value=alpha_value,
            threshold=tol,
            comparison=">",
            description="rank C − 1: smallest coefficient of the one dependency Σ α_m μ_m/‖μ_m‖ = 0, relative to ‖α‖, "
            "signs aligned (> tol iff the origin is inside the codes' hull); 1 at rank C (no dependency), "
            "0 below C − 1",
            detail={"alpha_unit_codes": alpha.tolist()[:1000]} if alpha is not None else {},
        ),
        "nonzero_codes": Condition(
            holds=nonzero,
            value=zero_value,
            threshold=tol,
            comparison=">",
            description="smallest code norm / largest (a zero code ties every homogeneous probe)",
            detail={"smallest_norm_orbit": int(np.argmin(norms))} if C > 1 else {},
        ),
        "effective_dimension": Condition(
            holds=rank_ok,
            value=g.lin_rank,
            threshold=C - 1,
            comparison=">=",
            description=f"linear rank of the codes vs the required C − 1 (nominal d = {g.d})",
            detail={"nominal_dim": g.d, "affine_rank": g.aff_rank},
        ),
        "worst_case_margin": _margin(
            realisable,
            margin,
            "lower bound on every non-constant binary task's best margin, relative to the codes' RMS norm "
            "(σ_C/√C at rank C; ρ σ_(C−1)/√C, ρ = α_min/(Σα − α_min), at rank C − 1)",
        ),
    }
    certificate = None
    if not realisable and C > 1:
        certificate = _homogeneous_certificate(g, orb, lam, alpha, nonzero, lin_scale, notes)
    return conds, certificate


def _homogeneous_margin(g: CodeGeometry, lam: np.ndarray | None, lin_scale: float) -> float:
    """The worst-case margin of a realisable ``linear-nobias`` geometry, relative to the codes' RMS norm (S1.4)."""
    C, sv = g.C, g.sv_lin
    if g.lin_rank == C:
        return float(sv[C - 1]) / math.sqrt(C) / lin_scale
    if lam is not None:  # S1.4: margin ≥ ρ σ_(C−1)/√C, ρ = α_min / (Σα − α_min), α of the raw codes
        a = np.abs(lam)
        return float(a.min() / (a.sum() - a.min())) * float(sv[C - 2]) / math.sqrt(C) / lin_scale
    return 1.0


def _homogeneous_certificate(
    g: CodeGeometry,
    orb: Orbits,
    lam: np.ndarray | None,
    alpha: np.ndarray | None,
    nonzero: bool,
    lin_scale: float,
    notes: list[str],
) -> Certificate | None:
    """The Radon certificate of a failing ``linear-nobias`` geometry: the dependency e_m of a zero code, or the
    codes' dependency with its coefficients within tol of 0 set to zero."""
    C, tol, sv, codes = g.C, g.tol, g.sv_lin, g.codes
    slack = 1.0
    if not nonzero:  # the dependency e_m of a (numerically) zero code
        lam = np.zeros(C)
        lam[int(np.argmin(np.linalg.norm(codes, axis=1)))] = 1.0
    elif lam is not None and alpha is not None:  # rank C − 1: coefficients within tol of 0 are zeros
        small = np.abs(alpha) <= tol * np.linalg.norm(alpha)
        if small.all():  # possible only for tol ≥ 1/√C: no dependency is left to certify
            notes.append(
                "every coefficient of the codes' one dependency lies within tol of 0, so positive_dependency "
                "fails at this tolerance, but no labelling is certified by it (a smaller --tol decides)"
            )
        elif small.any():
            lam = np.where(small, 0.0, lam)
            slack = 2.0
    return cert.radon_certificate(
        codes,
        orb,
        lam,
        lin_scale,
        tol,
        False,
        g.first,
        top=float(sv[0]) if len(sv) else None,
        unit="the codes' RMS norm",
        slack=slack,
    )


def universal_conditions(g: CodeGeometry, rep: Representation, orb: Orbits, notes: list[str]) -> Measured:
    """``mlp``: distinct codes (S2.1)."""
    C, tol, scale = g.C, g.tol, g.scale
    dist, i, j = min_pairwise_distance(g.codes)
    rel_dist = dist / scale if C > 1 else math.nan  # one orbit: vacuous (reported as null)
    distinct = C == 1 or rel_dist > tol
    conds = {
        "distinct_codes": Condition(
            holds=distinct,
            value=rel_dist,
            threshold=tol,
            comparison=">",
            description="smallest distance between two orbits' codes / spread of the codes",
            detail={"closest_orbits": [i, j]} if C > 1 else {},
        ),
        "effective_dimension": Condition(
            holds=g.aff_rank >= min(1, C - 1),
            value=g.aff_rank,
            threshold=min(1, C - 1),
            comparison=">=",
            description=f"affine rank of the codes vs the required 1 for universal probes (nominal d = {g.d})",
            detail={
                "nominal_dim": g.d,
                "note": "a fixed-width MLP needs more: a one-hidden-layer ReLU MLP of width "
                "2(C−1) always suffices (witness construction)",
            },
        ),
        "worst_case_margin": Condition(
            holds=distinct,
            value=rel_dist / 2 if C > 1 else math.nan,
            threshold=0.0,
            comparison=">",
            description="half the smallest code distance / spread: every labelling is fitted by 1-NN on codes "
            "with this margin",
        ),
    }
    certificate = None if distinct else cert.shared_code_certificate(rep, orb, i, j, g.first, scale, tol)
    return conds, certificate


Pair = tuple[int, int, int]


@dataclass(frozen=True)
class ScaledInvariance:
    """Invariance up to positive scaling (``linear-nobias``), measured once for every tolerance.

    Homogeneous probes cannot tell z from c·z (c > 0), so an orbit whose points are positive multiples of
    one another acts as an invariant one (theory/statements.md S1.4). Its code is then an order-free
    choice, the orbit's largest-norm point (:func:`~.stats.largest_norm_points`), not whichever point is
    listed first; the family's conditions are measured on these codes.

    Attributes
    ----------
    st : OrbitStats
        The streaming pass with the largest-norm points as codes (deviations measured from them).
    chord : float
        max over points of ‖ẑ_x − r̂_(M(x))‖ (unit vectors; a zero point against a non-zero code counts 2).
    orbit, point : int
        Where the chord is largest.
    """

    st: OrbitStats
    chord: float
    orbit: int
    point: int

    def condition(self, strict: Condition, tol: float) -> tuple[Condition, Pair]:
        """The invariance condition at ``tol`` (``strict``: strict invariance measured on ``st``'s codes)
        and the (orbit, point, point) pair for a non-invariance certificate."""
        m = int(np.argmax(self.st.max_dev))
        pair = (m, int(self.st.first[m]), int(self.st.argmax_dev[m]))
        if strict.holds:
            return strict, pair
        ray = {
            "value": self.chord,
            "threshold": tol,
            "holds": self.chord <= tol,
            "worst_points": [int(self.st.first[self.orbit]), self.point],
        }
        if self.chord <= tol:
            relaxed = Condition(
                holds=True,
                value=self.chord,
                threshold=tol,
                comparison="<=",
                description="max ‖z_x/‖z_x‖ − r/‖r‖‖ for r the code of x's orbit (its largest-norm point): every "
                "point is a positive multiple of its code, which homogeneous probes cannot tell apart (strict "
                "invariance fails: see detail)",
                detail={"strict": {"value": strict.value, "threshold": tol, "holds": False, **strict.detail}},
            )
            return relaxed, pair
        strict.detail["up_to_positive_scaling"] = ray
        return strict, (self.orbit, int(self.st.first[self.orbit]), self.point)


def scaled_invariance(rep: Representation, orb: Orbits, threads: int = 2) -> ScaledInvariance:
    """``linear-nobias``'s relaxation of invariance (:class:`ScaledInvariance`): two passes over ``rep`` to
    find the largest-norm points, one for the deviations from them and one for the chords; run only when
    strict invariance on the first points fails."""
    points = largest_norm_points(rep, orb)
    codes = rep.rows(points)
    st = orbit_stats(rep, orb, threads=threads, codes=codes, points=points)
    chord, m, x = ray_deviation(rep, orb, codes)
    return ScaledInvariance(st, chord, m, x)


@dataclass(frozen=True)
class FamilyRules:
    """What the checker does for one probe family.

    Attributes
    ----------
    family : ProbeFamily
    conditions : callable (geometry, rep, orbits, notes) -> (conditions, certificate or None)
        The family's structural conditions on the codes (all but invariance), and a verified
        certificate when one fails.
    witnesses : tuple of callables (codes, orbit_labels, n_classes) -> probe
        Witness constructions for a task, tried in order (the one with fewest errors is kept).
    relax_invariance : callable (rep, orbits, threads) -> ScaledInvariance, optional
        A weaker invariance the family cannot tell apart from the strict one, with the codes it is measured
        on; used when strict invariance (on each orbit's first point) fails.
    """

    family: ProbeFamily
    conditions: Callable[[CodeGeometry, Representation, Orbits, list[str]], Measured]
    witnesses: tuple[Callable, ...]
    relax_invariance: Callable[[Representation, Orbits, int], ScaledInvariance] | None = None


FAMILIES: dict[str, FamilyRules] = {
    "linear": FamilyRules(PROBE_FAMILIES["linear"], affine_conditions, (functools.partial(affine_witness, bias=True),)),
    "linear-nobias": FamilyRules(
        PROBE_FAMILIES["linear-nobias"], homogeneous_conditions, (homogeneous_witness,), scaled_invariance
    ),
    "mlp": FamilyRules(PROBE_FAMILIES["mlp"], universal_conditions, MLP_WITNESSES),
}
assert tuple(FAMILIES) == tuple(PROBE_FAMILIES), "every probe family of idealssl.probes needs checker rules"
