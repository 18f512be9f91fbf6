"""S10 of theory/statements.md: robust Theorem 1 and the certified few-shot bound.

Establishes (symbolically unless a size is named; no idealssl import, so the checks are independent of the
code they test, ``idealssl/checker/certified.py``):

* S10.1  the cheap affine bound's constant: ‖y − ȳ1‖² = C(1 − ȳ²) ≤ C for y ∈ {±1}^C;
         the regular simplex (unit vertices): the labelling S (|S| = k) vs Sᶜ has margin
         γ(k) = C / (2 √(k (C − k)(C − 1))), smallest at k = ⌊C/2⌋, so γ = 1/√(C − 1) for even C (equal to the
         cheap bound σ_(C−1)/√C) and C/((C − 1)√(C + 1)) for odd C (1, 3/4, 1/√3 for C = 2, 3, 4);
         without bias γ_0(k) = √(k/((C − k)(C − 1))) for k ≤ C/2, smallest at k = 1: γ_0 = 1/(C − 1), equal to
         the dependency bound σ_(C−1) α_min / √(A (A − α_min)) at α = 1;
* S10.2  robust realisation: one-vs-rest unit probes with margin ≥ γ − ε on every point give a multiclass
         margin ≥ γ − ε (2(γ − ε)/‖w_c − w_k‖ with ‖w_c − w_k‖ ≤ 2); the converse fails: codes (±1, 0) with
         points (±1, ±R) have ε = R, yet every labelling keeps margin γ = 1;
* S10.3  the constant 3 in ε < γ/3 is best possible: a 3-orbit family in the plane (``tight_family``) whose
         max-margin ERM errs on a seen orbit while ε/γ → 1/3 (exact limits as L → ∞); for 1-NN (``mlp``)
         the constant 2 in ε < γ/2 is best possible (two orbits on a line);
* S10.4  the core bound: (1 − q)^n [(1 − q) W + q] + 1 − (1 − q)^n = 1 − (1 − q)^(n+1) (1 − W) (general n);
         P(sample and test point all core, test orbit seen) = s^(n+1) (1 − W_n(a/s)) by enumerating every
         sample with symbolic masses (C = 2, n = 1..4; C = 3, n = 1..3); B(n) = 1 − s^(n+1) + Σ a_m (s − a_m)^n
         does not increase with any a_m (−∂B/∂a_j has non-negative coefficients, C = 2, 3, n = 1..6), so the
         largest certified core is the best; and the naive bound (1 − q) W_n(p̃) + q is false: the exact
         2-shot risk of the max-margin ERM on ``naive_counterexample`` exceeds it (and stays below B).

Run ``python -m theory.robust`` to print these claims.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ._report import report

C, k, n = sp.symbols("C k n", positive=True, integer=True)
ybar = sp.symbols("ybar", real=True)


# ---------------------------------------------------------------------------------------------- S10.1
def simplex_margin(Cv):
    """γ of the C unit vertices of the regular simplex for affine probes (S10.1), exact (sympy)."""
    Cv = sp.Integer(Cv)
    h = Cv // 2
    return sp.nsimplify(Cv / (2 * sp.sqrt(h * (Cv - h) * (Cv - 1))))


def simplex_margin_nobias(Cv):
    """γ_0 of the centred regular simplex for homogeneous probes (S10.1): 1/(C − 1)."""
    return sp.Integer(1) / (sp.Integer(Cv) - 1)


def _simplex_face_distance_sq():
    """‖c_S − c_Sᶜ‖² for centroids of k and C − k unit simplex vertices (Gram: 1 on the diagonal, g off it)."""
    g = -1 / (C - 1)
    aa = (k + k * (k - 1) * g) / k**2
    bb = ((C - k) + (C - k) * (C - k - 1) * g) / (C - k) ** 2
    ab = g  # every cross inner product is g; averaged over k(C − k) pairs
    return aa + bb - 2 * ab


SIMPLEX_CLAIM = "S10.1 simplex, |S| = k: margin^2 = C^2 / (4 k (C-k)(C-1)) (general C, k)"


def simplex_claims() -> dict[str, object]:
    out: dict[str, object] = {}
    gamma_sq = _simplex_face_distance_sq() / 4
    out[SIMPLEX_CLAIM] = sp.simplify(gamma_sq - C**2 / (4 * k * (C - k) * (C - 1))) == 0
    kk = sp.symbols("kk", positive=True)
    prod = kk * (C - kk)
    out["S10.1 k(C-k) is maximal at k = C/2 (d/dk = C - 2k), so the binding labelling is balanced"] = (
        sp.simplify(sp.diff(prod, kk) - (C - 2 * kk)) == 0
    )
    even = sp.simplify((C / (2 * sp.sqrt((C / 2) * (C / 2) * (C - 1)))) - 1 / sp.sqrt(C - 1))
    sigma = sp.sqrt(C / (C - 1))  # every non-zero singular value of the unit simplex
    out["S10.1 even C: gamma = 1/sqrt(C-1) = sigma_(C-1)/sqrt(C) (the cheap bound is exact)"] = (
        even == 0 and sp.simplify(sigma / sp.sqrt(C) - 1 / sp.sqrt(C - 1)) == 0
    )
    out["S10.1 gamma for C = 2, 3, 4 is 1, 3/4, 1/sqrt(3)"] = [simplex_margin(c) for c in (2, 3, 4)] == [
        1,
        sp.Rational(3, 4),
        1 / sp.sqrt(3),
    ]
    # without bias: the nearest point of conv(v_S ∪ −v_Sᶜ) to 0 is min(1, k/(C−k)) c_S (symmetry)
    cs = sp.sqrt((C - k) / (k * (C - 1)))
    g0 = (k / (C - k)) * cs
    out["S10.1 nobias, k <= C/2: gamma_0(k)^2 = k/((C-k)(C-1)), increasing in k, so gamma_0 = 1/(C-1) at k = 1"] = (
        sp.simplify(g0**2 - k / ((C - k) * (C - 1))) == 0
        and sp.simplify(sp.diff(k / ((C - k) * (C - 1)), k) - C / ((C - k) ** 2 * (C - 1))) == 0
        and sp.simplify(g0.subs(k, 1) - 1 / (C - 1)) == 0
    )
    A, amin = C, 1  # α = 1 for the centred simplex
    dep = sigma * amin / sp.sqrt(A * (A - amin))
    out["S10.1 nobias: the dependency bound sigma_(C-1) a_min / sqrt(A(A - a_min)) equals 1/(C-1) at the simplex"] = (
        sp.simplify(dep - 1 / (C - 1)) == 0
    )
    out["S10.1 affine cheap bound: ||y - ybar 1||^2 = C (1 - ybar^2) <= C for y in {-1,1}^C"] = _cheap_constant()
    return out


def _cheap_constant() -> bool:
    """Σ (y_m − ȳ)² = Σ y_m² − C ȳ² = C(1 − ȳ²), checked symbolically and on every y for C ≤ 8."""
    sym = sp.simplify((C - 2 * ybar * (C * ybar) + C * ybar**2) - C * (1 - ybar**2)) == 0
    ok = True
    for Cv in range(2, 9):
        for y in itertools.product((-1, 1), repeat=Cv):
            yb = sp.Rational(sum(y), Cv)
            ok &= sum((sp.Integer(v) - yb) ** 2 for v in y) == Cv * (1 - yb**2) <= Cv
    return bool(sym and ok)


# ---------------------------------------------------------------------------------------------- S10.2
def robust_realisation_claims() -> dict[str, object]:
    out: dict[str, object] = {}
    g, e = sp.symbols("gamma epsilon", positive=True)
    # scores: own class >= g - e, other class <= -(g - e); ||w_c - w_k|| <= 2
    out["S10.2 one-vs-rest: ((g-e) - (-(g-e))) / 2 = g - e (multiclass margin)"] = (
        sp.simplify(((g - e) + (g - e)) / 2 - (g - e)) == 0
    )
    R = sp.symbols("R", positive=True)
    # codes (-1, 0), (1, 0); points (±1, ±R): w = (1, 0), b = 0 separates with margin 1 at every point
    pts = [(-1, R), (-1, -R), (1, R), (1, -R)]
    margins = [sp.Integer(-1 if x < 0 else 1) * x for x, _ in pts]
    out["S10.2 converse fails: codes (±1,0), points (±1,±R): eps = R for every R, margin on points = gamma = 1"] = (
        all(m == 1 for m in margins) and sp.sqrt(0 + R**2) == R
    )
    return out


# ---------------------------------------------------------------------------------------------- S10.3
def tight_family(L, theta, eps=1):
    """The 3-orbit family of S10.3 (numbers or sympy): codes, each orbit's two points (code ± ε e_y), the sample
    and the misclassified point. Orbits A = (0, θ − ε), A' = (L, θ + ε) labelled 1; B = (L, −θ − ε) labelled 0."""
    e2 = (0, eps)
    mA, mA2, mB = (0, theta - eps), (L, theta + eps), (L, -theta - eps)

    def add(p, v, s):
        return (p[0] + s * v[0], p[1] + s * v[1])

    points = {"A": [add(mA, e2, 1), add(mA, e2, -1)], "A'": [add(mA2, e2, -1), add(mA2, e2, 1)],
              "B": [add(mB, e2, 1), add(mB, e2, -1)]}  # fmt: skip
    sample = [points["A"][0], points["A'"][0], points["B"][0]]  # (0, θ), (L, θ) labelled 1; (L, −θ) labelled 0
    return {"codes": [mA, mA2, mB], "points": points, "sample": sample, "missed": points["A"][1]}


