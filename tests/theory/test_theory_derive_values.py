"""idealssl.derive against values computed independently (statements.md S3, S4, S6, S7)."""

import functools
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog, minimize

from idealssl import derive
from idealssl.errors import InputError
from idealssl.theory_math import merge_orbits, worst_case_erm_risk


# ------------------------------------------------------------------ S4: the simplex optimum
def _loss_at(Zc, W, tau=1.0):
    A = Zc @ W.T / tau
    m = A.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(A - m).sum(axis=1)) + m[:, 0] - np.diag(A)))


@pytest.mark.parametrize("C", [2, 3, 4, 5, 7, 10, 12])
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_optimum_equals_loss_at_an_independently_built_simplex(C, tau):
    # centred standard basis vectors e_m - 1/C, normalised: a regular simplex built another way
    S = np.eye(C) - 1.0 / C
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    assert np.allclose(S @ S.T, np.where(np.eye(C) > 0, 1.0, -1.0 / (C - 1)))
    assert derive.ideal_log_loss_optimum(C, tau) == pytest.approx(_loss_at(S, S, tau), abs=1e-12)
    R = derive.regular_simplex(C)
    assert np.allclose(R @ R.T, S @ S.T) and R.shape == (C, C - 1)


@pytest.mark.parametrize("C", [2, 3, 4, 5, 6, 7, 9, 12])
def test_regular_simplex_is_the_helmert_closed_form_to_the_last_bit(C):
    """S4.1: ``regular_simplex`` is the Helmert simplex of ``theory.simplex.helmert_simplex`` (sympy, exact),
    every entry the float nearest to its exact value, so its bits do not depend on the platform or on
    LAPACK; its exact Gram matrix is (C/(C−1))(I − 11ᵀ/C) and its rows sum to 0; padding adds zero columns."""
    import sympy as sp

    from theory.simplex import helmert_simplex, simplex_gram

    H = helmert_simplex(C)
    assert (H * H.T - simplex_gram(C)).applyfunc(sp.simplify) == sp.zeros(C, C)
    assert (sp.ones(1, C) * H).applyfunc(sp.simplify) == sp.zeros(1, C - 1)
    exact = np.array([[float(H[m, j].evalf(40)) for j in range(C - 1)] for m in range(C)])
    R = derive.regular_simplex(C)
    assert R.shape == (C, C - 1) and R.dtype == np.float64
    assert np.array_equal(R, exact), np.argwhere(R != exact)
    padded = derive.regular_simplex(C, C + 2)
    assert np.array_equal(padded[:, : C - 1], R) and not padded[:, C - 1 :].any()
    gram = C / (C - 1) * (np.eye(C) - 1.0 / C)
    assert np.abs(R @ R.T - gram).max() <= 8 * np.finfo(float).eps
    assert np.abs(R.sum(axis=0)).max() <= 8 * C * np.finfo(float).eps


@pytest.mark.parametrize("C,d", [(3, 2), (4, 3), (4, 5)])
def test_numeric_minimum_confirms_the_simplex_for_d_at_least_C_minus_1(C, d):
    """S4.2 confirmed by an independent optimiser (SLSQP with explicit unit-norm constraints)."""
    from theory.simplex import numeric_minimum

    m = numeric_minimum(C, d, restarts=4)
    assert m == pytest.approx(derive.ideal_log_loss_optimum(C), abs=1e-6)


@pytest.mark.parametrize(
    "C,d,reference",
    [(5, 3, 0.79056), (5, 2, 0.84578), pytest.param(6, 3, 0.95814, marks=pytest.mark.slow), (4, 2, None), (3, 1, None)],
)
def test_minimum_below_C_minus_1_is_strictly_larger_and_matches_independent_optimiser(C, d, reference):
    from theory.simplex import numeric_minimum

    ours = derive.ideal_log_loss_minimum(C, d)
    indep = numeric_minimum(C, d, restarts=6)
    Lstar = derive.ideal_log_loss_optimum(C)
    assert ours == pytest.approx(indep, abs=2e-5)
    assert ours > Lstar + 1e-2
    if reference is not None:  # theory/statements.md S4.3, L-BFGS numbers
        assert ours == pytest.approx(reference, abs=1e-4)


