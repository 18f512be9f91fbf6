"""``idealssl.check``: is a representation ideal for a probe family? With a certificate either way.

Theory (theory/statements.md S1–S2; Dubois et al. 2022, Thm. 1): an encoder φ is sample optimal for
all ~-invariant tasks and a probe family F iff it is invariant (x ~ x+ ⇒ φ(x) = φ(x+)) and its C orbit
codes satisfy the family's condition (:mod:`.families`).

Data flow, one way: inputs (validated Z and orbits, :mod:`idealssl.inputs`) → one streaming pass
(:mod:`.stats`) → spectra of the C codes (:func:`~.geometry.code_geometry`) → invariance, then the
family's conditions and certificate (:mod:`.decision`, :mod:`.families`, :mod:`.certificates`) → optional witness
(:mod:`.witness`) and exhaustive cross-check (:mod:`.exhaustive`) → :class:`~.report.CheckReport`.
"""

from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import InputError
from ..inputs.orbits import Orbits, load_orbits
from ..inputs.representation import Representation, from_array, load_representation
from ..inputs.tasks import Task, load_task
from ..probes import get_family
from ..theory_math import Spectra, code_spectra
from . import certificates as cert
from . import certified_block
from .decision import Decision, decide, relaxation
from .exhaustive import MAX_C, MAX_POINTS, exhaustive_check
from .families import FAMILIES, FamilyRules
from .geometry import sample_efficiency
from .graded import for_check as graded_block
from .report import MIN_TOL, CheckReport, Condition
from .stats import OrbitStats, float32_sums, orbit_stats, safe_scale
from .witness import Witness, evaluate, in_original_units

DEFAULT_TOL = 1e-4


def _as_rep(Z) -> Representation:
    if isinstance(Z, Representation):
        return Z
    if isinstance(Z, (str, os.PathLike)):
        return load_representation(Z)
    return from_array(Z)


def _validated(tol: Any, threads: Any, certified: Any = "auto") -> float:
    if not isinstance(tol, numbers.Real) or isinstance(tol, (bool, np.bool_)) or not (MIN_TOL <= float(tol) < 1):
        tiny = isinstance(tol, numbers.Real) and 0 < float(tol) < MIN_TOL
        why = f" (below {MIN_TOL:g}, float64 rounding in the rank test would count)" if tiny else ""
        raise InputError(f"tolerance must be a number in [{MIN_TOL:g}, 1), got {tol!r}{why}")
    if not isinstance(threads, numbers.Integral) or isinstance(threads, (bool, np.bool_)) or threads < 1:
        raise InputError(f"threads must be a positive integer, got {threads!r}")
    certified_block.validate_mode(certified)
    return float(tol)


def _stream(
    rep: Representation, orb: Orbits, threads: int, notes: list[str], tol: float
) -> tuple[Representation, float, OrbitStats, Spectra]:
    """The streaming pass, on Z rescaled by a power of two when its values are far from 1 in magnitude, and the
    spectra of the codes (each orbit's first point, read before the pass): with ``threads`` > 1 computed in one more
    thread during the pass, which waits on the file more than on the cores (benches/README.md: 0.16-0.22 s of
    Gram matrix and eigenvalues hidden behind a 0.46-0.57 s pass at 1M x 512), by the same single-threaded
    computation, so the same bits as after it."""
    raw_codes = rep.rows(orb.first_points())
    factor = safe_scale(raw_codes, float32_sums(rep))
    if factor != 1.0:
        notes.append(
            f"the values are far from 1 in magnitude: the check ran on Z × 2^{int(np.log2(factor))} (exact, and every "
            "verdict is scale invariant); distances and bounds below are in those units, probes in the original ones"
        )
    rep = rep.rescaled(factor)
    codes = raw_codes * factor if factor != 1.0 else raw_codes
    if threads < 2 or not np.isfinite(codes).all():  # non-finite codes: the pass names the row (one line)
        st = orbit_stats(rep, orb, threads=threads, codes=codes)
        return rep, factor, st, code_spectra(st.codes, tol)
    with ThreadPoolExecutor(max_workers=1) as ex:
        spectra = ex.submit(code_spectra, codes, tol)
        st = orbit_stats(rep, orb, threads=threads, codes=codes)
        return rep, factor, st, spectra.result()


