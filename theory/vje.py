"""S8 of theory/statements.md: the pieces of the VJE bound (Oji & Fieguth, TMLR 2026).

The VJE paper's equations were not available; the loss below follows the reconstruction documented
in theory/objectives.md (VJE section, marked RECON there) and implemented in idealssl/objectives/vje.py. What is
derived here is mathematics that holds for that reconstruction; whether the paper uses exactly these forms is not known.

Establishes:

* S8.1  KL(N(μ, s²) ‖ N(0, 1)) = ½ (s² + μ² − 1 − log s²) by symbolic integration (one coordinate;
        the diagonal KL is the sum over coordinates);
* S8.2  the Student-t normaliser: ∫_{R^D} (1 + ‖x‖²/ν)^{−(ν+D)/2} dx = (νπ)^{D/2} Γ(ν/2)/Γ((ν+D)/2)
        (symbolic integration for D = 1 at ν = 1, 2, 3, 5, and through the radial integral for
        (D, ν) = (2, 1), (2, 3), (3, 2), (3, 5)), so with per-coordinate scales s
        the log density is log Γ((ν+D)/2) − log Γ(ν/2) − (D/2) log(νπ) − ½ Σ log s_j²
        − ((ν+D)/2) log(1 + δ²/ν), δ² = Σ (y_j − m_j)²/s_j²;
* S8.3  polar change of variables: the Jacobian of y = r u(θ) is r^{D−1} × (angular factor)
        (D = 2: r; D = 3: r² sin θ), so p(y) = p(r, u) r^{−(D−1)}, a term free of model parameters;
* S8.4  with the posterior variances shared with the likelihood scale, the −½ Σ log s_j² of the
        likelihood and the +½ Σ log s_j² of −KL cancel: the ELBO equals
        c − ((ν+D)/2) log(1 + δ²/ν) − ½ Σ (s_j² + μ_j² − 1), with no log s term (D = 3, symbolic), and
        it tends to −∞ both as s → 0 (at a residual ≠ 0) and as s → ∞: the scale is anchored;
* S8.5  the Student-t weight d/dδ² [((ν+D)/2) log(1 + δ²/ν)] = (ν+D)/(2(ν+δ²)), and
        (ν+D)/(2ν) minus it equals (ν+D)δ²/(2ν(ν+δ²)) ≥ 0: bounded, decaying like 1/δ².

Run ``python -m theory.vje`` to print these claims.
"""

from __future__ import annotations

import sympy as sp

from ._report import report


def student_t_log_normaliser(nu, D):
    """c(ν, D) = log Γ((ν+D)/2) − log Γ(ν/2) − (D/2) log(νπ)."""
    D = sp.sympify(D)
    return sp.loggamma((nu + D) / 2) - sp.loggamma(nu / 2) - D / 2 * sp.log(nu * sp.pi)


MU, S = sp.symbols("mu", real=True), sp.symbols("s", positive=True)