def test_configure_reports_the_minimum_in_a_too_small_dimension():
    cfg = derive.configure("linear", 5, dim=3)
    assert cfg.dim_can_be_ideal is False
    assert cfg.ideal_objective["minimum_in_dim"] == pytest.approx(0.79056, abs=1e-4)
    assert derive.configure("linear", 5, dim=4).dim_can_be_ideal is True


# ------------------------------------------------------------------ S3: W_n by brute force
def _separable(P, y):
    """Affine strict separability of ±1 labels y of the rows of P (own LP: margin >= 1)."""
    if np.all(y > 0) or np.all(y < 0):
        return True
    n, d = P.shape
    A = -(y[:, None] * np.hstack([P, np.ones((n, 1))]))
    res = linprog(np.zeros(d + 1), A_ub=A, b_ub=-np.ones(n), bounds=[(None, None)] * (d + 1), method="highs")
    return res.status == 0


def _separable_homogeneous(P, y, constant_ok=True):
    """Strict separability of ±1 labels y by a homogeneous probe sign(w·z) (own LP: margin >= 1); a
    constant labelling counts as realised (by the probe with one class) when ``constant_ok``."""
    if np.all(y > 0) or np.all(y < 0):
        if constant_ok:
            return True
    A = -(y[:, None] * P)
    res = linprog(np.zeros(P.shape[1]), A_ub=A, b_ub=-np.ones(len(P)), bounds=[(None, None)] * P.shape[1])
    return res.status == 0


def _brute_force_Wn(points, point_orbit, p, n, separable=None):
    """sup over binary invariant tasks of E_D[ sup over ERMs of the risk ], by enumeration.

    The ERM set of a realisable task = affine classifiers with zero error on D; their behaviour on the
    points is any affinely realisable labelling agreeing with D, so the worst ERM maximises the mass of
    points whose label differs from the task's.
    """
    N = len(points)
    C = point_orbit.max() + 1
    separable = separable or _separable
    realisable = [
        np.array(lab) for lab in itertools.product((-1, 1), repeat=N) if separable(points, np.array(lab, float))
    ]
    best = 0.0
    for task in itertools.product((-1, 1), repeat=C):
        y = np.array(task)[point_orbit]
        if not any(np.array_equal(r, y) for r in realisable):
            continue  # (never happens for ideal encoders)
        total = 0.0
        for D in itertools.product(range(N), repeat=n):
            prob = float(np.prod(p[list(D)]))
            idx = list(set(D))
            worst = max(float(np.dot(p, r != y)) for r in realisable if np.array_equal(r[idx], y[idx]))
            total += prob * worst
        best = max(best, total)
    return best