def _point_segment_sq(p, a, b):
    """Squared distance from p to the line through a, b, and the foot's parameter t (in the segment iff 0 ≤ t ≤ 1)."""
    d = (b[0] - a[0], b[1] - a[1])
    v = (p[0] - a[0], p[1] - a[1])
    t = (v[0] * d[0] + v[1] * d[1]) / (d[0] ** 2 + d[1] ** 2)
    return (v[0] - t * d[0]) ** 2 + (v[1] - t * d[1]) ** 2, t


TIGHT_CLAIM = "S10.3 tight family: gamma -> theta + eps as L -> oo, so eps/gamma -> 1/3 as theta -> 2 eps"


def tightness_claims() -> dict[str, object]:
    out: dict[str, object] = {}
    L, th, e = sp.symbols("L theta epsilon", positive=True)
    fam = tight_family(L, th, e)
    mA, mA2, mB = fam["codes"]
    d1, t1 = _point_segment_sq(mB, mA, mA2)  # {A, A'} vs {B}
    d2, t2 = _point_segment_sq(mA2, mA, mB)  # {A'} vs {A, B}
    lim1 = sp.limit(sp.sqrt(d1) / 2, L, sp.oo)
    lim2 = sp.limit(sp.sqrt(d2) / 2, L, sp.oo)
    feet = sp.limit(t1, L, sp.oo) == 1 and sp.limit(t2, L, sp.oo) == 1
    # {A} vs {A', B}: distance from μ_A to the vertical segment x = L is at least L
    out[TIGHT_CLAIM] = bool(feet and sp.simplify(lim1 - (th + e)) == 0 and sp.simplify(lim2 - (th + e)) == 0)
    # the sample: (0, θ), (L, θ) labelled 1, (L, −θ) labelled 0; nearest point of the segment to (L, −θ) is (L, θ)
    sq, t = _point_segment_sq(fam["sample"][2], fam["sample"][0], fam["sample"][1])
    out["S10.3 tight family: the sample's max-margin probe is y = 0 (margin theta; foot of b at a', t = 1)"] = (
        sp.simplify(t - 1) == 0 and sp.simplify(sq - 4 * th**2) == 0 and sp.simplify(fam["sample"][1][1] - th) == 0
    )
    out[
        "S10.3 tight family: the unseen point (0, theta - 2 eps) of seen orbit A is misclassified iff theta <= 2 eps"
    ] = sp.simplify(fam["missed"][1] - (th - 2 * e)) == 0
    out["S10.3 tight family: eps/(theta + eps) at theta = 2 eps is 1/3, at theta = 3 eps/2 is 2/5 < 1/2"] = sp.simplify(
        e / (2 * e + e)
    ) == sp.Rational(1, 3) and sp.simplify(e / (sp.Rational(3, 2) * e + e)) == sp.Rational(2, 5)
    # 1-NN: codes ∓1; a = −1 − ε, z = −1 + ε (orbit A), b = 1 − ε (orbit B): |z − a| = 2ε, |z − b| = 2 − 2ε
    ep = sp.symbols("ep", positive=True)
    out["S10.3 mlp/1-NN: two orbits on a line (gamma = 1): z is nearer the other orbit's sample iff eps > 1/2"] = (
        sp.solve(sp.Eq(2 * ep, 2 - 2 * ep), ep) == [sp.Rational(1, 2)]
        and bool((2 - 2 * ep).subs(ep, sp.Rational(3, 5)) < (2 * ep).subs(ep, sp.Rational(3, 5)))
    )
    return out


