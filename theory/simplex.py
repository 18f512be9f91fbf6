"""S4 and S5 of theory/statements.md: the ideal log loss, its simplex minimiser, the normalisation.

Establishes (symbolically, for general C and temperature τ unless a size is named):

* S4.1  the regular-simplex Gram matrix (C/(C−1))(I − 11ᵀ/C) has unit diagonal, off-diagonal
        −1/(C−1) and rank C − 1 (eigenvalues checked for C = 2..7), so it needs d ≥ C − 1; the
        Helmert rows (``helmert_simplex``, the closed form of ``regular_simplex``) have this Gram
        matrix and sum to 0 (C = 2..8, exact);
* S4.2  at the simplex with w_m = z_m the ideal log loss equals
        L*(C, τ) = log(1 + (C−1) exp(−C/((C−1)τ)));
        and the three algebraic steps of the lower bound L_I ≥ L*: the pair identities, the
        convexity of t ↦ log(1 + (C−1)eᵗ), and the value of the bound;
* S4.3  for d = 1 (codes and weights are ±1) the exact minimum, by enumeration with exact
        arithmetic, is strictly above L* for C = 3, 4, 5; and ``numeric_minimum`` (scipy SLSQP,
        independent of idealssl.derive) confirms L* for d ≥ C − 1 and a larger value for d < C − 1;
* S5.1  whitening affinely independent codes (exact arithmetic, C = 3 and 4) gives a unit regular
        simplex, so the normalised loss of an ideal representation is L*.

Run ``python -m theory.simplex`` to print these claims.

``numeric_minimum`` is deliberately a second, independent optimiser (SLSQP with explicit norm
constraints): it is a test oracle for the one numeric minimiser of the package,
:func:`idealssl.derive.logloss.minimise_ideal_log_loss` / :func:`idealssl.derive.ideal_log_loss_minimum`,
and is not used by idealssl itself.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ._report import report

C, tau, t = sp.symbols("C tau t", positive=True)


def L_star(Cv=C, tv=tau):
    """L*(C, τ) = log(1 + (C − 1) exp(−C/((C − 1)τ)))."""
    Cv, tv = sp.sympify(Cv), sp.sympify(tv)
    return sp.log(1 + (Cv - 1) * sp.exp(-Cv / ((Cv - 1) * tv)))


def simplex_gram(Cv):
    """(C/(C−1))(I − 11ᵀ/C) as a sympy matrix (numeric C)."""
    return sp.Rational(Cv, Cv - 1) * (sp.eye(Cv) - sp.ones(Cv, Cv) / Cv)


def helmert_simplex(Cv):
    """The regular simplex of ``idealssl.theory_math.regular_simplex`` as an exact C × (C−1) sympy matrix.

    Column j (1 ≤ j ≤ C − 1) is the j-th Helmert contrast (1, …, 1, −j, 0, …, 0)/sqrt(j(j+1)) (j ones),
    scaled by sqrt(C/(C−1)): entry (m, j) is sqrt(C/((C−1) j (j+1))) for m < j, −sqrt(C j/((C−1)(j+1)))
    for m = j and 0 for m > j (rows m = 0..C−1). The Helmert contrasts are an orthonormal basis of the
    complement of the all-ones vector, so the Gram matrix of the rows is (C/(C−1))(I − 11ᵀ/C).
    """
    Cv = int(Cv)
    H = sp.zeros(Cv, Cv - 1)
    for j in range(1, Cv):
        for m in range(j):
            H[m, j - 1] = sp.sqrt(sp.Rational(Cv, (Cv - 1) * j * (j + 1)))
        H[j, j - 1] = -sp.sqrt(sp.Rational(Cv * j, (Cv - 1) * (j + 1)))
    return H


def _vec(name, n):
    return sp.Matrix(sp.symbols(f"{name}0:{n}", real=True))


VALUE_CLAIM = "S4.2 loss at the simplex (w_m = z_m) = log(1 + (C-1) exp(-C/((C-1) tau))) (general C, tau)"


def value_at_simplex_claim() -> dict[str, object]:
    """S4.2: the loss at the simplex (logit 1/τ on the diagonal, −1/((C−1)τ) off it) equals L*."""
    pos, neg = 1 / tau, -1 / ((C - 1) * tau)
    at_simplex = -sp.log(sp.exp(pos) / (sp.exp(pos) + (C - 1) * sp.exp(neg)))
    return {
        VALUE_CLAIM: sp.simplify(sp.expand_log(at_simplex - L_star(), force=True)) == 0
        or sp.simplify(sp.exp(at_simplex) - sp.exp(L_star())) == 0
    }


def derive() -> dict[str, object]:
    out: dict[str, object] = {}
    for claims in (_simplex_gram_claims, _log_loss_claims, _one_dimension_claims, _whitening_claims):
        out.update(claims())
    return out


def _simplex_gram_claims() -> dict[str, object]:
    """S4.1: the regular simplex's Gram matrix, general C and exact for small C."""
    out: dict[str, object] = {}
    # ---- S4.1 simplex Gram, general C
    diag = sp.simplify(C / (C - 1) * (1 - 1 / C))
    off = sp.simplify(C / (C - 1) * (-1 / C))
    out["S4.1 simplex Gram: diagonal = 1 (general C)"] = sp.simplify(diag - 1) == 0
    out["S4.1 simplex Gram: off-diagonal = -1/(C-1) (general C)"] = sp.simplify(off + 1 / (C - 1)) == 0
    ok = True
    for Cv in range(2, 8):
        ev = simplex_gram(Cv).eigenvals()
        ok &= ev == {sp.Rational(Cv, Cv - 1): Cv - 1, 0: 1}
    out["S4.1 simplex Gram has eigenvalue C/(C-1) (multiplicity C-1) and 0: rank C-1 (C = 2..7)"] = bool(ok)
    helmert_ok = True
    for Cv in range(2, 9):
        H = helmert_simplex(Cv)
        helmert_ok &= (H * H.T - simplex_gram(Cv)).applyfunc(sp.simplify) == sp.zeros(Cv, Cv)
        helmert_ok &= (sp.ones(1, Cv) * H).applyfunc(sp.simplify) == sp.zeros(1, Cv - 1)
    out["S4.1 the Helmert rows (regular_simplex) have the simplex Gram and sum to 0 (C = 2..8, exact)"] = bool(
        helmert_ok
    )
    return out


