"""Graded verdicts: how far a representation is from ideal, beside the verdict at ``--tol``.

Three figures, each computed from what the check already measured (no new theory):

``ideal_tolerance``
    The smallest relative tolerance t at which the representation would be ideal for the family, or
    None when no t in [MIN_TOL, 1) makes it ideal. Derived from the conditions themselves, so it follows
    whatever conditions a family has: a condition ``value <= threshold`` whose threshold is the tolerance
    holds for every t ≥ value (a lower bound on t), one ``value > threshold`` for every t < value (an upper
    bound). The ideal set is therefore an interval [L, U): t* = L, the largest lower bound, is re-checked by
    measuring every condition again at t* (conditions with fixed thresholds, such as ranks, are decided
    there). ``binding_condition`` names the condition that sets t* (or, when there is none, the one that
    fails at L, e.g. an invariance deviation above the rank margin σ_(C−1)/σ_1). ``tolerance_headroom`` is U.
``fitted_task_fraction``
    The fraction of non-constant binary labellings of the C orbits (all 2^(C−1) − 1 up to complement
    when C ≤ :data:`ALL_LABELLINGS_MAX_C`, else a seeded uniform sample of :data:`SAMPLE` of them) that a
    probe of the family fits perfectly on the given points, invariant or not. Linear families: a
    least-squares probe on the points, else the separability LP of :mod:`.lp` (strict separability,
    LP margin > :data:`LP_TOL` on normalised points). ``mlp``: the explicit ReLU witnesses of
    :mod:`.witness` built on the codes and evaluated on the points: the nearest-code network (every point
    strictly nearer a code of its label), else the one-projection network for C ≤ :data:`MLP_PROJECTION_MAX_C`
    (a lower bound: a wide enough MLP fits any labelling of distinct points). Above :data:`MAX_POINTS` points,
    the C codes and each orbit's farthest point stand in for the points (an upper bound for the linear families;
    stated in ``on``).
``diagnostics``
    The orbits with the largest deviation from their code, the closest pairs of codes and the smallest
    singular directions of the codes (which orbits load on them), in the units of the report.

``hints`` turns the binding condition into one line each for the readable report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..inputs.orbits import Orbits
from ..inputs.representation import Representation
from ..probes import ProbeFamily
from . import lp
from .decision import Decision, decide
from .families import FamilyRules, ScaledInvariance
from .geometry import CodeGeometry
from .report import MIN_TOL, Condition
from .stats import OrbitStats
from .witness import MLP_WITNESSES, predict

#: all labellings up to complement when C is at most this (2^(C−1) − 1 ≤ 511 linear programs)
ALL_LABELLINGS_MAX_C = 10
#: labellings drawn (seeded) when C is larger
SAMPLE = 128
SEED = 0
#: above this many points the fraction is measured on the codes and each orbit's farthest point
MAX_POINTS = 5000
#: a labelling is fitted when the LP's margin on normalised points exceeds this (strict separability)
LP_TOL = 1e-9
#: above this many entries (points x d) the LPs would take minutes: the fraction is not computed (null, with why)
MAX_LP_ENTRIES = 100_000
#: closest pairs of codes are listed when C is at most this (an O(C² d) pass otherwise)
MAX_PAIRS_C = 2048
#: the one-projection MLP witness is tried per labelling only up to this many orbits (the nearest-code one always)
MLP_PROJECTION_MAX_C = 64
#: rows of each diagnostic table
TOP = 5

Measure = Callable[[float], dict[str, Condition]]


# ---------------------------------------------------------------------- ideal tolerance
def _bounds(conds: dict[str, Condition], tol: float) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """Lower and upper bounds on t from the decisive conditions whose threshold is the tolerance
    (and from measurements in their detail that are compared with it, e.g. a relaxed invariance)."""
    lower: list[tuple[float, str]] = []
    upper: list[tuple[float, str]] = []
    for name, c in conds.items():
        if not c.decisive or not _is_tol(c.threshold, tol):
            continue
        v = float(c.value)
        if math.isnan(v):
            continue
        if c.comparison == "<=":
            alt = [float(x["value"]) for x in _nested(c.detail) if _is_tol(x.get("threshold"), tol)]
            lower.append((min([v] + alt), name))
        elif c.comparison in (">", ">="):
            upper.append((v, name))
    return lower, upper


def _is_tol(x: Any, tol: float) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and float(x) == tol


def _nested(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in detail.values() if isinstance(v, dict) and "value" in v and "threshold" in v]


def ideal_tolerance(conds: dict[str, Condition], tol: float, measure: Measure) -> dict[str, Any]:
    """``ideal_tolerance``, ``binding_condition``, ``tolerance_headroom`` (see module docstring)."""
    lower, upper = _bounds(conds, tol)
    L, lname = max(lower, default=(MIN_TOL, None))
    if L <= MIN_TOL:  # exact (to rounding): the smallest accepted tolerance, nothing binds
        L, lname = MIN_TOL, None
    U, uname = min(upper, default=(1.0, None))
    out: dict[str, Any] = {"ideal_tolerance": None, "binding_condition": lname, "tolerance_headroom": min(U, 1.0)}
    if L >= min(U, 1.0):
        out["binding_condition"] = uname if uname is not None else lname
        need = f"{lname} needs t >= {L:.4g}" if lname is not None else f"every tolerance is at least {MIN_TOL:g}"
        out["why_none"] = (
            f"{need} but {uname} holds only for t < {U:.4g}"
            if uname is not None
            else f"{need}, outside [{MIN_TOL:g}, 1)"
        )
        return out
    at_L = measure(L)
    failing = [k for k, c in at_L.items() if c.decisive and not c.holds]
    if failing:
        out["binding_condition"] = failing[0]
        out["why_none"] = f"at t = {L:.4g} (the smallest tolerance the deviations allow) {', '.join(failing)} fails"
        return out
    out["ideal_tolerance"] = L
    return out


# ---------------------------------------------------------------------- fitted task fraction
def labellings(C: int, bias: bool) -> tuple[list[np.ndarray], str]:
    """Binary orbit labellings (±1, orbit 0 labelled +1, the constant one skipped): all, or a seeded sample."""
    if C <= 1:
        return [], "no labelling (one orbit)"
    if C <= ALL_LABELLINGS_MAX_C:
        ys = [np.array((1,) + r, dtype=np.float64) for r in itertools.product((1, -1), repeat=C - 1)]
        ys = [y for y in ys if not np.all(y > 0)]
        return ys, f"all {len(ys)} non-constant labellings (up to complement)"
    rng = np.random.default_rng(SEED)
    ys = []
    while len(ys) < SAMPLE:
        y = np.where(rng.random(C) < 0.5, 1.0, -1.0)
        y *= y[0]
        if not np.all(y > 0):
            ys.append(y)
    return ys, f"a uniform random sample of {SAMPLE} of the 2^{C - 1} − 1 non-constant labellings (numpy seed {SEED})"


def _fits_linear(P: np.ndarray, y: np.ndarray, bias: bool) -> bool:
    """Strict separability of the ±1 labels y of the rows of P: least squares first, else the LP."""
    A = np.hstack([P, np.ones((len(P), 1))]) if bias else P
    w, *_ = np.linalg.lstsq(A, y, rcond=None)
    s = A @ w
    if np.all(y * s > 1e-9 * max(float(np.abs(s).max()), 1e-300)):
        return True
    return lp.lp_margin(lp.normalise(P, bias), y, bias) > LP_TOL


def _fits_mlp(codes: np.ndarray, P: np.ndarray, lab: np.ndarray, y: np.ndarray, D: np.ndarray | None) -> bool:
    """The MLP witnesses on the points: the nearest-code network (exact criterion from the point-to-code
    distances D: every point strictly nearer a code of its own label than any code of the other), else, for
    C <= :data:`MLP_PROJECTION_MAX_C`, the one-projection ReLU network of :mod:`.witness`."""
    assert D is not None, "the point-to-code distances are computed for the mlp family"
    pos = y > 0
    same = np.where(pos[None, :] == pos[lab][:, None], D, np.inf).min(axis=1)
    other = np.where(pos[None, :] != pos[lab][:, None], D, np.inf).min(axis=1)
    if bool(np.all(same < other)):
        return True
    if len(codes) > MLP_PROJECTION_MAX_C:
        return False
    pred, strict = predict(MLP_WITNESSES[0](codes, pos.astype(np.int64), 2), P)
    return bool(np.all(strict & (pred == pos[lab])))


def fitted_task_fraction(
    P: np.ndarray, lab: np.ndarray, codes: np.ndarray, family: ProbeFamily, on: str
) -> dict[str, Any]:
    """Fraction of labellings a probe of ``family`` fits perfectly on the points P (orbit ``lab`` each;
    module docstring)."""
    C = len(codes)
    ys, how = labellings(C, family.bias)
    fitted, first_bad = 0, None
    D = (
        None
        if family.linear
        else np.sqrt(
            np.clip(
                np.einsum("ij,ij->i", P, P)[:, None] + np.einsum("ij,ij->i", codes, codes)[None, :] - 2.0 * P @ codes.T,
                0.0,
                None,
            )
        )
    )
    for y in ys:
        ok = _fits_linear(P, y[lab], family.bias) if family.linear else _fits_mlp(codes, P, lab, y, D)
        fitted += ok
        if not ok and first_bad is None:
            first_bad = (y > 0).astype(int).tolist()
    return {
        "fitted_task_fraction": (fitted / len(ys)) if ys else 1.0,
        "n_fitted": int(fitted),
        "n_labellings": len(ys),
        "labellings": how,
        "on": on,
        "method": (
            "least squares, else LP (scipy HiGHS), strict separability"
            if family.linear
            else "explicit ReLU witnesses built on the codes (nearest-code network; one-projection network for "
            f"C <= {MLP_PROJECTION_MAX_C}), evaluated on the points (lower bound)"
        ),
        "first_unfitted_orbit_labels": first_bad,
    }


# ---------------------------------------------------------------------- diagnostics
def diagnostics(st: OrbitStats, g: CodeGeometry, family: ProbeFamily) -> dict[str, Any]:
    """Worst orbits, closest pairs of codes, smallest singular directions (relative units)."""
    C = g.C
    scale = g.scale or 1.0
    dev = st.max_dev / scale
    worst = np.argsort(-dev, kind="stable")[:TOP]
    out: dict[str, Any] = {"unit": "spread of the codes" if g.spread > 0 else "the codes' RMS norm"}
    out["worst_orbits"] = [
        {
            "orbit": int(m),
            "max_deviation": float(dev[m]),
            "rms_deviation": float(math.sqrt(st.mean_sq_dev[m])) / scale,
            "size": int(st.sizes[m]),
            "points": [int(st.first[m]), int(st.argmax_dev[m])],
        }
        for m in worst
    ]
    out["closest_pairs"] = _closest_pairs(g.codes, scale)
    M = g.codes - g.codes.mean(axis=0) if family.bias else g.codes
    need = C - 1 if (family.bias or not family.linear) else family.minimal_dimension(C)
    if C > 1 and C <= 4096:
        U, s, _ = np.linalg.svd(M, full_matrices=False)
        top = float(s[0]) if len(s) and s[0] > 0 else 1.0
        rows = []
        for k in range(min(need, len(s)) - 1, max(min(need, len(s)) - 1 - 3, -1), -1):
            load = np.abs(U[:, k])
            who = np.argsort(-load, kind="stable")[:4]
            rows.append(
                {
                    "index": k + 1,
                    "sigma_relative": float(s[k]) / top,
                    "orbits": [int(m) for m in who],
                    "loadings": [float(U[m, k]) for m in who],
                }
            )
        if need > len(s):
            rows.insert(
                0,
                {
                    "index": need,
                    "sigma_relative": 0.0,
                    "orbits": [],
                    "loadings": [],
                    "note": f"d = {g.d} < {need}: this direction does not exist",
                },
            )
        out["smallest_directions"] = rows
        out["smallest_directions_of"] = "centred codes [μ_m − μ̄]" if family.bias else "codes [μ_m]"
    return out


def _closest_pairs(codes: np.ndarray, scale: float) -> list[dict[str, Any]]:
    C = len(codes)
    if C < 2:
        return []
    if C > MAX_PAIRS_C:  # O(C² d): the family's distinct-codes condition reports the closest pair when it needs it
        return []
    X = codes - codes.mean(axis=0)
    sq = np.einsum("ij,ij->i", X, X)
    D = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0, None))
    iu = np.triu_indices(C, 1)
    order = np.argsort(D[iu], kind="stable")[:TOP]
    return [
        {
            "orbits": [int(iu[0][k]), int(iu[1][k])],
            "distance": float(np.linalg.norm(codes[iu[0][k]] - codes[iu[1][k]])) / scale,
        }
        for k in order
    ]


# ---------------------------------------------------------------------- hints
def hints(graded: dict[str, Any], conds: dict[str, Condition], family: ProbeFamily, C: int, d: int) -> list[str]:
    """One line per thing to act on, from the binding condition and the diagnostics."""
    out: list[str] = []
    diag = graded.get("diagnostics", {})
    name = graded.get("binding_condition")
    t = graded.get("ideal_tolerance")
    need = family.minimal_dimension(C)
    inv = conds.get("invariance")
    if inv is not None and not inv.holds:
        worst = [w["orbit"] for w in diag.get("worst_orbits", [])[:3]]
        out.append(
            f"invariance: within-orbit deviation {inv.value:.3g} of the spread (worst orbits {worst}); "
            "train longer or weight the invariance/alignment term more, and check that the views are the orbit's"
        )
    if family.linear and d < need:
        out.append(
            f"dimension: d = {d} < {need}; no encoder in R^{d} is ideal for {family.name} probes: raise d to >= {need}"
        )
    else:
        for c in conds.values():
            if c.decisive and not c.holds and c.comparison == ">" and c.threshold == graded.get("tol"):
                dirs = diag.get("smallest_directions") or [{}]
                out.append(
                    f"{c.description.split(' (')[0]}: {c.value:.3g} (orbits {dirs[0].get('orbits', [])} load on the "
                    "weakest direction); spread the codes apart (a more maximal objective, a head in the probe family)"
                )
                break
    if t is None:
        what = "reduce the deviation" if name == "invariance" else f"raise {name}"
        out.append(f"no tolerance makes it ideal ({graded.get('why_none', '')}); {what} first")
    elif name is not None and t > graded.get("tol", 0):
        out.append(f"ideal from tolerance {t:.3g} on (binding: {name})")
    return out


def fraction_points_shape(n: int, C: int, d: int) -> tuple[int, int]:
    """The shape of :func:`points_for_fraction`'s points, known before any is read."""
    return (n, d) if n <= MAX_POINTS else (2 * C, d)


