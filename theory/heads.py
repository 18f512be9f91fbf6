"""S6 of theory/statements.md: CISSL's population loss and the asymmetric-head argument.

Establishes:

* S6.1  Jensen step: for a teacher g with ‖g‖ ≤ 1, replacing g on an orbit by its orbit mean
        never increases the population CISSL loss, because (e^a + e^b)/2 − e^{(a+b)/2} =
        (e^{a/2} − e^{b/2})²/2 ≥ 0 (log-sum-exp of a linear function is convex); with an
        orbit-constant teacher w_m the infinite-negative CISSL loss
        −w_mᵀz + log((1/C) Σ_{m'} exp(w_{m'}ᵀz)) equals the ideal log-loss term minus log C, so
        CISSL's population minimum is L*(C) − log C and its minimisers are those of L_I;
* S6.2  symmetric (SimCLR-style) head: with 1-D distinct codes 0, 1, 2, 3 and g a lookup table onto
        the regular simplex, the logits g(z̃)ᵀg(z) reproduce the simplex Gram matrix and the loss is
        exactly L*(4), although 1-D codes are not affinely independent (not ideal for linear probes);
* S6.3  asymmetric (CISSL) head: the logits g(z̃)ᵀφ(x) with unit-norm 1-D codes φ(x) ∈ {±1} have
        exact minimum −1 + log(2e^{−1} + 2e) > L*(4) (enumeration with exact arithmetic), so the
        asymmetric objective cannot reach the optimum when d < C − 1 (general d: S4.3).

Run ``python -m theory.heads`` to print these claims.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._report import report
from .simplex import L_star, simplex_gram


def _ce_mean(G):
    """mean_m −log softmax(G[m, :])_m for a C × C logit matrix (sympy)."""
    Cv = G.shape[0]
    return sum(sp.log(sum(sp.exp(G[m, k]) for k in range(Cv))) - G[m, m] for m in range(Cv)) / Cv


SYMMETRIC_CLAIM = "S6.2 symmetric head, 1-D codes {0,1,2,3}, g = lookup onto the simplex: loss = L*(4) exactly"


def symmetric_head_claim(Cv: int = 4) -> dict[str, object]:
    """S6.2's value, against the module's L_star (a test injects a wrong L* to see it fail)."""
    G = simplex_gram(Cv)  # g(code_m)^T g(code_m') for a lookup g onto the unit simplex
    return {SYMMETRIC_CLAIM: sp.simplify(sp.exp(sp.expand(_ce_mean(G) - L_star(Cv, 1)))) == 1}


def derive() -> dict[str, object]:
    out: dict[str, object] = {}
    a, b = sp.symbols("a b", real=True)
    gap = (sp.exp(a) + sp.exp(b)) / 2 - sp.exp((a + b) / 2)
    out[
        "S6.1 (e^a + e^b)/2 - e^((a+b)/2) = (e^(a/2) - e^(b/2))^2 / 2 >= 0: orbit-averaging the teacher lowers the "
        "CISSL loss"
    ] = sp.simplify(sp.expand(gap - (sp.exp(a / 2) - sp.exp(b / 2)) ** 2 / 2)) == 0
    Cv = 4
    s = sp.symbols(f"s0:{Cv}", real=True)  # s_k = w_k^T z for an anchor of orbit 0
    cissl = -s[0] + sp.log(sum(sp.exp(x) for x in s) / Cv)
    ideal = -sp.log(sp.exp(s[0]) / sum(sp.exp(x) for x in s))
    out["S6.1 infinite-negative CISSL term = ideal log-loss term - log C (C = 4, symbolic logits)"] = (
        sp.simplify(sp.expand_log(cissl - (ideal - sp.log(Cv)), force=True)) == 0
    )
    # ---- S6.2 symmetric head on 1-D codes reaches L*(4)
    out.update(symmetric_head_claim(Cv))
    codes_1d = sp.Matrix([0, 1, 2, 3])
    centred = codes_1d - sp.ones(Cv, 1) * (sum(codes_1d) / Cv)
    out["S6.2 ... while those codes have affine rank 1 < C - 1 = 3 (not ideal for linear probes)"] = centred.rank() == 1
    # ---- S6.3 asymmetric head with unit-norm 1-D codes
    best = None
    for zs in itertools.product((-1, 1), repeat=Cv):
        for ws in itertools.product((-1, 1), repeat=Cv):
            Gm = sp.Matrix(Cv, Cv, lambda m, k, ws=ws, zs=zs: ws[k] * zs[m])
            v = _ce_mean(Gm)
            num = sp.N(v, 40)
            if best is None or num < best[0]:
                best = (num, v)
    target = -1 + sp.log(2 * sp.exp(-1) + 2 * sp.E)
    out["S6.3 asymmetric head, unit-norm 1-D codes, C = 4: exact minimum = -1 + log(2/e + 2e)"] = (
        sp.simplify(best[1] - target) == 0 or abs(best[0] - sp.N(target, 40)) < 1e-30
    )
    out["S6.3 ... = 0.8201 > L*(4) = 0.5827: the asymmetric objective cannot reach the optimum with d < C - 1"] = bool(
        best[0] > sp.N(L_star(Cv, 1), 40)
    )
    return out


def main() -> int:
    return report("S6: CISSL population loss, symmetric vs asymmetric heads", derive())


if __name__ == "__main__":
    raise SystemExit(main())