def _sample_efficiency(st: OrbitStats, orb: Orbits, ideal: bool) -> dict[str, Any]:
    curve, needed, _ = sample_efficiency(st.mass)
    return {
        "formula": "W_n = sum_m p_m (1 - p_m)^n",
        "applies": ideal,
        "curve": curve,
        "n_for_W_le_0.01": needed,
        "orbit_marginal": "uniform over points" if not orb.p_given else "from p",
        "note": "worst-case expected ERM risk over invariant tasks sharing this orbit marginal (Prop. 2); larger if "
        "tasks may change the marginal",
    }


def build_witness(
    rules: FamilyRules,
    codes: np.ndarray,
    task: Task,
    orb: Orbits,
    user_rep: Representation,
    factor: float,
    ideal: bool,
    notes: list[str],
) -> Witness:
    """The family's witness constructions in order; the first that fits every point (else the one with fewest
    errors)."""
    y = task.point_labels(orb)
    best: Witness | None = None
    for build in rules.witnesses:
        probe = in_original_units(build(codes, task.orbit_labels, len(task.classes)), factor)
        cand = Witness(probe, task.classes, evaluate(probe, user_rep, y))
        if best is None or cand.evaluation["n_errors"] < best.evaluation["n_errors"]:
            best = cand
        if best.fits:
            break
    assert best is not None
    if not best.fits:
        notes.append(
            "the witness construction did not fit the task on every point"
            + (
                "; the representation is not ideal, so this task may be unfittable"
                if not ideal
                else ": some points, within --tol of their orbit's code, lie further from it than the task's margin "
                "(codes nearly degenerate at this tolerance); a smaller --tol would call them non-invariant"
            )
        )
    return best


def run_exhaustive(
    rep: Representation,
    orb: Orbits,
    codes: np.ndarray,
    probe: str,
    tol: float,
    conds: dict[str, Condition],
    notes: list[str],
) -> dict[str, Any]:
    """``--exhaustive``: every labelling decided independently, compared with the verdict."""
    Zs = rep.to_array() if rep.n <= MAX_POINTS else None
    exh = exhaustive_check(Zs, orb.labels, codes, probe, tol)
    all_fit = exh["n_fittable"] == exh["n_labellings"]
    structural = all(c.holds for k, c in conds.items() if c.decisive and k != "invariance")
    # population optimality <=> structural conditions, when Z is invariant; a failing structural
    # condition always leaves some labelling unfittable, on points as on codes
    exh["agrees"] = bool(all_fit == structural) if conds["invariance"].holds else bool(structural or not all_fit)
    exh["population_optimal"] = all_fit
    if not exh["agrees"]:
        notes.append(
            "the exhaustive cross-check disagrees with the rank test at this tolerance (nearly degenerate codes?)"
        )
    return exh


def _loaded(Z: Any, orbits: Any, task: Any, exhaustive: bool) -> tuple[Representation, Orbits, Task | None]:
    """The representation, orbits and task, validated; ``--exhaustive`` refused above :data:`MAX_C` orbits."""
    user_rep = _as_rep(Z)
    orb = load_orbits(orbits, n=user_rep.n)
    if exhaustive and orb.n_orbits > MAX_C:
        raise InputError(
            f"--exhaustive enumerates 2^(C-1) labellings; C = {orb.n_orbits} orbits is above the limit "
            f"of {MAX_C} (drop --exhaustive: the rank test is exact)"
        )
    return user_rep, orb, load_task(task, orb) if task is not None else None