def _log_loss_claims() -> dict[str, object]:
    """S4.2: the value at the simplex and the steps of the Jensen bound."""
    out: dict[str, object] = {}
    # ---- S4.2 value at the simplex, general C and tau
    out.update(value_at_simplex_claim())
    # pair identities (generic symbolic vectors, C = 3, d = 2 and C = 4, d = 3)
    ident_ok = norm_ok = gap_ok = True
    for Cv, d in ((3, 2), (4, 3)):
        w = [_vec(f"w{m}_", d) for m in range(Cv)]
        z = [_vec(f"z{m}_", d) for m in range(Cv)]
        W, Z = sum(w, sp.zeros(d, 1)), sum(z, sp.zeros(d, 1))
        S = sum((w[m].dot(z[m]) for m in range(Cv)), sp.Integer(0))
        lhs = sum(((w[m] - w[k]).dot(z[m] - z[k]) for m in range(Cv) for k in range(Cv)), sp.Integer(0))
        ident_ok &= sp.expand(lhs - (2 * Cv * S - 2 * W.dot(Z))) == 0
        lhs2 = sum(((w[m] - w[k]).dot(w[m] - w[k]) for m in range(Cv) for k in range(Cv)), sp.Integer(0))
        norm_ok &= (
            sp.expand(lhs2 - (2 * Cv * sum((w[m].dot(w[m]) for m in range(Cv)), sp.Integer(0)) - 2 * W.dot(W))) == 0
        )
        mean_gap = sum(((w[k] - w[m]).dot(z[m]) for m in range(Cv) for k in range(Cv) if k != m), sp.Integer(0)) / (
            Cv * (Cv - 1)
        )
        gap_ok &= sp.expand(mean_gap - (W.dot(Z) - Cv * S) / (Cv * (Cv - 1))) == 0
    out["S4.2 identity sum_{m,m'} (w_m - w_m').(z_m - z_m') = 2C S - 2 W.Z (C=3,d=2; C=4,d=3)"] = bool(ident_ok)
    out["S4.2 identity sum_{m,m'} |w_m - w_m'|^2 = 2C sum|w_m|^2 - 2|W|^2"] = bool(norm_ok)
    out["S4.2 mean logit gap over m' != m equals (W.Z - C S)/(C(C-1))"] = bool(gap_ok)
    c1 = sp.symbols("c", positive=True)  # C - 1 > 0
    f = sp.log(1 + c1 * sp.exp(t))
    f2 = sp.simplify(sp.diff(f, t, 2))
    out["S4.2 f(t) = log(1 + (C-1) e^t) is convex: f'' = (C-1)e^t/(1+(C-1)e^t)^2 > 0"] = sp.simplify(
        f2 - c1 * sp.exp(t) / (1 + c1 * sp.exp(t)) ** 2
    ) == 0 and bool(f2.is_positive)
    # bound: C S - W.Z <= (1/2) sqrt(2C^2 * 2C^2) = C^2  => mean gap >= -C/(C-1)
    bound = -sp.sqrt(2 * C**2 * 2 * C**2) / 2 / (C * (C - 1))
    out["S4.2 Cauchy-Schwarz bound: mean logit gap >= -C/(C-1) when |w_m| <= 1 and E|z|^2 <= 1"] = (
        sp.simplify(bound + C / (C - 1)) == 0
    )
    out["S4.2 f(-C/(C-1)) = L*: the Jensen bound equals the simplex value"] = (
        sp.simplify(f.subs(c1, C - 1).subs(t, -C / (C - 1)) - L_star(C, 1)) == 0
    )
    return out