def gaussian_kl_by_integration():
    """KL(N(μ, s²) ‖ N(0, 1)) as the sympy integral ∫ q log(q/p) dz, in the symbols ``MU``, ``S``."""
    z = sp.symbols("z", real=True)
    mu, s = MU, S
    q = sp.exp(-((z - mu) ** 2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    logq = -((z - mu) ** 2) / (2 * s**2) - sp.log(2 * sp.pi * s**2) / 2
    logp = -(z**2) / 2 - sp.log(2 * sp.pi) / 2
    return sp.simplify(sp.integrate(q * sp.expand(logq - logp), (z, -sp.oo, sp.oo)))


def derive() -> dict[str, object]:
    out: dict[str, object] = {}
    mu, s = MU, S
    kl = gaussian_kl_by_integration()
    out["S8.1 KL(N(mu, s^2) || N(0,1)) = (s^2 + mu^2 - 1 - log s^2)/2 (symbolic integral)"] = (
        sp.simplify(sp.expand_log(kl - (s**2 + mu**2 - 1 - sp.log(s**2)) / 2, force=True)) == 0
    )
    # ---- S8.2 Student-t normaliser
    x = sp.symbols("x", real=True)
    ok = True
    for nv in (1, 2, 3, 5):
        nu = sp.Integer(nv)
        I = sp.integrate((1 + x**2 / nu) ** (-(nu + 1) / 2), (x, -sp.oo, sp.oo))
        ok &= sp.simplify(I - sp.sqrt(nu * sp.pi) * sp.gamma(nu / 2) / sp.gamma((nu + 1) / 2)) == 0
    out["S8.2 D = 1: int (1 + x^2/nu)^(-(nu+1)/2) dx = sqrt(nu pi) Gamma(nu/2)/Gamma((nu+1)/2) (nu = 1, 2, 3, 5)"] = (
        bool(ok)
    )
    r = sp.symbols("r", positive=True)
    ok = True
    for D, nv in ((2, 1), (2, 3), (3, 2), (3, 5)):
        nu = sp.Integer(nv)
        area = 2 * sp.pi ** sp.Rational(D, 2) / sp.gamma(sp.Rational(D, 2))
        I = area * sp.integrate(r ** (D - 1) * (1 + r**2 / nu) ** (-(nu + D) / 2), (r, 0, sp.oo))
        target = (nu * sp.pi) ** sp.Rational(D, 2) * sp.gamma(nu / 2) / sp.gamma((nu + D) / 2)
        ok &= sp.simplify(I - target) == 0
    out[
        "S8.2 D-dim normaliser via the radial integral: (nu pi)^(D/2) Gamma(nu/2)/Gamma((nu+D)/2) ((D,nu) = "
        "(2,1),(2,3),(3,2),(3,5))"
    ] = bool(ok)
    # ---- S8.3 polar Jacobians
    th, ph = sp.symbols("theta phi", real=True)
    J2 = sp.Matrix([r * sp.cos(th), r * sp.sin(th)]).jacobian([r, th]).det()
    J3 = (
        sp.Matrix([r * sp.sin(th) * sp.cos(ph), r * sp.sin(th) * sp.sin(ph), r * sp.cos(th)])
        .jacobian([r, th, ph])
        .det()
    )
    out["S8.3 polar Jacobian D = 2: r;  D = 3: r^2 sin(theta)  => dy = r^(D-1) dr dsigma(u)"] = (
        sp.simplify(J2 - r) == 0 and sp.simplify(J3 - r**2 * sp.sin(th)) == 0
    )
    # ---- S8.4 cancellation of log-variance terms (D = 3)
    D = 3
    nu = sp.symbols("nu", positive=True)
    sj = sp.symbols("s0:3", positive=True)
    mj = sp.symbols("m0:3", real=True)
    uj = sp.symbols("u0:3", real=True)
    muj = sp.symbols("mu0:3", real=True)
    delta2 = sum((uj[j] - mj[j]) ** 2 / sj[j] ** 2 for j in range(D))
    c = student_t_log_normaliser(nu, D)
    loglik = c - sum(sp.log(sj[j] ** 2) for j in range(D)) / 2 - (nu + D) / 2 * sp.log(1 + delta2 / nu)
    KLd = sum((sj[j] ** 2 + muj[j] ** 2 - 1 - sp.log(sj[j] ** 2)) / 2 for j in range(D))
    elbo = loglik - KLd
    reduced = c - (nu + D) / 2 * sp.log(1 + delta2 / nu) - sum(sj[j] ** 2 + muj[j] ** 2 - 1 for j in range(D)) / 2
    out[
        "S8.4 shared scale: ELBO = c - ((nu+D)/2) log(1 + delta^2/nu) - (1/2) sum (s_j^2 + mu_j^2 - 1): the log s_j "
        "terms cancel (D = 3)"
    ] = sp.simplify(sp.expand_log(elbo - reduced, force=True)) == 0
    s1, d1 = sp.symbols("s d", positive=True)
    e1 = -(nu + 1) / 2 * sp.log(1 + d1**2 / (nu * s1**2)) - s1**2 / 2
    out["S8.4 anchoring (D = 1, residual d > 0): ELBO -> -oo as s -> 0+ and as s -> oo"] = (
        sp.limit(e1, s1, 0, "+") == -sp.oo and sp.limit(e1, s1, sp.oo) == -sp.oo
    )
    out.update(student_t_weight_claim())
    return out


WEIGHT_CLAIM = "S8.5 Student-t weight d/d(delta^2) = (nu+D)/(2(nu+delta^2)), bounded by (nu+D)/(2 nu)"


def student_t_weight(nu, D, delta2):
    """The closed form S8.5 states for d/dδ² [((ν+D)/2) log(1 + δ²/ν)]."""
    return (nu + D) / (2 * (nu + delta2))


def student_t_weight_claim() -> dict[str, object]:
    """S8.5 against the module's closed form (a test injects a wrong one to see it fail)."""
    nu = sp.symbols("nu", positive=True)
    dd = sp.symbols("delta2", nonnegative=True)
    Dn = sp.symbols("D", positive=True)
    g = sp.diff((nu + Dn) / 2 * sp.log(1 + dd / nu), dd)
    w = student_t_weight(nu, Dn, dd)
    return {
        WEIGHT_CLAIM: bool(
            sp.simplify(g - w) == 0
            and sp.simplify((nu + Dn) / (2 * nu) - w - (nu + Dn) * dd / (2 * nu * (nu + dd))) == 0
        )
    }


def main() -> int:
    return report(
        "S8: VJE bound pieces (on the reconstruction in theory/objectives.md, not the paper's text)", derive()
    )


if __name__ == "__main__":
    raise SystemExit(main())
