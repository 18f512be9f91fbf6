"""The decision at one tolerance: invariance (or the family's relaxation of it), then the family's conditions.

Shared by :func:`idealssl.check` (:mod:`.api`) and the graded verdict (:mod:`.graded`), which measures the same
decision again at other tolerances. Theory: theory/statements.md S1.3, S1.4, S2.1 (Dubois et al. 2022, Thm. 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..inputs.orbits import Orbits
from ..inputs.representation import Representation
from ..theory_math import Spectra
from . import certificates as cert
from .families import FamilyRules, ScaledInvariance
from .geometry import CodeGeometry, code_geometry
from .report import Condition
from .stats import OrbitStats


def invariance_condition(st: OrbitStats, g: CodeGeometry, n: int) -> Condition:
    """Thm 1's first condition: max ‖z_x − r_(M(x))‖ relative to the codes' spread, r the code point of x's orbit
    (``st.first``: its first point, or the family's order-free choice, see :func:`decide`)."""
    worst = int(np.argmax(st.max_dev))
    value = float(st.max_dev[worst]) / g.scale
    return Condition(
        holds=value <= g.tol,
        value=value,
        threshold=g.tol,
        comparison="<=",
        description="max ‖z_x − r_(M(x))‖ / spread of the codes (r: each orbit's code point, see `codes`)",
        detail={
            "worst_orbit": worst,
            "worst_points": [int(st.first[worst]), int(st.argmax_dev[worst])],
            "rms_within_orbit_relative": float(np.sqrt(np.sum(st.mean_sq_dev * st.sizes) / n)) / g.scale,
            "code_spread": g.spread,
            "max_deviation_relative_per_orbit": (st.max_dev[:1000] / g.scale).tolist(),  # the first 1000 orbits
        },
    )


#: how the codes were chosen, as the report states it (:attr:`CheckReport.codes`)
FIRST_POINTS = "each orbit's first point"
LARGEST_NORM = (
    "each orbit's largest-norm point (invariance holds only up to positive scaling, which homogeneous probes "
    "cannot see; the conditions are measured on these points, whatever the order of the points)"
)


@dataclass
class Decision:
    """The conditions measured at one tolerance, on the codes the invariance condition settled on.

    Attributes
    ----------
    st : OrbitStats
        The streaming pass whose codes the conditions used.
    g : CodeGeometry
    conds : dict
        Invariance first, then the family's conditions.
    certificate : Certificate or None
        The family's structural certificate, when a structural condition fails.
    pair : (orbit, point, point)
        The most non-invariant orbit and two of its points (for a non-invariance certificate).
    codes_rule : str
        :data:`FIRST_POINTS` or :data:`LARGEST_NORM`.
    """

    st: OrbitStats
    g: CodeGeometry
    conds: dict[str, Condition]
    certificate: cert.Certificate | None
    pair: tuple[int, int, int]
    codes_rule: str


def decide(
    rules: FamilyRules,
    st: OrbitStats,
    rep: Representation,
    orb: Orbits,
    tol: float,
    notes: list[str],
    relaxed: Callable[[], ScaledInvariance],
    spectra: Spectra | None = None,
) -> Decision:
    """Invariance on each orbit's first point; when it fails and the family relaxes it (``linear-nobias``:
    up to positive scaling), the relaxed condition on the family's order-free codes (``relaxed()``, measured
    once by the caller); then the family's conditions on the codes so chosen (Thm 1; theory/statements.md
    S1.3, S1.4, S2.1). ``spectra``: ``code_spectra(st.codes, tol)`` when the caller has it already."""
    scratch: list[str] = []
    g = code_geometry(st, tol, scratch, spectra)
    inv = invariance_condition(st, g, rep.n)
    m = inv.detail["worst_orbit"]
    pair = (m, int(st.first[m]), int(st.argmax_dev[m]))
    rule = FIRST_POINTS
    if not inv.holds and rules.relax_invariance is not None:
        sc = relaxed()
        st, rule = sc.st, LARGEST_NORM
        g = code_geometry(st, tol, notes)
        inv, pair = sc.condition(invariance_condition(st, g, rep.n), tol)
    else:
        notes.extend(scratch)
    conds = {"invariance": inv}
    structural, certificate = rules.conditions(g, rep, orb, notes)
    conds.update(structural)
    return Decision(st, g, conds, certificate, pair, rule)


def relaxation(rules: FamilyRules, rep: Representation, orb: Orbits, threads: int) -> Callable[[], ScaledInvariance]:
    """``rules.relax_invariance`` measured on first use only (it reads Z again)."""
    memo: list[ScaledInvariance] = []

    def measured() -> ScaledInvariance:
        if not memo:
            assert rules.relax_invariance is not None
            memo.append(rules.relax_invariance(rep, orb, threads))
        return memo[0]

    return measured
