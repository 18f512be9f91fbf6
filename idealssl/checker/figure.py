"""The check report's figure (PNG or any format matplotlib writes): ``idealssl check --plot`` and ``idealssl plot``.

:func:`check_figure` draws a report (:meth:`idealssl.checker.report.CheckReport.to_dict`, or a dict holding one):
the codes' singular values relative to the largest against the tolerance, each orbit's largest deviation
against the tolerance and, when the report has a ``certified`` block (theory/statements.md S10), each orbit's
radius ε_m against the codes' margin γ and the radius γ/3 (``mlp``: γ/2) that S10.3(b) allows, the orbits that
break the certificate marked. matplotlib is imported when the figure is drawn; nothing here imports torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..figfile import pyplot, save

__all__ = ["check_figure", "certified_points"]


def _report_body(report: Any, where: str) -> dict:
    """The CheckReport dict inside ``report`` (itself, or one nested level down, e.g. ``{"report": {...}}``)."""
    if isinstance(report, dict) and isinstance(report.get("conditions"), dict):
        return report
    if isinstance(report, dict):
        for v in report.values():
            if isinstance(v, dict) and isinstance(v.get("conditions"), dict):
                return v
    raise InputError(f"{where}: not a check report (no 'conditions'; write one with idealssl check --json)")


def _spectrum(rep: dict) -> tuple[str | None, list[float]]:
    for name, c in rep["conditions"].items():
        sv = (c.get("detail") or {}).get("singular_values_relative")
        if isinstance(sv, list) and sv:
            return name, [float(v) for v in sv]
    return None, []


def check_figure(report: Any, out: Path, where: str = "report") -> Path:
    """Spectrum vs tolerance and per-orbit deviations vs tolerance, from a check report dict."""
    rep = _report_body(report, where)
    tol = float(rep.get("tol") or 1e-4)
    C = int(rep.get("n_orbits") or 0)
    plt = pyplot()
    robust = isinstance(rep.get("certified"), dict)
    fig, axes = plt.subplots(1, 3 if robust else 2, figsize=(17.0 if robust else 11.5, 4.2))
    floor = tol / 100
    _spectrum_panel(axes[0], rep, tol, C, floor)
    _deviation_panel(axes[1], rep, tol, C, floor)
    if robust:
        _certified_panel(axes[2], rep)
    verdict = "IDEAL" if rep.get("ideal") else "NOT IDEAL"
    fig.suptitle(
        f"idealssl check, probe {rep.get('probe')}: {verdict} — N = {rep.get('n_points')}, C = {C}, "
        f"d = {rep.get('dim')}\n(red: fails the tolerance; grey: beyond the required rank; "
        "values below tol/100 drawn at tol/100)",
        fontsize=11,
    )
    fig.tight_layout()
    return save(fig, out)


def _spectrum_panel(a1: Any, rep: dict, tol: float, C: int, floor: float) -> None:
    """σ_k / σ_1 of the codes against the tolerance, the required rank C − 1 marked."""
    name, sv = _spectrum(rep)
    if sv:
        need = C - 1  # affine (linear) and linear (linear-nobias) rank: at least C - 1
        n_given = len(sv)
        if need > n_given:  # fewer dimensions than the rank needs: the missing values are 0
            sv = sv + [0.0] * (need - n_given)
        ks = list(range(1, len(sv) + 1))
        shown = [max(v, floor) for v in sv]
        # red: a required value (k <= C - 1) at or below the tolerance; grey: beyond the required rank
        colours = ["lightgrey" if k > need else ("C0" if v > tol else "C3") for k, v in zip(ks, sv)]
        a1.plot(ks, shown, lw=0.8, color="C0", alpha=0.5)
        a1.scatter(ks, shown, c=colours, s=18, zorder=3, edgecolors="k", linewidths=0.3)
        a1.axhline(tol, ls="--", color="grey", label=f"tolerance {tol:g}")
        if 1 <= need <= len(sv):
            a1.axvline(need, ls=":", color="C2", label=f"k = C − 1 = {need} (needed rank)")
        a1.set_yscale("log")
        a1.set_ylim(floor / 2, 2)
        a1.set_xlabel("k")
        a1.xaxis.get_major_locator().set_params(integer=True)
        a1.set_ylabel("σ_k / σ_1")
        missing = f"; k > {n_given}: 0 (only {n_given} values)" if len(sv) > n_given else ""
        a1.set_title(f"singular values of the codes ({name}{missing})", fontsize=10)
        a1.legend(fontsize=8)
    else:
        a1.text(
            0.5,
            0.5,
            f"no spectrum in this report (probe {rep.get('probe')})",
            ha="center",
            va="center",
            transform=a1.transAxes,
        )
        a1.set_title("singular values of the codes", fontsize=10)
    a1.grid(alpha=0.3, which="both")


def _deviation_panel(a2: Any, rep: dict, tol: float, C: int, floor: float) -> None:
    """Each orbit's largest deviation from its code (relative to the spread) against the tolerance."""
    inv = rep["conditions"].get("invariance") or {}
    devs = (inv.get("detail") or {}).get("max_deviation_relative_per_orbit")
    if isinstance(devs, list) and devs:
        ks = list(range(len(devs)))
        shown = [max(float(v), floor) for v in devs]
        a2.bar(ks, shown, color=["C0" if float(v) <= tol else "C3" for v in devs], width=0.8)
        a2.set_xlabel("orbit m" + (" (first 1000)" if C > len(devs) else ""))
        a2.set_ylim(floor / 2, max(max(shown), tol) * 5)
    elif inv:
        worst = (inv.get("detail") or {}).get("worst_orbit", 0)
        a2.bar([worst], [max(float(inv.get("value") or 0.0), floor)], color="C3" if not inv.get("holds") else "C0")
        a2.set_xlabel("orbit m (this report holds the worst orbit only)")
    a2.axhline(tol, ls="--", color="grey", label=f"tolerance {tol:g}")
    a2.set_yscale("log")
    a2.set_ylabel("max ‖z_x − z_first‖ / spread")
    a2.set_title("invariance: largest deviation within each orbit", fontsize=10)
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3, which="both")


