"""The ``certified`` block of :func:`idealssl.check` (theory/statements.md S10), beside the graded one.

What it says, for every invariant task at once: the margin γ of the orbit codes (S10.1: the cheap bound, and the
exact verified interval for small C), the radii ε (max and quantiles), whether one probe per task fits every point
(S10.2) and whether the max-margin ERM learns every task from n labels with risk ≤ W_n (S10.3), the certified
fraction of points and of orbits, the certified n-shot error bound B(n) (S10.4) at a few n and the n at which it
falls below 1 %, the soft scores of S10.5, and the orbits that break the certificate, worst first. ``line`` is the
one line a user reads first.

Two paths, chosen by ``mode`` (``idealssl check --certified auto|full|off``):

``points``
    The problem of S10 on all points (:func:`.certified.problem`: codes the mass-weighted orbit means, the
    exact orbit diameters, the point core of S10.4). ``auto`` takes it when N·d ≤ :data:`POINTS_MAX_ENTRIES` and
    every orbit's pairwise differences fit :data:`DIAMETER_MAX_ENTRIES`; ``full`` always (refused, as bad input,
    when one orbit's differences would exceed :data:`FULL_DIAMETER_MAX_ENTRIES`).
``orbits``
    Per-orbit summaries from the check's own streaming pass (:func:`.certified.orbit_certificate`): codes the
    checker's code points, radii ε_m = the pass's largest deviation (for ``linear-nobias`` one more pass over
    the unit directions), diameters bounded by 2ε_m, cores made of whole orbits. Sound and weaker (its bound is
    never below the points path's on the same codes); no second pass over Z for the affine families.

γ is exact (every labelling, a verified interval) up to :data:`AUTO_EXACT_MAX_C` orbits under ``auto`` and
:data:`.certified.EXACT_MAX_C` under ``full``; above, the cheap lower bound with a pair/dependency upper end. The
two-orbit table (nearest codes, the ``pair_separation`` score) costs O(C² d): ``auto`` computes it up to
:data:`PAIRS_MAX_C` orbits. The block never changes the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..inputs.orbits import Orbits
from ..inputs.representation import Representation
from ..jsonutil import plain
from ..probes import get_family
from . import certified as cf
from .geometry import find_dependency
from .stats import OrbitStats

MODES = ("auto", "full", "off")
#: ``auto`` works on all points up to this many entries N·d (the points held in float64: 160 MB)
POINTS_MAX_ENTRIES = 20_000_000
#: ... and while the largest orbit's pairwise differences n_m²·d fit this many entries (the exact diameters)
DIAMETER_MAX_ENTRIES = 20_000_000
#: ``full`` refuses an orbit whose pairwise differences exceed this (2 GB of float64)
FULL_DIAMETER_MAX_ENTRIES = 250_000_000
#: exact γ under ``auto`` up to this many orbits (2^(C−1) − 1 small problems; about 0.1 s at C = 10)
AUTO_EXACT_MAX_C = 10
#: the two-orbit table (O(C² d)) under ``auto`` up to this many orbits
PAIRS_MAX_C = 2048
#: n of the bound's table, and the target error whose smallest n is reported
NS = (1, 2, 5, 10, 20, 50, 100)
TARGET = 0.01
#: orbits listed in the diagnosis (the count of all is given), in the one-line summary, and radii kept for the figure
TOP = 10
TOP_LINE = 3
RADII_SHOWN = 1000
ST = "theory/statements.md S10"


@dataclass
class Parts:
    """What both paths measure: the certificate, per-orbit radii and diameters (or their 2ε bound), the fraction of
    points in the n-shot and population cores, the codes and the pair table (None when not computed)."""

    path: str
    why: str
    cert: cf.Certificate
    radii: np.ndarray
    diam: np.ndarray
    diam_bounded: bool
    frac_points: tuple[float, float]
    codes: np.ndarray
    pairs: cf.PairTable | None
    pair_scores: dict[str, Any]


def validate_mode(mode: Any) -> str:
    """``mode`` if it is one of :data:`MODES`, else an :class:`InputError`."""
    if not isinstance(mode, str) or mode not in MODES:
        raise InputError(f"certified must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def choose_path(rep: Representation, orb: Orbits, mode: str) -> tuple[str, str]:
    """``points`` or ``orbits`` for ``mode`` (module docstring), and why."""
    biggest = int(orb.sizes().max()) ** 2 * rep.d
    if mode == "full":
        if biggest > FULL_DIAMETER_MAX_ENTRIES:
            raise InputError(
                f"--certified full: the largest orbit's pairwise differences need {biggest:,} values "
                f"(> {FULL_DIAMETER_MAX_ENTRIES:,}); use --certified auto (per-orbit radii, diameters ≤ 2ε)"
            )
        return "points", "--certified full: every point, exact diameters"
    if rep.n * rep.d <= POINTS_MAX_ENTRIES and biggest <= DIAMETER_MAX_ENTRIES:
        return "points", f"N·d = {rep.n * rep.d:,} ≤ {POINTS_MAX_ENTRIES:,}: every point, exact diameters"
    return "orbits", (
        f"N·d = {rep.n * rep.d:,} or the largest orbit's n²·d = {biggest:,} above the auto limits: per-orbit radii "
        "from the check's pass, diameters ≤ 2ε_m, whole orbits as cores (--certified full for the points)"
    )


def _from_points(rep: Representation, orb: Orbits, probe: str, exact_max_c: int, pairs: bool, why: str) -> Parts:
    prob = cf.problem(rep.to_array(), orb.labels, probe, p=orb.p if orb.p_given else None)
    cert = cf.certify(prob, exact_max_c)
    pr = prob.profiles
    n = np.diff(pr.start)
    diam = np.where(n > 0, pr.diameter[np.maximum(pr.start[1:] - 1, 0)], 0.0)
    live = prob.mass > 0
    r = cert.radius
    in_core = float(np.mean(prob.deviation[live] <= r)) if r is not None else 0.0
    in_pop = float(np.mean(prob.deviation[live] < cert.gamma.lower))
    table, scores = None, {}
    if pairs:
        table = cf.pair_table(prob.codes, probe, prob.radii, diam, "nshot")
        scores = {f"q{q:g}": cf.pair_separation(prob, q, "nshot") for q in (0.9, 1.0)}
    return Parts("points", why, cert, prob.radii, diam, False, (in_core, in_pop), prob.codes, table, scores)


def _direction_radii(rep: Representation, orb: Orbits, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit code directions ν_m and, per orbit, max ‖z_x/‖z_x‖ − ν_m‖ in one pass (+inf for a zero point or code)."""
    norms = np.linalg.norm(codes, axis=1)
    nu = np.divide(codes, norms[:, None], out=np.zeros_like(codes), where=norms[:, None] > 0)
    radii = np.zeros(orb.n_orbits)
    for start, block in rep.chunks():
        lab = orb.labels[start : start + len(block)]
        zn = np.linalg.norm(block, axis=1)
        u = np.divide(block, zn[:, None], out=np.zeros_like(block), where=zn[:, None] > 0)
        dev = np.where(zn > 0, np.linalg.norm(u - nu[lab], axis=1), np.inf)
        np.maximum.at(radii, lab, dev)
    radii[norms == 0] = np.inf
    return nu, radii


