"""``derive --exact``'s verdict: the checker's, and why an objective at its optimum may still disagree with it.

Whether a representation is ideal is decided in one place, :func:`idealssl.check` (theory/statements.md
S1.3, S1.4, S2.1), at a relative tolerance on the geometry. ``derive --exact`` reports that verdict at the
same tolerance (``--check-tol``, default the checker's), so the two commands cannot contradict each other,
and then says, for every objective whose "reaches its optimum" differs from it, why:

* the whitened ideal log loss reaches L* iff the representation is ideal for affine (or homogeneous) probes
  (S5.1), so it can differ only through the tolerances: its gap is compared with ``--tol``, an absolute
  tolerance on the loss, while ``check`` compares geometric ratios with a relative one;
* the DISSL population objective reaches its optimum as soon as the best student of the probe family
  reproduces the teacher's partition of the orbits on the N points (S7.4): one K-way labelling, not every
  labelling, and no invariance of the codes (a student may map an orbit's distinct codes to one category).
  An ideal representation reaches it; a non-ideal one may too;
* the unit-row log loss (and CISSL, which is that value minus log C, S6.1) reaches L* only for invariant codes
  forming a regular simplex (S4.2): more than idealness, so an ideal representation may stay above it.
"""

from __future__ import annotations

from typing import Any

from ..checker import check


def _failed(rep) -> list[dict[str, Any]]:
    """The decisive conditions that fail, as name, value, requirement."""
    return [
        {"name": name, "value": float(c.value), "needs": f"{c.comparison} {c.threshold:.4g}"}
        for name, c in rep.conditions.items()
        if c.decisive and not c.holds
    ]


def _whitened_why(norm: dict, ideal: bool, tol: float, check_tol: float, t_ideal) -> str:
    """Why the whitened log loss and the checker disagree: the two tolerances (S5.1 makes them equivalent)."""
    near = (
        f"check calls it ideal at every tolerance >= {t_ideal:.3g} (its ideal_tolerance)"
        if t_ideal is not None
        else "check finds no tolerance at which it is ideal"
    )
    side = "within" if norm["reaches_optimum"] else "outside"
    return (
        f"the two decide the same property (S5.1) at different tolerances: the whitened gap {norm['gap']:.3g} is "
        f"{side} --tol {tol:g} (absolute, on the loss), while check's conditions use the relative tolerance "
        f"{check_tol:g} on the geometry and say {'ideal' if ideal else 'not ideal'}; {near}"
    )


def _dissl_why(dissl: dict, ideal: bool, failed: list[dict[str, Any]], student: str, tol: float) -> str:
    """Why DISSL's "reaches optimum" differs from the checker's verdict (S7.4)."""
    if not ideal:
        names = {f["name"] for f in failed}
        parts = []
        if "invariance" in names:
            parts.append("the codes are not invariant, but the student maps an orbit's distinct codes to one category")
        if names - {"invariance"}:
            parts.append(
                "some labelling of the orbits is not fittable (check's certificate), but the teacher's one "
                f"partition into K = {dissl['categories']} categories is"
            )
        return (
            f"DISSL's optimum needs only that the best {student} reproduce the teacher's partition of the orbits on "
            f"these points (S7.4): one labelling, not every one, and no invariance; here "
            + "; ".join(parts or ["check's failing conditions are not ones the student needs"])
            + ". Reaching it does not make a representation ideal: read the verdict above"
        )
    return (
        f"check calls it ideal, yet the best student leaves excess {dissl['student_excess']:.3g} above --tol {tol:g}: "
        f"for a deterministic teacher the excess vanishes only as the student's weights grow without bound (the "
        f"optimiser stops first), and idealness is defined by binary tasks (S1.3) while the teacher's partition "
        f"has K = {dissl['categories']} categories"
    )


def verdict(Z, orb, probe: str, check_tol: float, tol: float, norm: dict | None, dissl: dict) -> dict[str, Any]:
    """The checker's verdict on (Z, orbits) at ``check_tol``, and each objective's agreement with it.

    Returns a dict: ``ideal``, ``tol``, ``probe``, ``failed`` (decisive conditions that fail: name, value,
    requirement), ``ideal_tolerance`` (the smallest tolerance at which ``check`` calls Z ideal, or None), and
    ``agreement``: for the whitened log loss and DISSL, ``reaches_optimum``, ``agrees`` and, when they differ,
    ``why`` (see the module notes).
    """
    rep = check(Z, orb, probe=probe, tol=check_tol, graded=True)
    failed = _failed(rep)
    t_ideal = rep.ideal_tolerance
    agreement = []
    if norm is not None:
        same = bool(norm["reaches_optimum"]) == bool(rep.ideal)
        row = {"quantity": "normalised_ideal_log_loss", "reaches_optimum": norm["reaches_optimum"], "agrees": same}
        if not same:
            row["why"] = _whitened_why(norm, rep.ideal, tol, check_tol, t_ideal)
        agreement.append(row)
    same = bool(dissl["reaches_optimum"]) == bool(rep.ideal)
    row = {"quantity": "dissl", "reaches_optimum": dissl["reaches_optimum"], "agrees": same}
    if not same:
        row["why"] = _dissl_why(dissl, rep.ideal, failed, dissl["student"], tol)
    agreement.append(row)
    return {
        "ideal": bool(rep.ideal),
        "tol": float(check_tol),
        "probe": probe,
        "source": "idealssl check: the conditions of theory/statements.md S1.3, S1.4, S2.1, relative tolerance",
        "failed": failed,
        "ideal_tolerance": t_ideal,
        "agreement": agreement,
    }