# ---------------------------------------------------------------------------------------------- S10.4
def core_bound_expr(a, nv):
    """B(n) = 1 − s^(n+1) + Σ_m a_m (s − a_m)^n (sympy or numbers), s = Σ a_m."""
    s = sum(a)
    return 1 - s ** (nv + 1) + sum(am * (s - am) ** nv for am in a)


CORE_CLAIM = (
    "S10.4 P(n sample points and the test point all core, test orbit seen) = s^(n+1) (1 - W_n(a/s)) by enumeration"
)


def core_enumeration_claim() -> dict[str, object]:
    """Enumerate every (sample, test point) over the cells core-of-orbit-m and non-core, with symbolic masses:
    the mass of "all n + 1 points core and the test point's orbit among the sample's" is 1 − B(n) (the module's
    ``core_bound_expr``; a test injects the naive bound to see the claim fail)."""
    bound = core_bound_expr
    ok = True
    for Cv, nmax in ((2, 4), (3, 3)):
        a = sp.symbols(f"a1:{Cv + 1}", positive=True)
        for nv in range(1, nmax + 1):
            good = sp.Integer(0)
            for D in itertools.product(range(Cv), repeat=nv + 1):  # the non-core cell never counts
                if D[-1] in D[:-1]:
                    good += sp.Mul(*[a[c] for c in D])
            ok &= sp.expand(good - (1 - bound(list(a), nv))) == 0
    return {CORE_CLAIM: bool(ok)}


