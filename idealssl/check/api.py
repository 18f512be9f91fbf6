"""``idealssl.check``: is a representation ideal for a probe family? With a certificate either way.

Theory (issl-theory.md; theory/ in this repository): an encoder φ is sample optimal for all
~-invariant tasks and a probe family F iff

* invariance: x ~ x+ ⇒ φ(x) = φ(x+)  (Thm 1), and
* for affine probes (``linear``): the C orbit codes are **affinely independent**, rank[μ_m − μ_1] =
  C − 1 (Thm 1 in its correct affine form, Lemma A; the main-text "dim span ≥ C − 1" is not
  sufficient, see 2.1-bis);
* for homogeneous probes (``linear-nobias``): the codes are linearly independent (rank C);
* for universal / MLP probes (``mlp``): the codes are distinct (Sec. 5).

Data flow: problem (validated Z and orbits) → one streaming pass (:mod:`.stats`) → conditions on the
C codes (:mod:`.geometry`) → certificate (:mod:`.certificates`) or witness (:mod:`.witness`) →
:class:`~idealssl.check.report.CheckReport`.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
from typing import Any, Optional

import numpy as np

from ..errors import InputError
from ..problem import Task, load_orbits, load_task
from ..representation import Representation, from_array, load_representation
from . import certificates as cert
from .exhaustive import MAX_C, MAX_POINTS, exhaustive_check
from .geometry import min_pairwise_distance, numerical_rank, rms_norm, sample_efficiency
from .report import MIN_TOL, PROBES, CheckReport, Condition
from .stats import float32_sums, orbit_stats, ray_deviation, safe_scale
from .witness import MLP_WITNESSES, affine_witness, evaluate, in_original_units, probe_to_json

DEFAULT_TOL = 1e-4
#: singular values below NOISE_FLOOR · √(C d) · max|μ| are float64 rounding (the centring's error is a few
#: ulps of the largest entry per entry), set to 0
NOISE_FLOOR = 16 * float(np.finfo(np.float64).eps)


def _spectra(codes: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Singular values of the centred codes [μ_m − μ̄] and of the codes [μ_m], decreasing.

    For tall matrices (C > 4d) through the d x d Gram matrix G = Σ μ_m μ_mᵀ, whose relative precision
    (~1e-8 of σ_1) is ample for tolerances ≥ 1e-6; the centred Gram is G − C μ̄μ̄ᵀ unless the centroid
    is far from the codes' spread (cancellation), when it is formed directly.
    """
    C, d = codes.shape
    mu = codes.mean(axis=0)
    if C > 4 * d and tol >= 1e-6:
        G = codes.T @ codes
        Gc = G - C * np.outer(mu, mu)
        S2 = np.trace(Gc) / C
        if mu @ mu > 1e4 * max(S2, 0.0):
            centred = codes - mu
            Gc = centred.T @ centred
        root = lambda M: np.sqrt(np.clip(np.linalg.eigvalsh(M)[::-1], 0.0, None))  # noqa: E731
        return root(Gc), root(G), "eigenvalues of the d x d Gram matrix"
    return np.linalg.svd(codes - mu, compute_uv=False), np.linalg.svd(codes, compute_uv=False), "SVD"


def _as_rep(Z) -> Representation:
    if isinstance(Z, Representation):
        return Z
    if isinstance(Z, (str, os.PathLike)):
        return load_representation(Z)
    return from_array(Z)


