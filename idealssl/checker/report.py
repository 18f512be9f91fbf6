"""The check report: plain objects with documented fields, a JSON form and a readable text form."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..jsonutil import plain
from ..probes import get_family
from .certified_block import format_certified

#: smallest accepted relative tolerance: below it, float64 rounding in the SVD (~ max(C, d) · 2.2e-16 of σ_1)
#: would count
MIN_TOL = 1e-12


@dataclass
class Condition:
    """One condition of the theory, measured.

    Attributes
    ----------
    holds : bool
    value : float
        The measured quantity (see ``description``).
    threshold : float
        What it is compared with (``comparison`` says how).
    comparison : str
        One of ``"<="``, ``">"``, ``">="``.
    description : str
        What is measured, in one line.
    decisive : bool
        Whether the verdict depends on it (informational conditions, such as the paper's
        main-text span condition, are reported but not decisive).
    detail : dict
        Extra figures (singular values, ranks, the pair of orbits concerned, ...).
    """

    holds: bool
    value: float
    threshold: float
    comparison: str
    description: str
    decisive: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "holds": bool(self.holds),
            "value": plain(self.value),
            "threshold": plain(self.threshold),
            "comparison": self.comparison,
            "decisive": self.decisive,
            "description": self.description,
            **({"detail": plain(self.detail)} if self.detail else {}),
        }


@dataclass
class CheckReport:
    """Result of :func:`idealssl.check`.

    Attributes
    ----------
    ideal : bool
        Whether Z is ideal (sample optimal for all invariant tasks) for the probe family, at
        tolerance ``tol``: every decisive condition holds.
    probe : str
        ``"linear"`` (affine), ``"linear-nobias"`` or ``"mlp"``.
    n_points, n_orbits, dim : int
        N, C and d.
    tol : float
        Relative tolerance used by every condition.
    conditions : dict
        Name -> :class:`Condition`.
    counterexample : dict or None
        When not ideal: a certificate (``kind``, ``orbit_labels``, ``point_labels``, ``proof``,
        ``verified``); see :mod:`idealssl.checker.certificates`.
    witness : dict or None
        With ``task=``: the probe fitting the task and its evaluation on all N points.
    sample_efficiency : dict
        W_n = Σ_m p_m (1 − p_m)^n for an ideal encoder, and the n needed for W_n ≤ 0.01.
    exhaustive : dict or None
        The ``exhaustive=True`` cross-check.
    notes : list of str
    graded : dict or None
        The graded verdict (:mod:`idealssl.checker.graded`): ``ideal_tolerance``, ``binding_condition``,
        ``tolerance_headroom``, ``fitted_task_fraction`` (with how it is measured), ``diagnostics``, ``hints``.
    certified : dict or None
        The certified block (:mod:`idealssl.checker.certified_block`, theory/statements.md S10): the codes' margin
        γ, the radii ε, the certified n-shot error bound, soft scores, the orbits that break it and ``line``, the
        one-line summary printed under the verdict.
    codes : dict or None
        Which points the conditions were measured on: ``rule`` (each orbit's first point, or for
        ``linear-nobias`` when invariance holds only up to positive scaling each orbit's largest-norm point)
        and ``points`` (the index of each orbit's code point; the first 1000 orbits).
    """

    ideal: bool
    probe: str
    n_points: int
    n_orbits: int
    dim: int
    tol: float
    conditions: dict[str, Condition]
    counterexample: dict[str, Any] | None = None
    witness: dict[str, Any] | None = None
    sample_efficiency: dict[str, Any] = field(default_factory=dict)
    exhaustive: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    orbit_names: list[Any] | None = None
    graded: dict[str, Any] | None = None
    codes: dict[str, Any] | None = None
    certified: dict[str, Any] | None = None

    @property
    def ideal_tolerance(self) -> float | None:
        """Smallest tolerance at which Z would be ideal (None: none, or not graded)."""
        return (self.graded or {}).get("ideal_tolerance")

    @property
    def fitted_task_fraction(self) -> float | None:
        """Fraction of binary orbit labellings a probe of the family fits on the points (None: not graded)."""
        return (self.graded or {}).get("fitted_task_fraction")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        d = {
            "ideal": bool(self.ideal),
            "probe": self.probe,
            "n_points": self.n_points,
            "n_orbits": self.n_orbits,
            "dim": self.dim,
            "tol": self.tol,
            "conditions": {k: c.to_dict() for k, c in self.conditions.items()},
            "counterexample": plain(self.counterexample),
            "witness": plain(self.witness),
            "sample_efficiency": plain(self.sample_efficiency),
            "exhaustive": plain(self.exhaustive),
            "notes": list(self.notes),
        }
        if self.codes is not None:
            d["codes"] = plain(self.codes)
        if self.orbit_names is not None:
            d["orbit_ids"] = plain(self.orbit_names)
        if self.graded is not None:
            d["ideal_tolerance"] = plain(self.ideal_tolerance)
            d["fitted_task_fraction"] = plain(self.fitted_task_fraction)
            d["graded"] = plain(self.graded)
        if self.certified is not None:
            d["certified"] = plain(self.certified)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **kw)

    def __str__(self) -> str:
        return format_report(self)


def _fmt(x) -> str:
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def format_report(r: CheckReport) -> str:
    """Readable multi-line report."""
    ok = lambda b: "ok  " if b else "FAIL"  # noqa: E731
    title = get_family(r.probe).title
    lines = [
        f"idealssl check — {title}",
        f"  N = {r.n_points} points, C = {r.n_orbits} orbits, d = {r.dim}, tolerance {r.tol:g} (relative)",
        "",
        "conditions (value vs threshold):",
    ]
    for name, c in r.conditions.items():
        tag = ok(c.holds) if c.decisive else ("info" if c.holds else "info")
        lines.append(f"  [{tag}] {name:<22} {_fmt(c.value):>10} {c.comparison} {_fmt(c.threshold):<8} {c.description}")
    if r.codes is not None and not r.codes["rule"].startswith("each orbit's first point"):
        lines.append(f"  codes: {r.codes['rule']}")
    lines.append("")
    lines.append(f"verdict: {'IDEAL' if r.ideal else 'NOT IDEAL'} for {title}")
    if r.certified is not None:
        lines.append(r.certified["line"])
    se = r.sample_efficiency
    if se:
        n99 = se.get("n_for_W_le_0.01")
        pts = ", ".join(f"W_{n}={_fmt(w)}" for n, w in se.get("curve", [])[:6])
        lines.append(
            f"sample efficiency{'' if r.ideal else ' (if it were ideal)'}: W_n = Σ_m p_m (1 − p_m)^n: {pts}; "
            f"W_n ≤ 0.01 from n = {n99 if n99 is not None else '> 1e15'}"
        )
    lines += _certificate_lines(r.counterexample) + _witness_lines(r) + _exhaustive_lines(r.exhaustive)
    if r.graded is not None:
        lines += format_graded(r.graded)
    if r.certified is not None:
        lines += format_certified(r.certified)
    for n in r.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)


def _certificate_lines(ce: dict[str, Any] | None) -> list[str]:
    if not ce:
        return []
    lines = ["", f"certificate ({ce['kind']}, {'verified' if ce.get('verified') else 'NOT verified'}): {ce['summary']}"]
    ol = ce["orbit_labels"]
    if len(ol) <= 40:
        lines.append(f"  orbit labels: {ol}")
    else:
        pos = [i for i, v in enumerate(ol) if v == 1]
        lines.append(
            f"  orbits labelled 1: {pos[:30]}{' ...' if len(pos) > 30 else ''} (all others 0); --json "
            "prints every label"
        )
    for k in ("verification", "lp_cross_check"):
        if ce.get(k):
            lines.append(f"  {k.replace('_', ' ')}: {ce[k]}")
    return lines


def _witness_lines(r: CheckReport) -> list[str]:
    w = r.witness
    if not w:
        return []
    ev = w["evaluation"]
    return [
        "",
        f"witness probe ({w['probe']['kind']}) for the task: {ev['accuracy'] * 100:.4g}% on all {r.n_points} points"
        f" ({ev['n_errors']} errors){'' if w['fits'] else ' — does NOT fit'}; --json prints its weights",
    ]


def _exhaustive_lines(ex: dict[str, Any] | None) -> list[str]:
    if not ex:
        return []
    lines = [
        "",
        f"exhaustive cross-check ({ex['method']}, on {ex['on']}): {ex['n_fittable']}/{ex['n_labellings']} "
        "non-constant binary labellings (up to complement) fittable; "
        f"{'agrees' if ex['agrees'] else 'DISAGREES'} with the verdict",
    ]
    if ex.get("exact_worst_case_margin") is not None:
        lines.append(f"  exact worst-case margin (relative to the code spread): {_fmt(ex['exact_worst_case_margin'])}")
    return lines


def format_graded(gr: dict[str, Any]) -> list[str]:
    """Lines of the readable report for the ``graded`` block."""
    t = gr.get("ideal_tolerance")
    lines = ["", "graded verdict:"]
    if t is None:
        lines.append(f"  ideal_tolerance: none ({gr.get('why_none', '')})")
    else:
        lines.append(
            f"  ideal_tolerance: {t:.4g} (binding: {gr.get('binding_condition') or 'none'}; ideal for every "
            f"tolerance in [{t:.4g}, {gr.get('tolerance_headroom', 1.0):.4g}))"
        )
    if gr.get("why_no_fraction"):
        lines.append(f"  fitted_task_fraction: not computed ({gr['why_no_fraction']})")
    if gr.get("fitted_task_fraction") is not None:
        lines.append(
            f"  fitted_task_fraction: {gr['fitted_task_fraction']:.4g} ({gr['n_fitted']}/{gr['n_labellings']}: "
            f"{gr['labellings']}, on {gr['on']})"
        )
    diag = gr.get("diagnostics", {})
    if diag.get("worst_orbits"):
        lines.append(
            "  largest deviations (orbit: max, relative to the "
            + diag["unit"]
            + "): "
            + ", ".join(f"{w['orbit']}: {w['max_deviation']:.3g}" for w in diag["worst_orbits"])
        )
    if diag.get("closest_pairs"):
        lines.append(
            "  closest codes (orbits: distance): "
            + ", ".join(f"{p['orbits'][0]}-{p['orbits'][1]}: {p['distance']:.3g}" for p in diag["closest_pairs"])
        )
    if diag.get("smallest_directions"):
        lines.append(
            f"  smallest directions of the {diag['smallest_directions_of']} (σ_k/σ_1: orbits loading most): "
            + "; ".join(f"σ_{r['index']} {r['sigma_relative']:.3g}: {r['orbits']}" for r in diag["smallest_directions"])
        )
    lines += [f"hint: {h}" for h in gr.get("hints", [])]
    return lines