def _from_orbits(
    rep: Representation, orb: Orbits, st: OrbitStats, probe: str, exact_max_c: int, pairs: bool, why: str
) -> Parts:
    if get_family(probe).bias:
        codes, radii = st.codes, st.max_dev.astype(np.float64)
    else:
        codes, radii = _direction_radii(rep, orb, st.codes)
    cert = cf.orbit_certificate(codes, radii, st.mass, probe, exact_max_c, pair_upper=pairs)
    sizes = st.sizes.astype(np.float64)
    in_core = float(sizes[cert.core_mass > 0].sum() / sizes.sum())
    in_pop = float(sizes[radii < cert.gamma.lower].sum() / sizes.sum())
    diam = 2.0 * radii
    table, scores = None, {}
    if pairs:
        table = cf.pair_table(codes, probe, radii, diam, "nshot")
        scores = {"q1": {"pairs": table.pairs, "orbits": float(table.orbit_ok.mean())}}
    return Parts("orbits", why, cert, radii, diam, True, (in_core, in_pop), codes, table, scores)


def block(
    rep: Representation, orb: Orbits, st: OrbitStats, probe: str, factor: float = 1.0, mode: str = "auto"
) -> dict[str, Any] | None:
    """The ``certified`` block (module docstring) of the checked representation ``rep`` (rescaled by ``factor``
    from the user's Z; distances are reported in the user's units) with the streaming pass ``st``; None when
    ``mode`` is ``off``."""
    if validate_mode(mode) == "off":
        return None
    path, why = choose_path(rep, orb, mode)
    exact_max_c = cf.EXACT_MAX_C if mode == "full" else AUTO_EXACT_MAX_C
    pairs = mode == "full" or orb.n_orbits <= PAIRS_MAX_C
    if path == "points":
        parts = _from_points(rep, orb, probe, exact_max_c, pairs, why)
    else:
        parts = _from_orbits(rep, orb, st, probe, exact_max_c, pairs, why)
    unit = 1.0 / factor if get_family(probe).bias else 1.0  # unit directions carry no scale
    out = _figures(parts, orb, unit, mode)
    out["orbits"] = diagnosis(parts, probe, rep.d, unit)
    out["line"] = summary_line(out)
    return plain(out)


