"""Theory <-> checker: `idealssl.check` says "ideal" exactly when the normalised ideal log loss reaches
its optimum (statements.md S5.1, linking Theorem 1 / S1.3 with S4.2).

Random finite problems are drawn by hypothesis in four families with clear margins (so that the
checker's relative tolerance and the whitening cut-off cannot disagree on a borderline case):
ideal (an affine image of the simplex), centred (a linear image of the simplex with the origin inside
its hull: ideal for both families, S1.4), generic codes (ideal iff d is large enough; without bias at
rank C − 1 iff the dependency is one-signed), rank-deficient codes (in a random affine subspace of
dimension < C - 1) and non-invariant (one point moved by at least 5% of the code spread).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from idealssl import derive

check_api = pytest.importorskip("idealssl.checker.api", reason="idealssl.checker.api (issue 2) is missing")
check = check_api.check

TOL = 1e-6


def _problem(kind, C, d, per, seed, bias=True):
    rng = np.random.default_rng(seed)
    if kind == "simplex":
        r = C - 1 if bias else C
        assume(d >= r)
        base = derive.regular_simplex(C) if bias else np.eye(C)
        A = rng.normal(size=(d, base.shape[1]))
        assume(np.linalg.svd(A, compute_uv=False).min() > 0.2)
        codes = base @ A.T + (rng.normal(size=d) if bias else 0.0)
    elif kind == "generic":
        codes = rng.normal(size=(C, d))
        M = codes - codes.mean(axis=0) if bias else codes
        sv = np.linalg.svd(M, compute_uv=False)
        need = C - 1 if bias else C
        assume(len(sv) < need or sv[need - 1] > 1e-2 * sv[0])  # either clearly full rank or rank < need by size
    elif kind == "deficient":
        k = data_k = max(0, min(d, C - 2 if bias else C - 1))
        B = rng.normal(size=(data_k, d)) if k > 0 else np.zeros((0, d))
        codes = rng.normal(size=(C, k)) @ B + (rng.normal(size=d) if bias else 0.0)
    elif kind == "centred":  # a linear image of the simplex with the origin inside its hull, at barycentre beta
        assume(d >= C - 1)
        S = derive.regular_simplex(C)
        beta = rng.dirichlet(np.ones(C))
        assume(beta.min() > 0.02)
        A = rng.normal(size=(d, C - 1))
        assume(np.linalg.svd(A, compute_uv=False).min() > 0.2)
        codes = (S - beta @ S) @ A.T
    else:  # noninvariant: start from whatever codes, then move one point
        codes = rng.normal(size=(C, d))
    if not bias and kind != "noninvariant":  # rank C - 1 without bias: the dependency's signs must be clear (S1.4)
        U, sv, _ = np.linalg.svd(codes, full_matrices=True)
        if (sv > 1e-6 * sv[0]).sum() == C - 1:
            a = U[:, -1] * np.linalg.norm(codes, axis=1)
            a = a / a[np.argmax(np.abs(a))]
            assume(abs(a.min()) / np.linalg.norm(a) > 1e-2)
    Z = np.repeat(codes, per, axis=0)
    lab = np.repeat(np.arange(C), per)
    if kind == "noninvariant":
        assume(per >= 2)
        spread = np.sqrt(((codes - codes.mean(axis=0)) ** 2).sum(axis=1).mean())
        assume(spread > 1e-3)
        v = rng.normal(size=d)
        Z[0] = Z[0] + (0.05 + rng.random()) * spread * v / np.linalg.norm(v)
    return Z, lab


KINDS = st.sampled_from(["simplex", "centred", "generic", "deficient", "noninvariant"])


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(KINDS, st.integers(2, 6), st.integers(1, 7), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_checker_ideal_iff_normalised_log_loss_optimal_affine(kind, C, d, per, seed):
    Z, lab = _problem(kind, C, d, per, seed, bias=True)
    rep = check(Z, lab, probe="linear")
    v = derive.normalised_ideal_log_loss(Z, lab, probe="linear")
    reached = v.value - derive.ideal_log_loss_optimum(C) <= TOL
    assert rep.ideal == reached, (kind, C, d, per, v.value, derive.ideal_log_loss_optimum(C))
    if kind == "simplex":
        assert rep.ideal
    if kind in ("deficient", "noninvariant"):
        assert not rep.ideal
    if not reached:  # the gap is clear, not a rounding artefact
        assert v.value - derive.ideal_log_loss_optimum(C) > 1e-4


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(KINDS, st.integers(2, 5), st.integers(1, 7), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_checker_ideal_iff_normalised_log_loss_optimal_nobias(kind, C, d, per, seed):
    Z, lab = _problem(kind, C, d, per, seed, bias=False)
    rep = check(Z, lab, probe="linear-nobias")
    v = derive.normalised_ideal_log_loss(Z, lab, probe="linear-nobias")
    reached = v.value - derive.ideal_log_loss_optimum(C) <= TOL  # S5.1: C orbits, no extra orbit at the origin
    assert rep.ideal == reached, (kind, C, d, per, v.value)


@pytest.mark.parametrize("C", [2, 3, 5, 8])
def test_simplex_is_ideal_and_reaches_the_optimum(C):
    Z = np.repeat(derive.regular_simplex(C), 2, axis=0)
    lab = np.repeat(np.arange(C), 2)
    assert check(Z, lab, probe="linear").ideal
    r = derive.exact(Z, lab)
    assert r.normalised_ideal_log_loss["reaches_optimum"] and r.ideal_log_loss_unit["reaches_optimum"]


@pytest.mark.parametrize("C,d", [(4, 2), (5, 3), (5, 1), (6, 4)])
def test_dimension_below_C_minus_1_makes_both_fail(C, d):
    """Project the simplex onto its last d < C - 1 (Helmert) coordinates, then renormalise the rows: every
    vertex has a non-zero last coordinate, so no row is zero; the codes span at most d < C - 1 dimensions."""
    S = derive.regular_simplex(C)[:, C - 1 - d :]
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    Z = np.repeat(S, 2, axis=0)
    lab = np.repeat(np.arange(C), 2)
    assert not check(Z, lab, probe="linear").ideal
    r = derive.exact(Z, lab)
    Lstar = derive.ideal_log_loss_optimum(C)
    assert not r.normalised_ideal_log_loss["reaches_optimum"]
    assert not r.ideal_log_loss_unit["reaches_optimum"]
    # and no unit-norm code set in R^d does better than the d-dimensional minimum (> L*)
    assert r.ideal_log_loss_unit["value"] >= derive.ideal_log_loss_minimum(C, d) - 1e-6 > Lstar


def test_symmetric_head_counterexample_is_not_ideal_for_linear_probes():
    """S6.2: 1-D codes 0..3 reach the ideal optimum through a symmetric head but are not ideal for
    linear probes (they are for MLP/universal probes)."""
    Z = np.arange(4.0)[:, None]
    lab = np.arange(4)
    assert not check(Z, lab, probe="linear").ideal
    assert check(Z, lab, probe="mlp").ideal
    assert not derive.exact(Z, lab).normalised_ideal_log_loss["reaches_optimum"]


def test_span_wording_counterexample():
    """S1.3 note: codes (1,0), (1,1), (1,2) have span rank 2 = C - 1 but affine rank 1: not ideal."""
    Z = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    lab = np.arange(3)
    assert np.linalg.matrix_rank(Z) == 2
    assert not check(Z, lab, probe="linear").ideal
    assert not derive.exact(Z, lab).normalised_ideal_log_loss["reaches_optimum"]
