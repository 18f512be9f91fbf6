"""Certificates that a representation is not ideal, each verified before it is returned.

Three kinds, tried in this order (the first that applies is reported):

``radon`` (linear families)
    An affine (``linear``) or linear (``linear-nobias``) dependency Σ_m λ_m μ_m = v among orbit codes
    (with Σ λ_m = 0 in the affine case). Label the orbits with λ_m > 0 as 1, all others 0. For any
    probe direction w with ‖w‖ = 1 and bias b, if every code satisfied y_m (w·μ_m + b) ≥ γ, then
    summing with weights |λ_m| gives w·v ≥ ‖λ‖₁ γ, so γ ≤ ‖v‖ / ‖λ‖₁ (Radon / Farkas; theory/statements.md
    S1.3, Lemma A). The codes are actual points (each orbit's first point, or for ``linear-nobias`` when
    invariance holds only up to positive scaling its largest-norm point), so no probe of the family fits
    this invariant task with a margin above that bound; with v = 0 none fits it at all. Verified by
    recomputing v in float64 and, when the support is small, by an independent LP. Without bias the
    dependency has both signs or a zero coefficient (S1.4: a one-signed dependency without zeros means
    the origin is inside the codes' hull, which is ideal), so the task is never constant; a zero code
    is the dependency e_m (every homogeneous probe ties on 0).
``shared_code`` (``mlp``)
    Two orbits whose codes coincide (relative distance ≤ tol): label one 1 and the other 0. Any probe
    — any function of z — gives both points the same output (exactly, when the distance is 0).
``non_invariant`` (all families)
    An orbit m with points x (its code point) and x' at relative distance > tol. Task: orbit m is 1,
    all others 0. On the one-point training sample D = {x}, the affine probe that bisects z_x and z_x'
    is an empirical risk minimiser (zero training error) that misclassifies x', a point of an orbit it
    has seen. For an invariant encoder no ERM errs on a seen orbit, so the worst-case ERM risk W_n
    exceeds the ideal Σ_m p_m (1 − p_m)^n (Thm 1, invariance; Prop. 2). Verified by evaluating the probe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..inputs.orbits import Orbits
from ..inputs.representation import Representation
from . import lp
from .geometry import find_dependency
from .witness import erm_failure_probe, in_original_units, predict, probe_to_json

#: the LP cross-check of a Radon certificate runs when (support size) x d is at most this
#: (larger LPs take seconds; the algebraic proof stands on its own)
LP_CROSS_CHECK_LIMIT = 20_000
#: absolute slack (in the certificate's relative units) for the LP's solution: about HiGHS' feasibility tolerance
LP_SLACK = 1e-8


@dataclass
class Certificate:
    """A certificate that the representation is not ideal: an invariant task no probe of the family fits.

    Attributes
    ----------
    kind : str
        ``"radon"``, ``"shared_code"`` or ``"non_invariant"``.
    summary : str
        One paragraph for the report.
    orbit_labels, point_labels : list of int
        The task (labels 0/1), per orbit and per point.
    proof : dict
        The figures the argument rests on (coefficients, points, distances, the ERM probe).
    verification : str
        How the proof is re-checked.
    verified : bool
    lp_cross_check : str or None
        ``radon`` only: the independent LP's verdict (None when the LP is too large to run).
    """

    kind: str
    summary: str
    orbit_labels: list[int]
    point_labels: list[int]
    proof: dict[str, Any]
    verification: str
    verified: bool
    lp_cross_check: str | None = None
    has_lp_cross_check: bool = field(default=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON form (``counterexample``): the keys above, ``lp_cross_check`` for ``radon`` only."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "summary": self.summary,
            "orbit_labels": self.orbit_labels,
            "point_labels": self.point_labels,
            "proof": self.proof,
            "verification": self.verification,
        }
        if self.has_lp_cross_check:
            out["lp_cross_check"] = self.lp_cross_check
        out["verified"] = bool(self.verified)
        return out


def _few(idx: np.ndarray, k: int = 12) -> str:
    return f"{idx.tolist()[:k]}{'...' if len(idx) > k else ''}"


def _labels(orbits: Orbits, positive) -> tuple[list, list]:
    ol = np.zeros(orbits.n_orbits, dtype=np.int64)
    ol[np.asarray(positive, dtype=np.int64)] = 1
    return ol.tolist(), ol[orbits.labels].tolist()


def affine_dependency(codes: np.ndarray, rank: int) -> np.ndarray | None:
    """An affine dependency (Σ λ = 0) among the codes; any d + 2 codes are affinely dependent, so for
    C > d + 2 it is searched among the first d + 2 only."""
    C, d = codes.shape
    if C > d + 2:
        dep = find_dependency(codes[: d + 2], rank, affine=True)
        if dep is None:  # pragma: no cover - d + 2 codes are always affinely dependent
            return None
        lam = np.zeros(C)
        lam[: d + 2] = dep.lam
        return lam
    dep = find_dependency(codes, rank, affine=True)
    return None if dep is None else dep.lam


def radon_certificate(
    codes: np.ndarray,
    orbits: Orbits,
    lam: np.ndarray | None,
    scale: float,
    tol: float,
    bias: bool,
    first: np.ndarray,
    top: float | None = None,
    unit: str = "code spread",
    slack: float = 1.0,
) -> Certificate | None:
    """Certificate from an affine (``bias``) or linear dependency ``lam`` among the codes (None: no certificate).

    The task labels the orbits with λ_m > 0 as 1 and every other orbit 0. For an affine dependency
    (Σ λ = 0, from :func:`affine_dependency`) both signs occur; a linear one (from
    :func:`~idealssl.checker.geometry.homogeneous_dependency`) has both signs or a zero coefficient,
    so the task is never constant (a constant task is fitted by any probe).

    ``scale`` is the unit of the reported relative bound (the code spread, or the codes' RMS norm
    for ``linear-nobias``); ``top`` is σ_1 of the (centred) codes, the unit of the rank test. The
    certificate is verified when its margin bound is at most ``slack`` · tol · σ_1, the rank test's
    threshold: for the dependency from the smallest singular vector, ‖Σλμ‖/‖λ‖₁ ≤ σ_min ≤ tol · σ_1
    whenever the rank test found the codes dependent, so the two decide alike (``slack`` = 2 when
    coefficients below tol were set to zero, each adding at most tol · σ_1)."""
    if lam is None:
        return None
    lam = np.asarray(lam, dtype=np.float64)
    if not (lam > 0).any():
        lam = -lam
    if not ((lam <= 0).any()):  # every orbit labelled 1: a constant task is no certificate
        return None
    pos = np.flatnonzero(lam > 0)
    support = np.flatnonzero(lam != 0)
    # recompute the residual independently, from the codes in float64
    v = lam[support] @ codes[support]
    residual = float(np.linalg.norm(v))
    bound = residual / float(np.abs(lam).sum())
    rel_bound = bound / scale if scale > 0 else 0.0
    # tol · σ_1, in units of scale (σ_1 ≥ scale)
    limit = slack * tol * max(top or 0.0, scale) / scale if scale > 0 else tol
    sums_to_zero = abs(float(lam.sum())) <= 1e-12 * float(np.abs(lam).sum())
    verified = rel_bound <= limit * (1 + 1e-9) and (not bias or sums_to_zero)
    orbit_labels, point_labels = _labels(orbits, pos)
    cross, agrees = _lp_cross_check(codes, lam, support, scale, bias, rel_bound)
    fam = "affine" if bias else "homogeneous linear"
    return Certificate(
        kind="radon",
        summary=_radon_summary(codes, lam, bias, rel_bound, unit),
        orbit_labels=orbit_labels,
        point_labels=point_labels,
        proof={
            "lambda": {int(m): float(lam[m]) for m in support},
            "points": {int(m): int(first[m]) for m in support},
            "sum_lambda": float(lam.sum()),
            "residual_norm": residual,
            "margin_upper_bound": bound,
            "margin_upper_bound_relative": rel_bound,
        },
        verification=(
            f"‖Σ λ_m z_(code point of m)‖ = {residual:.3g} recomputed in float64; with ‖λ‖₁ = {np.abs(lam).sum():.3g} "
            f"no {fam} probe"
            f" separates the labelled points with a geometric margin above {bound:.3g} ({rel_bound:.3g} relative ≤ tol "
            f"· σ_1 = {limit:.3g} relative)"
        ),
        verified=bool(verified and agrees),
        lp_cross_check=cross,
        has_lp_cross_check=True,
    )


def _lp_cross_check(
    codes: np.ndarray, lam: np.ndarray, support: np.ndarray, scale: float, bias: bool, rel_bound: float
) -> tuple[str | None, bool]:
    """Independently of the dependency, an LP maximises the margin t of the labelled support points (in units of
    ``scale``, centred when affine) over probes with ‖w‖_∞ ≤ 1. Such a w has ‖w‖₂ ≤ √d, so some probe has geometric
    margin ≥ t*/√d: the LP agrees with the certificate iff t*/√d ≤ its bound. ``(None, True)`` when the support is
    too large for the LP (:data:`LP_CROSS_CHECK_LIMIT`)."""
    d = codes.shape[1]
    if len(support) * d > LP_CROSS_CHECK_LIMIT:
        return None, True
    y = np.where(lam[support] > 0, 1.0, -1.0)
    pts = codes[support] - codes.mean(axis=0) if bias else codes[support]
    t_star = lp.lp_margin(pts / scale, y, bias=bias) if scale > 0 else 0.0
    lower = max(t_star, 0.0) / np.sqrt(d)
    agrees = lower <= rel_bound * (1 + 1e-6) + LP_SLACK
    cross = (
        f"independent LP on the {len(support)} code points: best margin with ‖w‖_∞ ≤ 1 is {t_star:.3g}, so the "
        "best geometric margin is "
        f"≥ {lower:.3g} (relative), {'within' if agrees else 'ABOVE — DISAGREES with'} the certificate's bound "
        f"{rel_bound:.3g}"
    )
    return cross, bool(agrees)


def _radon_summary(codes: np.ndarray, lam: np.ndarray, bias: bool, rel_bound: float, unit: str) -> str:
    C = codes.shape[0]
    pos, neg = np.flatnonzero(lam > 0), np.flatnonzero(lam < 0)
    support = np.flatnonzero(lam != 0)
    fam = "affine" if bias else "homogeneous linear"
    # with λ of one sign (possible without bias: Σλ_m μ_m = 0, λ ≥ 0 with a zero), the task labels the
    # support 1 and the other orbits 0: w·μ_m > 0 on the support contradicts Σλ_m w·μ_m = 0
    zero = [m for m in support if not codes[m].any()]
    tie = (
        f"; orbit {zero[0]}'s code is the zero vector, on which every homogeneous probe ties"
        if zero and len(support) == 1
        else ""
    )
    two_class = (
        ""
        if len(neg)
        else (f" (the support of a one-signed dependency, λ ≥ 0, vs the {C - len(support)} other orbits{tie})")
    )
    return (
        f"{'affine' if bias else 'linear'} dependency among {len(support)} orbit codes: orbits {_few(pos)} (λ > 0) "
        "labelled 1 vs "
        + (f"orbits {_few(neg)} (λ < 0) and all others 0" if len(neg) else "all other orbits 0")
        + f": no {fam} probe fits this task{two_class} (margin ≤ {rel_bound:.3g} × {unit})"
    )


def shared_code_certificate(
    rep: Representation, orbits: Orbits, i: int, j: int, first: np.ndarray, scale: float, tol: float
) -> Certificate:
    """Certificate from two orbits i, j with (nearly) the same code."""
    zi, zj = rep.rows(np.array([first[i], first[j]]))
    dist = float(np.linalg.norm(zi - zj))
    rel = dist / scale if scale > 0 else (0.0 if dist == 0 else float("inf"))
    orbit_labels, point_labels = _labels(orbits, [i])
    return Certificate(
        kind="shared_code",
        summary=(
            f"orbits {i} and {j} share a code (points {int(first[i])} and {int(first[j])} are at distance {dist:.3g}, "
            f"{rel:.3g} relative): labelling orbit {i} as 1 and orbit {j} as 0 "
            + (
                "cannot be fitted by any function of z"
                if dist == 0
                else "needs a probe that varies by a full class over that distance"
            )
        ),
        orbit_labels=orbit_labels,
        point_labels=point_labels,
        proof={
            "orbits": [int(i), int(j)],
            "points": [int(first[i]), int(first[j])],
            "distance": dist,
            "relative_distance": rel,
        },
        verification=f"distance recomputed from the representation: {dist:.3g} ({rel:.3g} relative ≤ tol {tol:g})",
        verified=bool(rel <= tol),
    )


def non_invariant_certificate(
    rep: Representation,
    orbits: Orbits,
    m: int,
    x: int,
    x2: int,
    scale: float,
    tol: float,
    bias: bool = True,
    units: float = 1.0,
) -> Certificate:
    """Certificate from an orbit m whose points x and x2 have different representations (for
    homogeneous probes, ``bias=False``: different directions, and the ERM probe has no bias).

    ``units``: the factor by which ``rep`` rescales the user's Z; the ERM probe is printed acting on Z."""
    z = rep.rows(np.array([x, x2]))
    dist = float(np.linalg.norm(z[0] - z[1]))
    probe = erm_failure_probe(z[0], z[1], bias=bias)
    pred, strict = predict(probe, z)
    same_orbit = orbits.labels[x] == m and orbits.labels[x2] == m
    verified = bool(same_orbit and strict.all() and pred[0] == 1 and pred[1] == 0 and dist / scale > tol)
    orbit_labels, point_labels = _labels(orbits, [m])
    if not bias and not z[1].any() and z[0].any():
        # a zero point: argmax(W·0) ties every class for every W, so no homogeneous probe classifies it
        return Certificate(
            kind="non_invariant",
            summary=(
                f"orbit {m} is not invariant up to positive scaling: point {x2} is the zero vector while its orbit's "
                f"code (point {x}) is not. "
                "Every homogeneous probe scores the zero vector 0 for every class (a tie), so no probe argmax(W z) "
                "fits the task "
                f"orbit {m} labelled 1, all others 0, on point {x2}"
            ),
            orbit_labels=orbit_labels,
            point_labels=point_labels,
            proof={"orbit": int(m), "zero_point": int(x2), "code_point": int(x), "norm_of_zero_point": 0.0},
            verification=f"representation of point {x2} re-read: all {len(z[1])} entries are exactly 0",
            verified=bool(same_orbit),
        )
    return Certificate(
        kind="non_invariant",
        summary=(
            f"orbit {m} is not invariant: points {x} and {x2} are at distance {dist:.3g} ({dist / scale:.3g} "
            "relative). "
            f"Task: orbit {m} labelled 1, all others 0; trained on the single example {x}, the probe in "
            "proof.erm_probe has zero training "
            f"error yet labels {x2} (same orbit) 0 — an ERM that errs on a seen orbit, which no ideal encoder allows"
        ),
        orbit_labels=orbit_labels,
        point_labels=point_labels,
        proof={
            "orbit": int(m),
            "train_indices": [int(x)],
            "misclassified": int(x2),
            "distance": dist,
            "erm_probe": probe_to_json(in_original_units(probe, units)),
        },
        verification=f"probe evaluated on points {x} and {x2}: predicts {int(pred[0])} and {int(pred[1])} "
        + ("(strict)" if strict.all() else "(with a tie: not verified)"),
        verified=verified,
    )