@pytest.mark.parametrize("n", [1, 2, 3])
def test_Wn_formula_matches_brute_force_ERM_enumeration(n):
    codes = np.array([[0.0, 0.0], [1.0, 0.2], [0.3, 1.0]])  # affinely independent: ideal, invariant
    p = np.array([0.2, 0.3, 0.5])
    got = _brute_force_Wn(codes, np.arange(3), p, n)
    assert got == pytest.approx(worst_case_erm_risk(n, masses=p), abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_Wn_homogeneous_with_the_origin_inside_needs_the_constant_task(n):
    """S1.4's sample-optimality step, by enumeration: three codes with the origin inside their hull (the
    centred simplex) under homogeneous probes reach W_n = Σ p_m (1 − p_m)^n when the constant task counts as
    realised (the one-class probe), and stay below it when it does not (after a sample whose orbits share a
    label, the worst ERM is then the constant task, which two classes cannot realise here)."""
    codes = derive.regular_simplex(3)
    p = np.array([0.2, 0.3, 0.5])
    with_constant = _brute_force_Wn(codes, np.arange(3), p, n, separable=_separable_homogeneous)
    assert with_constant == pytest.approx(worst_case_erm_risk(n, masses=p), abs=1e-12)
    two_classes = functools.partial(_separable_homogeneous, constant_ok=False)
    assert _brute_force_Wn(codes, np.arange(3), p, n, separable=two_classes) < with_constant - 1e-3


def test_Wn_equiprobable_matches_configure_and_brute_force():
    cfg = derive.configure("linear", 3)
    codes = derive.regular_simplex(3)
    for n, w in zip(cfg.sample_efficiency["n"][:3], cfg.sample_efficiency["W_n"][:3]):
        assert w == pytest.approx((2 / 3) ** n, abs=1e-15)
        assert w == pytest.approx(_brute_force_Wn(codes, np.arange(3), np.full(3, 1 / 3), n), abs=1e-12)


def _realisable_multiclass(P, lab):
    """argmax(W z + b) = lab on every row of P, strictly (own LP: score gaps >= 1)."""
    K = int(lab.max()) + 1
    if K == 1:
        return True
    n, d = P.shape
    X = np.hstack([P, np.ones((n, 1))])
    rows = []
    for i in range(n):
        for k in range(K):
            if k != lab[i]:
                row = np.zeros(K * (d + 1))
                row[lab[i] * (d + 1) : (lab[i] + 1) * (d + 1)] -= X[i]
                row[k * (d + 1) : (k + 1) * (d + 1)] += X[i]
                rows.append(row)
    res = linprog(
        np.zeros(K * (d + 1)),
        A_ub=np.array(rows),
        b_ub=-np.ones(len(rows)),
        bounds=[(None, None)] * (K * (d + 1)),
        method="highs",
    )
    return res.status == 0


def _brute_force_Wn_labels(points, point_orbit, p, n, K):
    """W_n with tasks and probes over K labels: sup over tasks (any labelling of the orbits with K labels)
    of E_D[max over realisable labellings agreeing with the task on D of the mass they get wrong]."""
    N, C = len(points), point_orbit.max() + 1
    realisable = [
        np.array(lab)
        for lab in itertools.product(range(K), repeat=N)
        if _realisable_multiclass(points, np.unique(lab, return_inverse=True)[1].ravel())
    ]
    best = 0.0
    for task in itertools.product(range(K), repeat=C):
        y = np.array(task)[point_orbit]
        total = 0.0
        for D in itertools.product(range(N), repeat=n):
            idx = list(set(D))
            worst = max(float(np.dot(p, r != y)) for r in realisable if np.array_equal(r[idx], y[idx]))
            total += float(np.prod(p[list(D)])) * worst
        best = max(best, total)
    return best


def test_invariance_matters_worked_example():
    """theory/statements.md S3.3: a1, a2 (mass 1/4 each) ~ A, b (mass 1/2) ~ B, d = 1.

    The non-invariant encoder a1, a2, b -> 0, 1, 2 has W_1 = 9/16 when tasks and probes use two labels
    (after seeing a1, (x, y, x) is not realisable on a line) and 5/8 when a third label is allowed
    ((x, y, z) is: three intervals), the paper's task set. The invariant encoder has W_1 = 1/2 either way.
    The example and both values are our derivation, not figures from the paper.
    """
    p = np.array([0.25, 0.25, 0.5])
    orbit = np.array([0, 0, 1])
    invariant = np.array([[0.0], [0.0], [1.0]])
    non_invariant = np.array([[0.0], [1.0], [2.0]])
    assert _brute_force_Wn(invariant, orbit, p, 1) == pytest.approx(0.5)
    assert worst_case_erm_risk(1, masses=[0.5, 0.5]) == pytest.approx(0.5)
    assert _brute_force_Wn(non_invariant, orbit, p, 1) == pytest.approx(9 / 16)
    assert _brute_force_Wn_labels(non_invariant, orbit, p, 1, K=2) == pytest.approx(9 / 16)
    assert _brute_force_Wn_labels(non_invariant, orbit, p, 1, K=3) == pytest.approx(5 / 8)
    assert _brute_force_Wn_labels(invariant, orbit, p, 1, K=3) == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=7), st.integers(1, 60), st.data())