def _gamma(cert: cf.Certificate, unit: float) -> dict[str, Any]:
    g = cert.gamma
    return {
        "lower": g.lower * unit,
        "upper": g.upper * unit,
        "exact": g.exact,
        "method": g.method,
        "labelling": None if g.labelling is None else [int(v) for v in g.labelling],
        "statement": "S10.1: γ_F, the worst binary labelling's margin on the codes; [lower, upper] verified",
    }


def _bound(cert: cf.Certificate) -> dict[str, Any]:
    errs = [cert.bound(n) for n in NS]
    n_hit = cert.n_below(TARGET)
    why = None
    if n_hit is None:
        s = float(cert.core_mass.sum())
        why = (
            "no certified core: δ(r) + ε(r) ≥ γ at every radius"
            if cert.radius is None
            else f"{1 - s:.3g} of the mass lies outside the core, and B(n) ≥ 1 − (1 − q)^(n+1) stays above {TARGET:g}"
        )
    return {
        "n": list(NS),
        "error": errs,
        "target": TARGET,
        "n_below_target": n_hit,
        "why_null": why,
        "statement": "S10.4: E[n-shot risk] ≤ B(n) = 1 − s^(n+1)(1 − W_n(p̃)) for every invariant task, for the "
        "max-margin ERM (1-NN for mlp); W_n when the core holds all the mass",
    }


def _soft(parts: Parts, unit: float) -> dict[str, Any]:
    cert = parts.cert
    g = cert.gamma.lower
    ratio = {k: (g / e if e > 0 else math.inf) for k, e in cert.eps_quantiles.items() if k in ("q0.5", "q0.9", "q1")}
    return {
        "read": "pair_separation",
        "why": "pair_separation (n-shot, every orbit at q1) stays informative where γ_F = 0 (C > d + 1 for linear "
        "probes) and far from ideal; the share of two-orbit tasks certified for few-shot learning. Which score "
        "ranks encoders best is not measured (S10.5)",
        "pair_separation": parts.pair_scores.get("q1"),
        "pair_separation_by_quantile": parts.pair_scores or None,
        "margin_radius_ratio": ratio,
        "certified_mass": {"nshot": cert.certified_mass, "population": cert.certified_mass_population},
        "statement": "S10.5: label-free scores for encoders far from ideal",
    }