def _one_dimension_claims() -> dict[str, object]:
    """S4.3: for d = 1 the minimum, by exact enumeration, stays above L*."""
    out: dict[str, object] = {}
    # ---- S4.3 d = 1, exact enumeration
    d1 = {}
    for Cv in (3, 4, 5):
        best = None
        for zs in itertools.product((-1, 1), repeat=Cv):
            for ws in itertools.product((-1, 1), repeat=Cv):
                val = sum(sp.log(sum(sp.exp(ws[k] * zs[m]) for k in range(Cv))) - ws[m] * zs[m] for m in range(Cv)) / Cv
                num = sp.N(val, 40)
                if best is None or num < best[0]:
                    best = (num, val)
        d1[Cv] = best
        out[
            f"S4.3 d = 1, C = {Cv}: exact minimum {sp.nsimplify(best[1])} = {sp.N(best[1], 12)} > L* = "
            f"{sp.N(L_star(Cv, 1), 12)}"
        ] = bool(best[0] > sp.N(L_star(Cv, 1), 40))
    return out


def _whitening_claims() -> dict[str, object]:
    """S5.1: whitening maps affinely independent codes to the unit regular simplex (exact arithmetic)."""
    out: dict[str, object] = {}
    # ---- S5.1 whitening gives the unit simplex (exact arithmetic)
    wh_ok = True
    for codes in ([[0, 0], [3, 1], [1, 2]], [[1, 0, 0], [0, 2, 0], [0, 0, 5], [1, 1, 1]]):
        M = sp.Matrix(codes)
        Cv, d = M.shape
        mu = sp.ones(1, Cv) * M / Cv
        X = M - sp.ones(Cv, 1) * mu
        Sig = X.T * X / Cv  # orbit-weighted covariance of the codes
        Lc = Sig.cholesky(hermitian=False)
        A = Lc.inv()  # A Sig A^T = I
        V = X * A.T / sp.sqrt(d)  # scaled so that E|z|^2 = 1
        G = (V * V.T).applyfunc(sp.simplify)
        wh_ok &= (G - simplex_gram(Cv)).applyfunc(sp.simplify) == sp.zeros(Cv, Cv)
    out["S5.1 whitening + scaling maps affinely independent codes to the unit regular simplex (C = 3, 4, exact)"] = (
        bool(wh_ok)
    )
    return out


def numeric_minimum(Cv: int, d: int, restarts: int = 6, seed: int = 0) -> float:
    """min of the ideal log loss over unit-norm codes z_m ∈ R^d and weights w_m, C equiprobable
    orbits, τ = 1, by SLSQP with explicit equality constraints ‖z_m‖² = ‖w_m‖² = 1 (independent of
    idealssl.derive, which uses L-BFGS on a normalising parametrisation)."""
    import numpy as np
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    n = Cv * d

    def loss(x):
        Zc, W = x[:n].reshape(Cv, d), x[n:].reshape(Cv, d)
        A = Zc @ W.T
        m = A.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(A - m).sum(axis=1)) + m[:, 0] - np.diag(A)))

    cons = [
        {"type": "eq", "fun": (lambda x, i=i: float(x[i * d : (i + 1) * d] @ x[i * d : (i + 1) * d]) - 1.0)}
        for i in range(2 * Cv)
    ]
    best = np.inf
    for _ in range(restarts):
        x0 = rng.normal(size=2 * n)
        x0 = (x0.reshape(2 * Cv, d) / np.linalg.norm(x0.reshape(2 * Cv, d), axis=1, keepdims=True)).ravel()
        res = minimize(loss, x0, method="SLSQP", constraints=cons, options={"maxiter": 1000, "ftol": 1e-12})
        if res.success:
            best = min(best, res.fun)
    return float(best)


def main() -> int:
    return report("S4/S5: ideal log loss, simplex minimiser, normalisation", derive())


if __name__ == "__main__":
    raise SystemExit(main())