def test_merging_orbits_never_increases_Wn(raw, n, data):
    p = np.array(raw) / sum(raw)
    i = data.draw(st.integers(0, len(p) - 1))
    j = data.draw(st.integers(0, len(p) - 1).filter(lambda k: k != i))
    groups = [[i, j]] + [[k] for k in range(len(p)) if k not in (i, j)]
    merged = merge_orbits(p, groups)
    assert worst_case_erm_risk(n, masses=merged) <= worst_case_erm_risk(n, masses=p) + 1e-15
    assert worst_case_erm_risk(n, classes=len(p) - 1) < worst_case_erm_risk(n, classes=len(p))


# ------------------------------------------------------------------ S7: DISSL
def _F(q, lam, beta):
    """(1+β) H(M^|M) − λ H(M^) for an invariant teacher q (C x K), written independently."""
    C = q.shape[0]
    Hc = -np.sum(q * np.log(np.clip(q, 1e-300, None))) / C
    qb = q.mean(axis=0)
    return (1 + beta) * Hc - lam * -np.sum(qb * np.log(np.clip(qb, 1e-300, None))), Hc


def _local_teacher_min(C, K, lam, beta, restarts=10, seed=0):
    """Independent local optimiser over invariant teachers (BFGS on logits, finite differences)."""
    rng = np.random.default_rng(seed)

    def q_of(x):
        L = x.reshape(C, K)
        q = np.exp(L - L.max(axis=1, keepdims=True))
        return q / q.sum(axis=1, keepdims=True)

    out = []
    for r in range(restarts):
        x0 = rng.normal(scale=[0.1, 1.0, 4.0][r % 3], size=C * K)
        res = minimize(lambda x: _F(q_of(x), lam, beta)[0], x0, method="BFGS", options={"gtol": 1e-9, "maxiter": 4000})
        out.append(_F(q_of(res.x), lam, beta))
    return min(out)