def core_claims() -> dict[str, object]:
    out: dict[str, object] = {}
    q, W = sp.symbols("q W", nonnegative=True)
    lead = (1 - q) ** n * ((1 - q) * W + q) + 1 - (1 - q) ** n
    out["S10.4 (1-q)^n[(1-q)W + q] + 1 - (1-q)^n = 1 - (1-q)^(n+1)(1 - W) (general n)"] = (
        sp.simplify(lead - (1 - (1 - q) ** (n + 1) * (1 - W))) == 0
    )
    a = sp.symbols("a1:4", nonnegative=True)
    s = sum(a)
    Wt = sum((am / s) * (1 - am / s) ** 3 for am in a)
    out["S10.4 B(n) = 1 - s^(n+1)(1 - W_n(a/s)) = 1 - s^(n+1) + sum a_m (s - a_m)^n (C = 3, n = 3)"] = (
        sp.simplify((1 - s**4 * (1 - Wt)) - core_bound_expr(list(a), 3)) == 0
    )
    out.update(core_enumeration_claim())
    ok = True
    for Cv in (2, 3):
        av = sp.symbols(f"a1:{Cv + 1}", nonnegative=True)
        for nv in range(1, 7):
            B = core_bound_expr(list(av), nv)
            for j in range(Cv):
                dB = sp.expand(-sp.diff(B, av[j]))
                ok &= dB == 0 or all(c >= 0 for c in sp.Poly(dB, *av).coeffs())
    out["S10.4 -dB/da_j has non-negative coefficients (C = 2, 3; n = 1..6): a larger core never hurts"] = bool(ok)
    er, naive, b = naive_counterexample()
    out["S10.4 naive bound (1-q)W_n(p~) + q is false: exact 2-shot max-margin risk > it, <= B(2)"] = bool(
        naive < er <= b
    )
    out["S10.4 naive counterexample: (exact risk, naive bound, B(2))"] = (
        round(float(er), 5),
        round(float(naive), 5),
        round(float(b), 5),
    )
    return out


def naive_counterexample(K: int = 10, r: float = 0.3, a: float = 0.15, q: float = 0.05):
    """Orbit A: a core point (−1, 0) of mass a and a non-core point (1, 0) of mass q (at orbit B's code); orbit B:
    K points on the circle of radius r around (1, 0), mass (1 − a − q)/K each; codes (∓1, 0), γ = 1; core at r:
    ε = r, δ = 2r, ε + δ < γ. With n = 2 every sample with two orbits is two distinct points, whose max-margin
    probe is their perpendicular bisector. Returns (exact expected 2-shot risk, the naive bound, B(2))."""
    ang = 2 * np.pi * np.arange(K) / K
    P = np.vstack([[-1.0, 0.0], [1.0, 0.0], np.c_[1 + r * np.cos(ang), r * np.sin(ang)]])
    orb = np.array([0, 0] + [1] * K)
    p = np.r_[a, q, np.full(K, (1 - a - q) / K)]
    risk = 0.0
    for i, j in itertools.product(range(len(P)), repeat=2):
        if orb[i] == orb[j]:
            wrong = orb != orb[i]
        else:
            di, dj = np.linalg.norm(P - P[i], axis=1), np.linalg.norm(P - P[j], axis=1)
            assert np.all(np.abs(di - dj) > 1e-9), "no point on a bisector"
            wrong = np.where(di < dj, orb[i], orb[j]) != orb
        risk += p[i] * p[j] * float(p[wrong].sum())
    core = np.array([a, 1 - a - q])
    s = core.sum()
    pt = core / s
    W2 = float(np.sum(pt * (1 - pt) ** 2))
    return risk, s * W2 + q, 1 - s**3 * (1 - W2)


def derive() -> dict[str, object]:
    out: dict[str, object] = {}
    out.update(simplex_claims())
    out.update(robust_realisation_claims())
    out.update(tightness_claims())
    out.update(core_claims())
    return out


def main() -> int:
    return report("S10: robust Theorem 1, certified few-shot error", derive())


if __name__ == "__main__":
    raise SystemExit(main())
