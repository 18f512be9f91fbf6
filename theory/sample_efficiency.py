"""S1.5 and S3 of theory/statements.md: Cover's count, the worst-case ERM risk W_n, coarsening.

Establishes:

* S1.5  Cover's function count 2 Σ_{k=0}^{d} binom(C−1, k) equals 2^C for d = C − 1 (general C,
        by symbolic summation) and is smaller for every d < C − 1 (C ≤ 10 tabulated), so
        C points in general position are affinely shattered iff d ≥ C − 1;
* S3.1  for an ideal encoder, E_{D ~ p^n}[mass of the orbits not in D] = Σ_m p_m (1 − p_m)^n,
        by summing over every sample D with symbolic masses (C = 3, n = 1..4), and it equals
        (1 − 1/C)^n for equiprobable orbits (general C, n);
* S3.2  coarsening: merging two orbits of masses p, q never increases W_n:
        p(1−p)^n + q(1−q)^n − (p+q)(1−p−q)^n is a polynomial with non-negative coefficients in
        a = 1 − p − q, p, q (n = 1..8), positive when p, q > 0; and (1 − 1/C)^n increases with C.

Run ``python -m theory.sample_efficiency`` to print these claims.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._report import report


def cover_count(Cv: int, d: int) -> int:
    """Number of affinely separable binary labellings of Cv points in general position in R^d."""
    return 2 * sum(sp.binomial(Cv - 1, k) for k in range(0, min(d, Cv - 1) + 1))


COVER_CLAIM = "S1.5 Cover count < 2^C for every d < C-1 (C = 2..10): dimension C-1 is necessary"


def cover_necessity_claim() -> dict[str, object]:
    """S1.5 with the module's cover_count (a test injects an off-by-one count to see it fail)."""
    ok = all(cover_count(Cv, d) < 2**Cv for Cv in range(2, 11) for d in range(1, Cv - 1)) and all(
        cover_count(Cv, Cv - 1) == 2**Cv for Cv in range(2, 11)
    )
    return {COVER_CLAIM: bool(ok)}


def derive() -> dict[str, object]:
    out: dict[str, object] = {}
    C, k, n = sp.symbols("C k n", positive=True, integer=True)
    full = sp.simplify(2 * sp.summation(sp.binomial(C - 1, k), (k, 0, C - 1)))
    out["S1.5 Cover count at d = C-1: 2 sum_k binom(C-1, k) = 2^C (general C)"] = sp.simplify(full - 2**C) == 0
    out.update(cover_necessity_claim())
    out["S1.5 Cover counts (C,d) = (5,1),(5,2),(5,3),(5,4),(7,3),(8,7)"] = [
        int(cover_count(*cd)) for cd in ((5, 1), (5, 2), (5, 3), (5, 4), (7, 3), (8, 7))
    ]
    # ---- S3.1 W_n by enumeration of samples, symbolic masses
    p1, p2 = sp.symbols("p1 p2", positive=True)
    p = [p1, p2, 1 - p1 - p2]
    ok = True
    for nv in range(1, 5):
        total = sp.Integer(0)
        for D in itertools.product(range(3), repeat=nv):
            prob = sp.Mul(*[p[i] for i in D])
            unseen = sum((p[m] for m in range(3) if m not in D), sp.Integer(0))
            total += prob * unseen
        ok &= sp.expand(total - sum(p[m] * (1 - p[m]) ** nv for m in range(3))) == 0
    out["S3.1 E_D[unseen mass] = sum_m p_m (1-p_m)^n by enumeration of all samples (C = 3, n = 1..4, symbolic p)"] = (
        bool(ok)
    )
    Wu = C * (1 / C) * (1 - 1 / C) ** n
    out["S3.1 equiprobable orbits: W_n = (1 - 1/C)^n (general C, n)"] = sp.simplify(Wu - (1 - 1 / C) ** n) == 0
    # ---- S3.2 coarsening
    a, q = sp.symbols("a q", nonnegative=True)
    pp = sp.symbols("p", nonnegative=True)
    ok = True
    for nv in range(1, 9):
        Dn = sp.expand(pp * (a + q) ** nv + q * (a + pp) ** nv - (pp + q) * a**nv)
        coeffs = sp.Poly(Dn, a, pp, q).coeffs()
        ok &= all(c >= 0 for c in coeffs) and len(coeffs) > 0
    out[
        "S3.2 merging orbits p, q: p(1-p)^n + q(1-q)^n - (p+q)(1-p-q)^n has non-negative coefficients in (1-p-q, p, "
        "q), n = 1..8"
    ] = bool(ok)
    Cr = sp.symbols("C", positive=True)
    dlog = sp.simplify(sp.diff(n * sp.log(1 - 1 / Cr), Cr))
    out["S3.2 d/dC [n log(1 - 1/C)] = n/(C(C-1)) > 0: fewer (coarser) equiprobable orbits give smaller W_n"] = (
        sp.simplify(dlog - n / (Cr * (Cr - 1))) == 0
    )
    return out


def main() -> int:
    return report("S1.5/S3: Cover count, worst-case ERM risk, coarsening", derive())


if __name__ == "__main__":
    raise SystemExit(main())