@pytest.mark.parametrize("lam,deterministic", [(1.0, True), (1.7, True), (1.9, False), (2.3, False)])
def test_dissl_threshold_C4_K8(lam, deterministic):
    beta, C, K = 0.8, 4, 8
    opt = derive.dissl_teacher_optimum(C, K, lam, beta)
    injective = np.eye(K)[:C]  # deterministic, one category per orbit
    spread = np.kron(np.eye(C), np.full((1, K // C), C / K))  # each orbit uniform over K/C own categories
    v_det, v_spread = _F(injective, lam, beta)[0], _F(spread, lam, beta)[0]
    v_loc, hc_loc = _local_teacher_min(C, K, lam, beta)
    assert opt.exact
    assert opt.value <= v_loc + 1e-9  # no local optimum found below the theory's optimum
    assert opt.value == pytest.approx(min(v_det, v_spread, v_loc), abs=1e-9)
    if deterministic:
        assert opt.value == pytest.approx(-lam * math.log(C), abs=1e-12) == v_det
        assert opt.deterministic is True and v_det < v_spread
    else:
        assert opt.value == pytest.approx(1.8 * math.log(2) - lam * math.log(8), abs=1e-12)
        assert opt.deterministic is False and v_spread < v_det - 1e-3
        # a small split of one orbit onto a free category already beats the deterministic teacher
        eps = 1e-3
        q = injective.copy()
        q[0, 0], q[0, C] = 1 - eps, eps
        assert _F(q, lam, beta)[0] < v_det


@pytest.mark.parametrize("lam", [0.5, 1.0, 1.5, 2.3])
def test_dissl_K_equals_C_is_deterministic_for_every_lambda(lam):
    opt = derive.dissl_teacher_optimum(4, 4, lam, 0.8)
    v_loc, _ = _local_teacher_min(4, 4, lam, 0.8, restarts=6)
    assert opt.value == pytest.approx(-lam * math.log(4), abs=1e-12) == _F(np.eye(4), lam, 0.8)[0]
    assert opt.value <= v_loc + 1e-9 and opt.deterministic is True


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(1, 12), st.floats(0.05, 4.0), st.floats(0.0, 2.0), st.integers(0, 10**6))
def test_dissl_no_random_teacher_beats_the_optimum_or_its_lower_bound(C, K, lam, beta, seed):
    opt = derive.dissl_teacher_optimum(C, K, lam, beta, numeric=False)
    rng = np.random.default_rng(seed)
    assert opt.lower_bound <= opt.value + 1e-12
    assert _F(opt.teacher, lam, beta)[0] == pytest.approx(opt.value, abs=1e-12)
    for scale in (0.3, 2.0, 10.0):
        L = rng.normal(scale=scale, size=(C, K))
        q = np.exp(L - L.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        assert _F(q, lam, beta)[0] >= opt.lower_bound - 1e-12
        if opt.exact:
            assert _F(q, lam, beta)[0] >= opt.value - 1e-12


@pytest.mark.slow
def test_dissl_full_population_objective_with_free_teacher_and_student():
    """The full objective (per-point teacher AND student, no invariance assumed) on 2 orbits x 2 points,
    K = 4 categories, optimised directly: its minimum equals the theory's teacher optimum (S7.1-S7.3)."""
    C, n_per, K, beta = 2, 2, 4, 0.8
    orbit = np.repeat(np.arange(C), n_per)
    N = len(orbit)
    pairs = [(i, j) for i in range(N) for j in range(N) if orbit[i] == orbit[j]]

    def obj(x, lam):
        L = x.reshape(2, N, K)
        P = np.exp(L - L.max(axis=2, keepdims=True))
        P /= P.sum(axis=2, keepdims=True)
        q, s = P[0], P[1]
        ce = sum(-(q[i] * np.log(s[j])).sum() - beta * (q[i] * np.log(q[j])).sum() for i, j in pairs) / len(pairs)
        qb = q.mean(axis=0)
        return ce + lam * (qb * np.log(qb)).sum()

    rng = np.random.default_rng(1)
    for lam in (1.2, 2.6):
        best = min(
            minimize(
                obj,
                rng.normal(scale=3.0, size=2 * N * K),
                args=(lam,),
                method="BFGS",
                options={"gtol": 1e-8, "maxiter": 5000},
            ).fun
            for _ in range(8)
        )
        assert best == pytest.approx(derive.dissl_teacher_optimum(C, K, lam, beta).value, abs=2e-3)


def _dissl_population(Lq, Ls, A, lam, beta):
    """Population DISSL objective with per-point teacher and student logits and its gradient.

    A[i, j] = 1 when j is a view of i (same orbit); views independent given the orbit."""

    def softmax(L):
        P = np.exp(L - L.max(axis=1, keepdims=True))
        return P / P.sum(axis=1, keepdims=True)

    q, s = softmax(Lq), softmax(Ls)
    N, P = len(q), A.sum()
    lq, ls = np.log(q), np.log(s)
    qb = q.mean(axis=0)
    f = (-(q * (A @ ls)).sum() - beta * (q * (A @ lq)).sum()) / P + lam * (qb * np.log(qb)).sum()
    Gq = (-(A @ ls) - beta * (A @ lq) - beta * (A.T @ q) / q) / P + lam * (np.log(qb) + 1.0) / N
    Gs = -(A.T @ q) / s / P
    back = lambda p, g: p * (g - (p * g).sum(axis=1, keepdims=True))  # noqa: E731  (softmax Jacobian)
    return f, back(q, Gq), back(s, Gs)


def test_dissl_full_objective_with_free_teacher_and_student_fast():
    """Fast version of the slow test below, in the default run (issue 11): per-point teacher AND student
    (no invariance assumed), analytic gradient, L-BFGS; the minimum equals the theory's teacher optimum
    on both sides of the threshold λ = 1 + β."""
    C, n_per, K, beta = 2, 2, 4, 0.8
    orbit = np.repeat(np.arange(C), n_per)
    N = len(orbit)
    A = (orbit[:, None] == orbit[None, :]).astype(float)

    def fg(x, lam):
        f, gq, gs = _dissl_population(x[: N * K].reshape(N, K), x[N * K :].reshape(N, K), A, lam, beta)
        return f, np.concatenate([gq.ravel(), gs.ravel()])

    rng = np.random.default_rng(0)
    for lam in (1.2, 2.6):
        best = min(
            minimize(
                fg,
                rng.normal(scale=3.0, size=2 * N * K),
                args=(lam,),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10},
            ).fun
            for _ in range(4)
        )
        assert best == pytest.approx(derive.dissl_teacher_optimum(C, K, lam, beta).value, abs=2e-3)


def test_dissl_orbit_average_never_increases_the_population_objective():
    """S7.1 -> S7.2: replacing a teacher by its orbit average never increases the population objective
    (student term unchanged, cross-view term down by Jensen, marginal unchanged), while the bound
    F = (1 + β) H(M^|X) − λ H(M^) alone is *lower* for the non-invariant teacher: F does not imply
    invariance, the averaging argument does."""
    rng = np.random.default_rng(3)
    C, n_per, K = 3, 3, 5
    orbit = np.repeat(np.arange(C), n_per)
    N = len(orbit)
    A = (orbit[:, None] == orbit[None, :]).astype(float)
    avg = A / A.sum(axis=1, keepdims=True)  # row i: uniform over i's orbit
    for _ in range(30):
        lam, beta = rng.uniform(0.2, 3.0), rng.uniform(0.1, 1.5)
        Lq, Ls = rng.normal(scale=2.0, size=(N, K)), rng.normal(scale=2.0, size=(N, K))
        q = np.exp(Lq) / np.exp(Lq).sum(axis=1, keepdims=True)
        Lbar = np.log(avg @ q)  # logits of the orbit-averaged teacher
        f, _, _ = _dissl_population(Lq, Ls, A, lam, beta)
        f_bar, _, _ = _dissl_population(Lbar, Ls, A, lam, beta)
        assert f_bar <= f + 1e-12
        H = lambda p: -(p * np.log(p)).sum(axis=-1)  # noqa: E731
        F = (1 + beta) * H(q).mean() - lam * H(q.mean(axis=0))
        F_bar = (1 + beta) * H(avg @ q).mean() - lam * H((avg @ q).mean(axis=0))
        assert F < F_bar  # H(M^|X) < H(M^|M): the bound prefers the non-invariant teacher


def test_dissl_student_excess_is_exact_for_colliding_codes():
    """Orbits 0 and 1 share a code: the best student outputs (1/2, 1/2) there, excess = (2/4) log 2."""
    codes = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    Z = np.repeat(codes, 2, axis=0)
    lab = np.repeat(np.arange(4), 2)
    for probe in ("linear", "mlp"):
        r = derive.exact(Z, lab, probe=probe, dissl_lambda=1.0)
        assert r.dissl["student_excess"] == pytest.approx(0.5 * math.log(2), abs=1e-5)
        assert not r.dissl["reaches_optimum"]


# ------------------------------------------------------------------ S4-S6 on finite problems
def test_exact_on_the_simplex_reaches_every_optimum():
    C = 5
    Z = np.repeat(derive.regular_simplex(C, 6), 3, axis=0)
    r = derive.exact(Z, np.repeat(np.arange(C), 3))
    Lstar = derive.ideal_log_loss_optimum(C)
    for key in ("ideal_log_loss", "ideal_log_loss_unit", "normalised_ideal_log_loss"):
        v = getattr(r, key)
        assert v["value"] == pytest.approx(Lstar, abs=1e-9) and v["exact"]
    assert r.cissl["value"] == pytest.approx(Lstar - math.log(C), abs=1e-9)
    assert r.dissl["reaches_optimum"] and r.dissl["teacher_optimum"] == pytest.approx(-2.3 * math.log(5))


def test_ideal_log_loss_matches_an_independent_solver_on_a_random_problem():
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(12, 3))
    lab = np.repeat(np.arange(4), 3)
    v = derive.ideal_log_loss(Z, lab, restarts=6)
    # independent: SLSQP with explicit unit-norm constraints on the weights
    C, d = 4, 3

    def f(x):
        W = x.reshape(C, d)
        A = Z @ W.T
        m = A.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(A - m).sum(axis=1)) + m[:, 0] - A[np.arange(12), lab]))

    cons = [
        {"type": "eq", "fun": (lambda x, i=i: x[i * d : (i + 1) * d] @ x[i * d : (i + 1) * d] - 1)} for i in range(C)
    ]
    ind = min(
        minimize(
            f, rng.normal(size=C * d), method="SLSQP", constraints=cons, options={"ftol": 1e-12, "maxiter": 500}
        ).fun
        for _ in range(8)
    )
    assert v.value == pytest.approx(ind, abs=1e-6)
    assert v.lower_bound <= v.value + 1e-12


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_normalised_loss_is_affine_invariant(seed):
    rng = np.random.default_rng(seed)
    C, d = 4, 5
    Z = rng.normal(size=(C * 2, d))
    lab = np.repeat(np.arange(C), 2)
    A = rng.normal(size=(d, d)) + 3 * np.eye(d)
    b = rng.normal(size=d)
    v1 = derive.normalised_ideal_log_loss(Z, lab).value
    v2 = derive.normalised_ideal_log_loss(Z @ A.T + b, lab).value
    assert v1 == pytest.approx(v2, abs=1e-6)


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError):
        derive.configure("quadratic", 4)
    with pytest.raises(InputError):
        derive.configure("linear", 1)
    with pytest.raises(InputError):
        derive.exact(np.zeros((3, 2)), [0, 1])  # N mismatch
    with pytest.raises(InputError):
        derive.exact(np.array([[np.nan, 0.0], [0.0, 1.0]]), [0, 1])
    with pytest.raises(InputError):
        derive.dissl_teacher_optimum(4, 0, 1.0, 0.8)
    with pytest.raises(InputError):
        derive.ideal_log_loss_optimum(4, temperature=0.0)


@pytest.mark.parametrize("C", [3, 4, 5])
def test_dimension_one_minimum_equals_the_exact_sympy_enumeration(C):
    """S4.3: derive's d = 1 minimum (reduced enumeration) equals the brute-force exact value."""
    import itertools

    best = min(
        _loss_at(np.array(zs, float)[:, None], np.array(ws, float)[:, None])
        for zs in itertools.product((-1, 1), repeat=C)
        for ws in itertools.product((-1, 1), repeat=C)
    )
    assert derive.ideal_log_loss_minimum(C, 1) == pytest.approx(best, abs=1e-12)
    exact = {3: 0.585597372527, 4: 0.820075191603, 5: 1.06218423759}[C]  # printed by theory.simplex
    assert best == pytest.approx(exact, abs=1e-10)


def test_docstring_example_runs():
    import doctest

    import idealssl.derive as mod

    res = doctest.testmod(mod)
    assert res.attempted >= 1 and res.failed == 0
