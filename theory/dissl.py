"""S7 of theory/statements.md: the DISSL population objective and its determinism threshold.

Objective (code names; paper α = code β, paper β = code λ), two views x₁ ~ x₂ of one input::

    L(q, s) = E CE(q(·|x₁), s(·|x₂)) + β E CE(q(·|x₁), q(·|x₂)) − λ H(q̄),   q̄ = E q(·|x).

Establishes:

* S7.1  CE(p, s) = H(p) + KL(p‖s) (K = 3, symbolic), hence L ≥ (1+β) H(M̂|X) − λ H(M̂) with
        equality for an invariant teacher and a student equal to it;
* S7.2  F = (1+β) H(M̂|M) − λ H(M̂) = (1+β−λ) H(M̂|M) − λ I(M̂; M), with
        I = Σ_m (1/C) KL(q_m‖q̄) (C = 2, K = 3, symbolic): for λ ≤ 1+β, F ≥ −λ I ≥ −λ max I, and
        the maximum of the (channel-convex) mutual information is at a deterministic teacher;
* S7.3  spreading each orbit uniformly over k own categories gives F = (1+β−λ) log k − λ log C,
        decreasing in k iff λ > 1+β; splitting one orbit by ε onto a free category changes F by
        (1+β−λ) h(ε)/C, whose slope at ε = 0⁺ is −∞ when λ > 1+β (no deterministic teacher is
        optimal when K > C); the two lower bounds cross at H(M̂|M) = log(K/C), giving
        min F = (1+β) log(K/C) − λ log K.

Run ``python -m theory.dissl`` to print these claims.
"""

from __future__ import annotations

import sympy as sp

from ._report import report


def H(p):
    return -sum(pi * sp.log(pi) for pi in p)


def CE(p, s):
    return -sum(pi * sp.log(si) for pi, si in zip(p, s))


def KL(p, s):
    return sum(pi * (sp.log(pi) - sp.log(si)) for pi, si in zip(p, s))


def _simplex3(name):
    a, b = sp.symbols(f"{name}1 {name}2", positive=True)
    return [a, b, 1 - a - b]


CE_CLAIM = "S7.1 CE(p, s) = H(p) + KL(p||s) (K = 3, symbolic)"


def ce_decomposition_claim() -> dict[str, object]:
    """S7.1's first step, with the module's CE, H and KL (a test injects a wrong KL to see it fail)."""
    p, s = _simplex3("p"), _simplex3("s")
    return {CE_CLAIM: sp.simplify(sp.expand_log(CE(p, s) - H(p) - KL(p, s), force=True)) == 0}


def derive() -> dict[str, object]:
    out: dict[str, object] = {}
    lam, beta = sp.symbols("lambda beta", nonnegative=True)
    out.update(ce_decomposition_claim())
    # invariant teacher q_m for C = 2 orbits, K = 3 categories; student = teacher
    q1, q2 = _simplex3("a"), _simplex3("b")
    qbar = [(x + y) / 2 for x, y in zip(q1, q2)]
    L_inv = sp.Rational(1, 2) * (CE(q1, q1) + CE(q2, q2)) * (1 + beta) - lam * H(qbar)
    F = (1 + beta) * (H(q1) + H(q2)) / 2 - lam * H(qbar)
    out["S7.1 invariant teacher, student = teacher: L = (1+beta) H(M^|X) - lambda H(M^) (C = 2, K = 3)"] = (
        sp.simplify(L_inv - F) == 0
    )
    I = (KL(q1, qbar) + KL(q2, qbar)) / 2
    Hc = (H(q1) + H(q2)) / 2
    ident = sp.expand_log(H(qbar) - Hc - I, force=True)
    out["S7.2 H(M^) = H(M^|M) + I(M^;M) with I = mean_m KL(q_m || q-bar) (C = 2, K = 3)"] = sp.simplify(ident) == 0
    out["S7.2 F = (1+beta-lambda) H(M^|M) - lambda I(M^;M)"] = (
        sp.simplify(sp.expand_log(F - ((1 + beta - lam) * Hc - lam * I), force=True)) == 0
    )
    # ---- S7.3 spreading over k own categories (disjoint supports)
    k, Cs, K = sp.symbols("k C K", positive=True)
    Fk = (1 + beta) * sp.log(k) - lam * sp.log(Cs * k)
    out["S7.3 spread over k own categories: F = (1+beta-lambda) log k - lambda log C"] = (
        sp.simplify(sp.expand_log(Fk - ((1 + beta - lam) * sp.log(k) - lam * sp.log(Cs)), force=True)) == 0
    )
    dF = sp.simplify(sp.diff(Fk, k) * k)
    out["S7.3 k dF/dk = 1 + beta - lambda: spreading lowers F iff lambda > 1 + beta"] = (
        sp.simplify(dF - (1 + beta - lam)) == 0
    )
    eps = sp.symbols("epsilon", positive=True)
    h = -eps * sp.log(eps) - (1 - eps) * sp.log(1 - eps)
    dh0 = sp.limit(sp.diff(h, eps), eps, 0, "+")
    out[
        "S7.3 binary entropy slope h'(0+) = +oo, so an epsilon-split pays (1+beta-lambda) h(eps)/C < 0 for small eps "
        "iff lambda > 1+beta"
    ] = dh0 == sp.oo
    hh = sp.symbols("h", nonnegative=True)
    sol = sp.solve(sp.Eq((1 + beta - lam) * hh - lam * sp.log(Cs), (1 + beta) * hh - lam * sp.log(K)), hh)
    cross_ok = len(sol) == 1 and sp.simplify(sp.expand_log(sol[0] - sp.log(K / Cs), force=True)) == 0
    val = sp.simplify((1 + beta) * sp.log(K / Cs) - lam * sp.log(K))
    val_at = sp.simplify(sp.expand_log(((1 + beta) * hh - lam * sp.log(K)).subs(hh, sp.log(K / Cs)) - val, force=True))
    out[
        "S7.3 lower bounds (1+beta-lambda)h - lambda log C and (1+beta)h - lambda log K cross at h = log(K/C): min F "
        ">= (1+beta) log(K/C) - lambda log K"
    ] = bool(cross_ok and val_at == 0)
    Fspread = (1 + beta - lam) * sp.log(K / Cs) - lam * sp.log(Cs)
    out["S7.3 the uniform spread with k = K/C attains that bound"] = (
        sp.simplify(sp.expand_log(Fspread - val, force=True)) == 0
    )
    return out


def main() -> int:
    return report("S7: DISSL population objective, determinism threshold", derive())


if __name__ == "__main__":
    raise SystemExit(main())