def points_for_fraction(rep: Any, labels: np.ndarray, st: OrbitStats) -> tuple[np.ndarray, np.ndarray, str]:
    """All points when N <= MAX_POINTS, else the codes and each orbit's farthest point."""
    C = len(st.codes)
    if rep.n <= MAX_POINTS:
        return rep.to_array(), labels, _fraction_points_text(C, rep.n)
    P = np.vstack([st.codes, rep.rows(st.argmax_dev)])
    return P, np.concatenate([np.arange(C), np.arange(C)]), _fraction_points_text(C, rep.n)


def _fraction_points_text(C: int, n: int) -> str:
    """What :func:`points_for_fraction` takes, in words."""
    if n <= MAX_POINTS:
        return f"all {n} points"
    return f"the {C} codes and each orbit's farthest point (N = {n} > {MAX_POINTS}; an upper bound for linear probes)"


def grade(
    conds: dict[str, Condition],
    st: OrbitStats,
    g: CodeGeometry,
    family: ProbeFamily,
    tol: float,
    measure: Measure,
    rep: Any,
    labels: np.ndarray,
) -> dict[str, Any]:
    """The report's ``graded`` block (module docstring); ``rep`` is the checked (possibly rescaled)
    representation, ``measure(t)`` the decisive conditions measured again at tolerance t."""
    out: dict[str, Any] = {"tol": tol}
    out.update(ideal_tolerance(conds, tol, measure))
    rows, cols = fraction_points_shape(rep.n, len(st.codes), rep.d)
    if rows * cols > MAX_LP_ENTRIES:  # decided before the points are read
        on = _fraction_points_text(len(st.codes), rep.n)
        out.update(
            fitted_task_fraction=None,
            why_no_fraction=f"{on}: {rows} x {cols} exceeds {MAX_LP_ENTRIES:,} "
            "entries per linear program; not computed",
        )
    else:
        P, lab, on = points_for_fraction(rep, labels, st)
        out.update(fitted_task_fraction(P, lab, g.codes, family, on))
    out["diagnostics"] = diagnostics(st, g, family)
    out["hints"] = hints(out, conds, family, g.C, g.d)
    return out


def for_check(
    rules: FamilyRules,
    st: OrbitStats,
    dec: Decision,
    rep: Representation,
    orb: Orbits,
    tol: float,
    relaxed: Callable[[], ScaledInvariance],
) -> dict[str, Any]:
    """:func:`grade` for :func:`idealssl.check`: ``measure(t)`` reruns the check's decision at tolerance t
    (:func:`~.decision.decide`) from the same streaming pass ``st`` and the same relaxation ``relaxed``; ``dec``
    is the decision at ``tol``."""

    def measure(t: float) -> dict[str, Condition]:
        return decide(rules, st, rep, orb, t, [], relaxed).conds

    return grade(dec.conds, dec.st, dec.g, rules.family, tol, measure, rep, orb.labels)