def _figures(parts: Parts, orb: Orbits, unit: float, mode: str) -> dict[str, Any]:
    cert = parts.cert
    g = cert.gamma.lower
    in_core, in_pop = parts.frac_points
    C = orb.n_orbits
    over = "points" if parts.path == "points" else "orbit radii"
    mlp = not get_family(cert.probe).linear
    return {
        "mode": mode,
        "path": parts.path,
        "why_path": parts.why,
        "statement": ST,
        "units": "units of Z" if get_family(cert.probe).bias else "unit directions z/‖z‖",
        "codes": "mass-weighted orbit means" if parts.path == "points" else "the checker's code points",
        "gamma": _gamma(cert, unit),
        "eps": {
            "max": cert.eps_max * unit,
            "quantiles": {k: v * unit for k, v in cert.eps_quantiles.items()},
            "over": over,
            "radii_first_orbits": [float(v) * unit for v in parts.radii[:RADII_SHOWN]],
            "statement": "S10.2: deviations ‖z_x − μ_M(x)‖ from the orbit codes; radius ε = the largest",
        },
        "delta": {
            "max": cert.delta_max * unit,
            "bounded_by_2eps": parts.diam_bounded,
            "statement": "S10.3(a): the largest orbit diameter δ (≤ 2ε)",
        },
        "eps_over_gamma": cert.eps_max / g if g > 0 else math.inf,
        "threshold": {
            "eps_over_gamma_below": 0.5 if mlp else 1.0 / 3.0,
            "premise": "δ + 2ε < 2γ" if mlp else "δ + ε < γ",
            "statement": "S10.3(b)",
        },
        "population": {
            "holds": cert.population,
            "margin_at_least": (g - cert.eps_max) * unit if cert.population else None,
            "statement": "S10.2(i): ε < γ ⇒ every invariant task fitted on every point with margin ≥ γ − ε",
        },
        "nshot": {
            "holds": cert.nshot,
            "radius": None if cert.radius is None else cert.radius * unit,
            "statement": "S10.3(b): δ + ε < γ ⇒ n-shot risk ≤ W_n for every invariant task; S10.4 on the core "
            "of radius 'radius' otherwise",
        },
        "certified_fraction": {
            "points": in_core,
            "mass": cert.certified_mass,
            "orbits": float(np.mean(cert.core_mass >= cert.orbit_mass * (1 - 1e-12))) if C else 1.0,
            "population_points": in_pop,
            "population_mass": cert.certified_mass_population,
            "statement": "S10.4: the core {dev ≤ radius} on which the n-shot bound holds (population: S10.2(i))",
        },
        "bound": _bound(cert),
        "soft_scores": _soft(parts, unit),
    }


def _dependency_orbits(codes: np.ndarray, probe: str, cert: cf.Certificate, top: int) -> list[int]:
    """The orbits on the binding dependency: the smaller side of the exact binding labelling; with C − 1 > d the
    support of a Radon dependency among the first d + 2 codes (S1.3; not separable with or without bias); else
    those loading most on the last left singular vector of the (centred, with bias) codes."""
    lab = cert.gamma.labelling
    C, d = codes.shape
    if lab is not None and cert.gamma.exact:
        side = np.flatnonzero(lab == 1) if lab.sum() <= len(lab) / 2 else np.flatnonzero(lab == 0)
        return [int(m) for m in side[:top]]
    if C - 1 > d:
        dep = find_dependency(codes[: d + 2], d, affine=True)
        lam = np.zeros(d + 2) if dep is None else dep.lam
        return [int(m) for m in np.argsort(-np.abs(lam), kind="stable")[:top] if lam[m] != 0]
    M = codes - codes.mean(axis=0) if get_family(probe).bias else codes
    u = np.linalg.svd(M, full_matrices=False)[0][:, -1]
    return [int(m) for m in np.argsort(-np.abs(u), kind="stable")[:top]]