def certified_points(rep: dict) -> tuple[list[int], list[float], list[bool], dict[str, float]]:
    """From a report's ``certified`` block: orbit indices, their radii ε_m (+inf for a zero point without bias),
    whether each breaks the certificate (listed in the block's diagnosis), and the horizontal lines: γ's lower end
    and the radius S10.3(b) allows, γ/3 (``mlp``: γ/2)."""
    blk = rep["certified"]
    radii = [math.inf if v is None else float(v) for v in blk["eps"]["radii_first_orbits"]]
    broken = {int(r["orbit"]) for r in blk["orbits"]["breaking"]}
    g = blk["gamma"]["lower"]
    k = 2 if blk["threshold"]["eps_over_gamma_below"] == 0.5 else 3
    lines = {} if g is None else {"γ (S10.2(i))": float(g), f"γ/{k} (S10.3(b))": float(g) / k}
    return list(range(len(radii))), radii, [m in broken for m in range(len(radii))], lines


def _certified_panel(ax: Any, rep: dict) -> None:
    """Each orbit's radius ε_m against γ and γ/3 (S10.3(b)); the orbits that break the certificate in red."""
    xs, ys, broken, lines = certified_points(rep)
    blk = rep["certified"]
    finite = [y for y in ys if math.isfinite(y) and y > 0]
    top = max(finite + list(lines.values()) + [1e-300])
    floor = min(finite + [v for v in lines.values() if v > 0] + [top]) / 10
    shown = [floor if not (math.isfinite(y) and y > 0) else y for y in ys]
    shown = [top * 3 if not math.isfinite(y) else v for y, v in zip(ys, shown)]
    ok = [i for i in xs if not broken[i]]
    bad = [i for i in xs if broken[i]]
    ax.scatter(ok, [shown[i] for i in ok], s=18, color="C0", edgecolors="k", linewidths=0.3, label="orbit radius ε_m")
    if bad:
        ax.scatter(
            [xs[i] for i in bad], [shown[i] for i in bad], s=30, marker="X", color="C3", label="breaks the certificate"
        )
    for (name, v), style in zip(lines.items(), ("-", "--")):
        if v > 0:
            ax.axhline(v, ls=style, color="grey" if style == "-" else "C2", label=name)
    ax.set_yscale("log")
    ax.set_ylim(floor / 2, top * 6)
    unit = blk.get("units", "units of Z")
    ax.set_xlabel("orbit m" + (" (first 1000)" if int(rep.get("n_orbits") or 0) > len(xs) else ""))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(f"ε_m = max ‖z_x − μ_m‖ ({unit})")
    ax.set_title(f"certified (S10): radii against the margin; ε/γ = {_short(blk.get('eps_over_gamma'))}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")


def _short(x: Any) -> str:
    return "inf" if x is None else f"{float(x):.3g}"