def check(
    Z: Any,
    orbits: Any,
    probe: str = "linear",
    tol: float = DEFAULT_TOL,
    task: Any = None,
    exhaustive: bool = False,
    threads: int = 2,
) -> CheckReport:
    """Decide whether Z is ideal for ``probe`` and certify the verdict.

    Parameters
    ----------
    Z : array-like (N, d), path to ``.npy``/``.npz`` (``file.npz:key``), or a Representation
    orbits : orbits JSON path or parsed dict, :class:`~idealssl.problem.Orbits`, a length-N label
        sequence, or a partition (list of lists of point indices)
    probe : ``"linear"`` (affine, default), ``"linear-nobias"`` or ``"mlp"``
    tol : float
        Relative tolerance (0 < tol < 1) for every condition: deviations relative to the spread of
        the codes, singular values relative to the largest.
    task : task JSON path or dict (``orbit_labels`` or ``point_labels``), optional
        Build a witness probe for this task and evaluate it on all N points.
    exhaustive : bool
        Also decide every binary labelling independently (C ≤ 12).
    threads : int
        Threads for the streaming pass over a ``.npy`` file.

    Returns
    -------
    CheckReport

    Raises
    ------
    InputError
        Any invalid input (one precise message).
    """
    if probe not in PROBES:
        raise InputError(f"unknown probe family {probe!r}; choose one of {', '.join(PROBES)}")
    if not isinstance(tol, numbers.Real) or isinstance(tol, (bool, np.bool_)) or not (MIN_TOL <= tol < 1):
        why = f" (below {MIN_TOL:g}, float64 rounding in the rank test would count)" if isinstance(tol, numbers.Real) and 0 < tol < MIN_TOL else ""
        raise InputError(f"tolerance must be a number in [{MIN_TOL:g}, 1), got {tol!r}{why}")
    tol = float(tol)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    rep = _as_rep(Z)
    orb = load_orbits(orbits, n=rep.n)
    if exhaustive and orb.n_orbits > MAX_C:
        raise InputError(f"--exhaustive enumerates 2^(C-1) labellings; C = {orb.n_orbits} orbits is above the limit of {MAX_C} (drop --exhaustive: the rank test is exact)")
    the_task: Optional[Task] = load_task(task, orb) if task is not None else None

    notes: list[str] = []
    raw_codes = rep.rows(orb.first_points())
    factor = safe_scale(raw_codes, float32_sums(rep))
    if factor != 1.0:
        notes.append(
            f"the values are far from 1 in magnitude: the check ran on Z × 2^{int(np.log2(factor))} (exact, and every verdict is scale "
            "invariant); distances and bounds below are in those units, probes in the original ones"
        )
    user_rep, rep = rep, rep.rescaled(factor)
    st = orbit_stats(rep, orb, threads=threads, codes=raw_codes * factor if factor != 1.0 else raw_codes)
    codes, C, d = st.codes, orb.n_orbits, rep.d
    sv_aff, sv_lin, how = _spectra(codes, tol)
    # singular values at the rounding level of the codes themselves are zero (identical codes far from
    # the origin leave ~1e-16 of their norm after centring, which must not count as a spread)
    floor = NOISE_FLOOR * math.sqrt(C * d) * float(np.abs(codes).max(initial=0.0))
    sv_aff = np.where(sv_aff > floor, sv_aff, 0.0)
    sv_lin = np.where(sv_lin > floor, sv_lin, 0.0)
    S = float(np.sqrt(np.sum(np.square(sv_aff)) / C))  # spread: Σσ² of the centred codes = ‖μ − μ̄‖_F²
    scale = S
    if scale == 0:
        scale = rms_norm(codes) or float(st.max_dev.max()) or 1.0
        notes.append(
            ("all orbit codes coincide (zero spread)" if C > 1 else "one orbit: there is no spread between codes")
            + "; deviations are measured relative to the codes' norm, which depends on the origin (translating Z changes the invariance value)"
        )
    bias = probe != "linear-nobias"
    conds: dict[str, Condition] = {}

    # ---- invariance (Thm 1)
    worst = int(np.argmax(st.max_dev))
    inv_value = float(st.max_dev[worst]) / scale
    conds["invariance"] = Condition(
        holds=inv_value <= tol,
        value=inv_value,
        threshold=tol,
        comparison="<=",
        description="max ‖z_x − z_(orbit's first point)‖ / spread of the codes",
        detail={
            "worst_orbit": worst,
            "worst_points": [int(st.first[worst]), int(st.argmax_dev[worst])],
            "rms_within_orbit_relative": float(np.sqrt(np.sum(st.mean_sq_dev * st.sizes) / rep.n)) / scale,
            "code_spread": S,
        },
    )

    # ---- geometry of the codes
    aff_rank = numerical_rank(sv_aff, tol)
    lin_rank = numerical_rank(sv_lin, tol)
    rel = lambda sv, k: (float(sv[k - 1] / sv[0]) if (len(sv) >= k and sv[0] > 0) else 0.0)  # noqa: E731
    shown = lambda sv: (sv / sv[0]).tolist()[:1000] if len(sv) and sv[0] > 0 else sv.tolist()[:1000]  # noqa: E731

    certificate = None
    if probe == "linear":
        sigma = 1.0 if C == 1 else rel(sv_aff, C - 1)
        conds["affine_independence"] = Condition(
            holds=aff_rank == C - 1,
            value=sigma,
            threshold=tol,
            comparison=">",
            description="σ_(C−1) / σ_1 of the centred codes [μ_m − μ̄] (affinely independent iff > tol)",
            detail={"singular_values_relative": shown(sv_aff), "affine_rank": aff_rank, "method": how},
        )
        conds["effective_dimension"] = Condition(
            holds=aff_rank >= C - 1,
            value=aff_rank,
            threshold=C - 1,
            comparison=">=",
            description=f"affine rank of the codes vs the required C − 1 (nominal d = {d})",
            detail={"nominal_dim": d, "linear_span_rank": lin_rank},
        )
        margin_ok = aff_rank == C - 1
        conds["worst_case_margin"] = Condition(
            holds=margin_ok,
            value=(1.0 if C == 1 else float(sv_aff[C - 2]) / math.sqrt(C) / scale) if margin_ok else 0.0,
            threshold=0.0,
            comparison=">",
            description="lower bound σ_(C−1)/√C on every binary task's best margin, relative to the spread" if margin_ok else "no positive margin: some task is not separable (see certificate)",
            detail={"bound": "lower" if margin_ok else "upper"},
        )
        span_ok = lin_rank >= C - 1
        conds["span_dimension_paper"] = Condition(
            holds=span_ok,
            value=lin_rank,
            threshold=C - 1,
            comparison=">=",
            description="the paper's main-text condition dim span{φ(x)} ≥ C − 1 (necessary, NOT sufficient)",
            decisive=False,
        )
        if span_ok and aff_rank < C - 1:
            notes.append(
                "the paper's main-text condition dim span ≥ C − 1 holds, but the codes are affinely dependent, so some invariant "
                "task is not linearly separable: the span condition is not sufficient (issl-theory.md 2.1-bis); the affine one decides"
            )
        if aff_rank < C - 1:
            certificate = cert.radon_certificate(codes, orb, aff_rank, S if S > 0 else scale, tol, True, st.first, top=float(sv_aff[0]) if len(sv_aff) else None,
                                                 unit="code spread" if S > 0 else "the codes' RMS norm")
    elif probe == "linear-nobias":
        lin_scale = float(np.sqrt(np.sum(np.square(sv_lin)) / C)) or 1.0  # RMS norm of the codes
        sigma = rel(sv_lin, C)
        conds["linear_independence"] = Condition(
            holds=lin_rank == C,
            value=sigma,
            threshold=tol,
            comparison=">",
            description="σ_C / σ_1 of the codes [μ_m] (linearly independent iff > tol)",
            detail={"singular_values_relative": shown(sv_lin), "linear_rank": lin_rank, "method": how},
        )
        conds["effective_dimension"] = Condition(
            holds=lin_rank >= C,
            value=lin_rank,
            threshold=C,
            comparison=">=",
            description=f"linear rank of the codes vs the required C (nominal d = {d})",
            detail={"nominal_dim": d, "affine_rank": aff_rank},
        )
        margin_ok = lin_rank == C
        conds["worst_case_margin"] = Condition(
            holds=margin_ok,
            value=float(sv_lin[C - 1]) / math.sqrt(C) / lin_scale if margin_ok else 0.0,
            threshold=0.0,
            comparison=">",
            description="lower bound σ_C/√C on every binary task's best margin, relative to the codes' RMS norm" if margin_ok else "no positive margin: some task is not separable (see certificate)",
            detail={"bound": "lower" if margin_ok else "upper"},
        )
        if lin_rank < C:
            certificate = cert.radon_certificate(codes, orb, lin_rank, lin_scale, tol, False, st.first, top=float(sv_lin[0]) if len(sv_lin) else None,
                                                 unit="the codes' RMS norm")
    else:  # mlp / universal
        dist, i, j = min_pairwise_distance(codes)
        rel_dist = dist / scale if C > 1 else math.nan  # one orbit: vacuous (reported as null)
        distinct = C == 1 or rel_dist > tol
        conds["distinct_codes"] = Condition(
            holds=distinct,
            value=rel_dist,
            threshold=tol,
            comparison=">",
            description="smallest distance between two orbits' codes / spread of the codes",
            detail={"closest_orbits": [i, j]} if C > 1 else {},
        )
        conds["effective_dimension"] = Condition(
            holds=aff_rank >= min(1, C - 1),
            value=aff_rank,
            threshold=min(1, C - 1),
            comparison=">=",
            description=f"affine rank of the codes vs the required 1 for universal probes (nominal d = {d})",
            detail={"nominal_dim": d, "note": "a fixed-width MLP needs more: a one-hidden-layer ReLU MLP of width 2(C−1) always suffices (witness construction)"},
        )
        conds["worst_case_margin"] = Condition(
            holds=distinct,
            value=rel_dist / 2 if C > 1 else math.nan,
            threshold=0.0,
            comparison=">",
            description="half the smallest code distance / spread: every labelling is fitted by 1-NN on codes with this margin",
        )
        if not distinct:
            certificate = cert.shared_code_certificate(rep, orb, i, j, st.first, scale, tol)

    pair = (worst, int(st.first[worst]), int(st.argmax_dev[worst]))  # a non-invariant orbit and two of its points
    if probe == "linear-nobias" and not conds["invariance"].holds:
        # homogeneous probes cannot tell z from c·z (c > 0): invariance up to positive scaling suffices
        chord, m_ray, x_ray = ray_deviation(rep, orb, codes)
        ray = {"value": chord, "threshold": tol, "holds": chord <= tol, "worst_points": [int(st.first[m_ray]), x_ray]}
        strict = conds["invariance"]
        if chord <= tol:
            conds["invariance"] = Condition(
                holds=True, value=chord, threshold=tol, comparison="<=",
                description="max ‖z_x/‖z_x‖ − r/‖r‖‖ for r the code of x's orbit: every point is a positive multiple of its code, "
                            "which homogeneous probes cannot tell apart (strict invariance fails: see detail)",
                detail={"strict": {"value": strict.value, "threshold": tol, "holds": False, **strict.detail}},
            )
        else:
            strict.detail["up_to_positive_scaling"] = ray
            pair = (m_ray, int(st.first[m_ray]), x_ray)
    invariant = conds["invariance"].holds
    if certificate is None and not invariant:
        certificate = cert.non_invariant_certificate(rep, orb, *pair, scale, tol, bias=bias, units=factor)
    ideal = all(c.holds for c in conds.values() if c.decisive)
    if not ideal and certificate is None:  # pragma: no cover - every failing condition has a certificate
        notes.append("no certificate could be built")
    if certificate is not None and not certificate["verified"]:
        notes.append("the certificate could not be verified at this tolerance; do not rely on it (try a larger --tol)")

    curve, needed, _ = sample_efficiency(st.mass)
    se = {
        "formula": "W_n = sum_m p_m (1 - p_m)^n",
        "applies": ideal,
        "curve": curve,
        "n_for_W_le_0.01": needed,
        "orbit_marginal": "uniform over points" if not orb.p_given else "from p",
        "note": "worst-case expected ERM risk over invariant tasks sharing this orbit marginal (Prop. 2); larger if tasks may change the marginal",
    }

    witness = None
    if the_task is not None:
        K = len(the_task.classes)
        y = the_task.point_labels(orb)
        # mlp: the one-hidden-layer construction first; where its one projection leaves gaps smaller
        # than the deviations, the nearest-code (maxout) network; the one with fewer errors is kept
        builds = MLP_WITNESSES if probe == "mlp" else (functools.partial(affine_witness, bias=bias),)
        w, ev = None, None
        for build in builds:
            cand = in_original_units(build(codes, the_task.orbit_labels, K), factor)
            cand_ev = evaluate(cand, user_rep, y)
            if ev is None or cand_ev["n_errors"] < ev["n_errors"]:
                w, ev = cand, cand_ev
            if ev["n_errors"] == 0:
                break
        witness = {"probe": probe_to_json(w), "classes": the_task.classes, "evaluation": ev, "fits": ev["n_errors"] == 0}
        if not witness["fits"]:
            notes.append(
                "the witness construction did not fit the task on every point"
                + ("; the representation is not ideal, so this task may be unfittable" if not ideal else
                   ": some points, within --tol of their orbit's code, lie further from it than the task's margin (codes nearly degenerate at this tolerance); a smaller --tol would call them non-invariant")
            )

    exh = None
    if exhaustive:
        Zs = rep.to_array() if rep.n <= MAX_POINTS else None
        exh = exhaustive_check(Zs, orb.labels, codes, probe, tol)
        all_fit = exh["n_fittable"] == exh["n_labellings"]
        structural = all(c.holds for k, c in conds.items() if c.decisive and k != "invariance")
        # population optimality <=> structural conditions, when Z is invariant; a failing structural
        # condition always leaves some labelling unfittable, on points as on codes
        exh["agrees"] = bool(all_fit == structural) if invariant else bool(structural or not all_fit)
        exh["population_optimal"] = all_fit
        if not exh["agrees"]:
            notes.append("the exhaustive cross-check disagrees with the rank test at this tolerance (nearly degenerate codes?)")

    return CheckReport(
        ideal=ideal,
        probe=probe,
        n_points=rep.n,
        n_orbits=C,
        dim=d,
        tol=tol,
        conditions=conds,
        counterexample=certificate,
        witness=witness,
        sample_efficiency=se,
        exhaustive=exh,
        notes=notes,
        orbit_names=orb.names if orb.names != list(range(C)) else None,
    )