def _reasons(parts: Parts, probe: str, d: int, unit: float) -> list[dict[str, Any]]:
    """Every orbit that breaks the certificate, with its reason and a severity (larger is worse)."""
    cert, eps, diam, table = parts.cert, parts.radii, parts.diam, parts.pairs
    g = cert.gamma.lower
    k = 2.0 if not get_family(probe).linear else 3.0  # the radius S10.3(b) allows is γ/k
    out: dict[int, dict[str, Any]] = {}
    for m in np.flatnonzero(~np.isfinite(eps)).tolist():
        out[m] = {"orbit": m, "reason": "zero code", "severity": math.inf, "eps": None}
    if table is not None:
        for m in range(len(eps)):
            p, gp = int(table.nearest[m]), float(table.nearest_margin[m])
            if m in out or p < 0 or table.orbit_ok[m] or not k * eps[m] < gp:
                continue
            # the pair's premise (S10.3 on two orbits): δ + ε < γ_mm', mlp δ + 2ε < 2γ_mm'
            lhs, rhs = max(diam[m], diam[p]) + (k - 2.0) * max(eps[m], eps[p]), (k - 1.0) * gp
            if not lhs < rhs:  # the pair alone fails, though this orbit is compact for it: its neighbour is near
                out[m] = {
                    "orbit": m,
                    "reason": "too close to another code",
                    "severity": lhs / rhs if rhs > 0 else math.inf,
                    "eps": eps[m] * unit,
                    "partner": p,
                    "pair_margin": gp * unit,
                }
    if g > 0:
        for m in np.flatnonzero(np.isfinite(eps) & (eps >= g / k)).tolist():
            if m not in out and not cert.nshot:
                out[m] = {
                    "orbit": m,
                    "reason": "too spread",
                    "severity": float(eps[m] * k / g),
                    "eps": float(eps[m]) * unit,
                    "allowed": g / k * unit,
                }
    if get_family(probe).linear and not cert.nshot:
        pair_min = float(table.nearest_margin.min()) if table is not None else math.inf
        if len(eps) - 1 > d or not out:  # γ = 0 by Radon, or nothing else explains the failure
            sev = pair_min / cert.gamma.upper if cert.gamma.upper > 0 else math.inf
            for m in _dependency_orbits(parts.codes, probe, cert, TOP):
                out.setdefault(m, {"orbit": m, "reason": "on a dependency", "severity": sev, "eps": eps[m] * unit})
    return sorted(out.values(), key=lambda r: (-r["severity"], r["orbit"]))


def diagnosis(parts: Parts, probe: str, d: int, unit: float = 1.0) -> dict[str, Any]:
    """The orbits that break the certificate, worst first (at most :data:`TOP`, with the count of all):

    * ``zero code`` (``linear-nobias``): a zero point or code has no direction; no homogeneous probe decides it;
    * ``too close to another code``: the two-orbit problem with its nearest code (``partner``) fails S10.3's
      premise although the orbit's own radius is below a third (``mlp``: half) of that pair's margin;
    * ``too spread``: ε_m ≥ γ/3 (``mlp``: γ/2), the radius S10.3(b) allows at the codes' margin γ;
    * ``on a dependency`` (linear families), when C − 1 > d (γ = 0) or when no orbit is singled out above, so that
      γ itself, set by several codes together, is what is too small: the smaller side of the binding labelling, or
      the orbits loading most on the last singular direction of the codes."""
    rows = _reasons(parts, probe, d, unit)
    note = None
    if get_family(probe).linear and parts.cert.gamma.lower == 0 and len(parts.radii) - 1 > d:
        note = f"C − 1 = {len(parts.radii) - 1} > d = {d}: γ = 0, some labelling of the codes is not separable (S1.3)"
    return {
        "breaking": rows[:TOP],
        "n_breaking": len(rows),
        "shown": min(TOP, len(rows)),
        "pairs_computed": parts.pairs is not None,
        "note": note,
        "statement": "S10.3(b), S10.5: which orbits keep the premise δ + ε < γ from holding, and why",
    }