def _certificate(
    rules: FamilyRules,
    dec: Decision,
    rep: Representation,
    orb: Orbits,
    factor: float,
    tol: float,
    ideal: bool,
    notes: list[str],
) -> cert.Certificate | None:
    """The family's certificate, else a non-invariance one when invariance fails; a note when there is none for
    a representation that is not ideal, or when it could not be verified."""
    certificate = dec.certificate
    if certificate is None and not dec.conds["invariance"].holds:
        certificate = cert.non_invariant_certificate(
            rep, orb, *dec.pair, dec.g.scale, tol, bias=rules.family.bias, units=factor
        )
    if not ideal and certificate is None:  # linear-nobias at tol ≥ 1/√C: every dependency coefficient within tol of 0
        notes.append("no certificate could be built")
    if certificate is not None and not certificate.verified:
        notes.append("the certificate could not be verified at this tolerance; do not rely on it (try a larger --tol)")
    return certificate


def check(
    Z: Any,
    orbits: Any,
    probe: str = "linear",
    tol: float = DEFAULT_TOL,
    task: Any = None,
    exhaustive: bool = False,
    threads: int = 2,
    graded: bool = True,
    certified: str = "auto",
) -> CheckReport:
    """Decide whether Z is ideal for ``probe`` and certify the verdict.

    Parameters
    ----------
    Z : array-like (N, d), path to ``.npy``/``.npz`` (``file.npz:key``), or a Representation
    orbits : orbits JSON path or parsed dict, :class:`~idealssl.inputs.orbits.Orbits`, a length-N label
        sequence, or a partition (list of lists of point indices)
    probe : ``"linear"`` (affine, default), ``"linear-nobias"`` or ``"mlp"`` (:data:`idealssl.probes.PROBES`)
    tol : float
        Relative tolerance (0 < tol < 1) for every condition: deviations relative to the spread of
        the codes, singular values relative to the largest.
    task : task JSON path or dict (``orbit_labels`` or ``point_labels``), optional
        Build a witness probe for this task and evaluate it on all N points.
    exhaustive : bool
        Also decide every binary labelling independently (C ≤ 12).
    threads : int
        Threads for the streaming pass over a ``.npy`` file.
    graded : bool
        Also compute the graded verdict (``ideal_tolerance``, ``fitted_task_fraction``, diagnostics,
        hints; :mod:`.graded`).
    certified : ``"auto"`` | ``"full"`` | ``"off"``
        The ``certified`` block (theory/statements.md S10, :mod:`.certified_block`: margin, radii, certified n-shot
        error, the orbits that break it); ``full`` on every point with the exact margin up to C = 12. Never changes
        the verdict.

    Returns
    -------
    CheckReport

    Raises
    ------
    InputError
        Any invalid input (one precise message).
    """
    rules = FAMILIES[get_family(probe).name]
    tol = _validated(tol, threads, certified)
    threads = int(threads)
    user_rep, orb, the_task = _loaded(Z, orbits, task, exhaustive)
    notes: list[str] = []
    rep, factor, st0, spectra = _stream(user_rep, orb, threads, notes, tol)
    relaxed = relaxation(rules, rep, orb, threads)
    dec = decide(rules, st0, rep, orb, tol, notes, relaxed, spectra)
    st, g, conds = dec.st, dec.g, dec.conds
    ideal = all(c.holds for c in conds.values() if c.decisive)
    certificate = _certificate(rules, dec, rep, orb, factor, tol, ideal, notes)
    witness = None
    if the_task is not None:
        witness = build_witness(rules, g.codes, the_task, orb, user_rep, factor, ideal, notes)
    exh = run_exhaustive(rep, orb, g.codes, probe, tol, conds, notes) if exhaustive else None
    grades = graded_block(rules, st0, dec, rep, orb, tol, relaxed) if graded else None
    robust = certified_block.block(rep, orb, st, rules.family.name, factor, certified)
    return CheckReport(
        ideal=ideal,
        probe=probe,
        n_points=rep.n,
        n_orbits=orb.n_orbits,
        dim=rep.d,
        tol=tol,
        conditions=conds,
        counterexample=certificate.to_dict() if certificate is not None else None,
        witness=witness.to_dict() if witness is not None else None,
        sample_efficiency=_sample_efficiency(st, orb, ideal),
        exhaustive=exh,
        notes=notes,
        orbit_names=orb.names if orb.names != list(range(orb.n_orbits)) else None,
        graded=grades,
        certified=robust,
        codes={"rule": dec.codes_rule, "points": st.first[:1000].tolist()},
    )