def _g(x: Any) -> str:
    return "inf" if x is None or (isinstance(x, float) and math.isinf(x)) else f"{x:.3g}"


def summary_line(blk: dict[str, Any]) -> str:
    """``certified: every invariant task, n-shot error ≤ X at n = …`` or ``no certificate: ε/γ = …, the worst
    orbits are …`` (the block's ``line``)."""
    b = blk["bound"]
    errs = dict(zip(b["n"], b["error"]))
    if errs[b["n"][-1]] < 1.0 or b["n_below_target"] is not None:
        shown = [n for n in (1, 10) if errs[n] < 1.0]
        parts = [f"≤ {_g(errs[n])} at n = {n}" for n in shown]
        if b["n_below_target"] is not None:
            parts.append(f"≤ {b['target']:g} at n = {b['n_below_target']}")
        mass = blk["certified_fraction"]["mass"]
        core = "" if mass >= 1.0 - 1e-12 else f" (on the core: {mass:.3g} of the mass)"
        return f"certified: every invariant task, n-shot error {', '.join(parts)}{core}"
    worst = [
        f"{r['orbit']} ({r['reason']}" + (f" {r['partner']}" if "partner" in r else "") + ")"
        for r in blk["orbits"]["breaking"][:TOP_LINE]
    ]
    ratio = blk["eps_over_gamma"]
    need = "1/2" if blk["threshold"]["eps_over_gamma_below"] == 0.5 else "1/3"
    return (
        f"no certificate: ε/γ = {_g(ratio)} (S10.3 needs < {need}), the worst orbits are "
        + (", ".join(worst) if worst else "none singled out")
        + (f" (of {blk['orbits']['n_breaking']})" if blk["orbits"]["n_breaking"] > TOP_LINE else "")
    )


def format_certified(blk: dict[str, Any]) -> list[str]:
    """Lines of the readable report for the ``certified`` block."""
    g, e, b, f = blk["gamma"], blk["eps"], blk["bound"], blk["certified_fraction"]
    kind = "exact" if g["exact"] else "bound"
    q = ", ".join(f"{k} {_g(v)}" for k, v in e["quantiles"].items())
    lines = [
        "",
        f"certified block ({ST}; {blk['path']} path, {blk['units']}):",
        f"  γ ({kind}) ∈ [{_g(g['lower'])}, {_g(g['upper'])}]; ε max {_g(e['max'])} (over {e['over']}: {q}); "
        f"ε/γ = {_g(blk['eps_over_gamma'])} (needs < {blk['threshold']['eps_over_gamma_below']:.3g})",
        f"  certified: {f['points']:.3g} of the points, {f['orbits']:.3g} of the orbits (n-shot core); "
        f"every point fitted by one probe per task: {'yes' if blk['population']['holds'] else 'no'}",
        "  n-shot error ≤ "
        + ", ".join(f"{_g(v)} (n={n})" for n, v in zip(b["n"], b["error"]))
        + (f"; ≤ {b['target']:g} from n = {b['n_below_target']}" if b["n_below_target"] else f"; {b['why_null']}"),
    ]
    ps = blk["soft_scores"].get("pair_separation")
    if ps:
        lines.append(f"  soft score (read this one far from ideal): pair_separation {ps['pairs']:.3g} of orbit pairs")
    o = blk["orbits"]
    for r in o["breaking"][:TOP_LINE]:
        extra = f" to {r['partner']} (pair margin {_g(r['pair_margin'])})" if "partner" in r else ""
        lines.append(f"  orbit {r['orbit']}: {r['reason']}{extra}, ε = {_g(r['eps'])}")
    if o["n_breaking"] > TOP_LINE:
        lines.append(f"  ... {o['n_breaking'] - TOP_LINE} more orbits break it (--json lists {o['shown']})")
    if o.get("note"):
        lines.append(f"  {o['note']}")
    return lines
