"""RankMe, LiDAR and α-ReQ (idealssl.label_free) against direct implementations of the papers' formulas, closed
forms on constructed spectra, their invariances, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from idealssl import label_free as lf
from idealssl.errors import InputError


def _entropy_rank(v, eps):
    """exp(−Σ p log p), p_k = v_k/Σv + ε, written term by term (RankMe eq. 1; LiDAR Sec. 3)."""
    total = sum(abs(x) for x in v)
    h = 0.0
    for x in v:
        p = abs(x) / total + eps
        h -= p * math.log(p)
    return math.exp(h)


def _lidar_direct(Z, labels, delta, eps):
    """Thilak et al. Sec. 3, class by class: Σ_b over the class means, Σ_w pooled over the views, + δI."""
    classes = sorted(set(labels))
    d = Z.shape[1]
    mus = [Z[[i for i, l in enumerate(labels) if l == c]].mean(axis=0) for c in classes]
    mu = sum(mus) / len(mus)
    Sb = sum(np.outer(m - mu, m - mu) for m in mus) / (len(classes) - 1)
    Sw = np.zeros((d, d))
    for c, m in zip(classes, mus):
        for i, l in enumerate(labels):
            if l == c:
                Sw += np.outer(Z[i] - m, Z[i] - m)
    Sw = Sw / (len(Z) - len(classes)) + delta * np.eye(d)
    R = np.linalg.inv(scipy.linalg.sqrtm(Sw).real)
    lam = np.clip(np.linalg.eigvalsh(R @ Sb @ R), 0, None)
    return _entropy_rank(lam, eps)


def _orbit_set(seed, n=6, q=4, d=5, unequal=False):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, q + 3, size=n) if unequal else np.full(n, q)
    labels = np.repeat(np.arange(n), sizes)
    Z = rng.normal(size=(n, d))[labels] * 3 + rng.normal(size=(len(labels), d))
    return Z, labels


# ------------------------------------------------------------------------------------------------ RankMe
def test_effective_rank_of_r_equal_values_is_r():
    assert lf.effective_rank([2.0] * 7 + [0.0] * 3, eps=0.0) == pytest.approx(7.0, rel=1e-12)


def test_rankme_of_an_identity_like_spectrum_is_its_closed_form():
    d, eps = 6, 1e-7
    Z = np.vstack([3.0 * np.eye(d), np.zeros((4, d))])  # σ_1 = … = σ_d = 3
    p = 1 / d + eps
    assert lf.rankme(Z) == pytest.approx(math.exp(-d * p * math.log(p)), rel=1e-13)
    assert lf.rankme(Z, eps=0.0) == pytest.approx(d, rel=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_rankme_equals_the_direct_formula_and_the_torch_monitor(seed):
    torch = pytest.importorskip("torch")
    from idealssl import metrics

    Z = np.random.default_rng(seed).normal(size=(30, 8)) @ np.diag([5, 3, 2, 1, 1, 0.1, 0.01, 0])
    direct = _entropy_rank(np.linalg.svd(Z, compute_uv=False), 1e-7)
    assert lf.rankme(Z) == pytest.approx(direct, rel=1e-12)
    assert metrics.rankme(torch.from_numpy(Z)) == pytest.approx(lf.rankme(Z), rel=1e-10)


def test_rankme_is_rotation_and_scale_invariant_and_about_one_when_collapsed():
    Z, _ = _orbit_set(1)
    Q = np.linalg.qr(np.random.default_rng(2).normal(size=(5, 5)))[0]
    assert lf.rankme(Z @ Q) == pytest.approx(lf.rankme(Z), rel=1e-10)
    assert lf.rankme(7.5 * Z) == pytest.approx(lf.rankme(Z), rel=1e-10)
    assert lf.rankme(np.outer(np.arange(1, 9), [1.0, 2.0, 0.5])) < 1.0 + 1e-4
    assert lf.rankme(np.zeros((4, 3))) < 1.0 + 1e-4  # a zero spectrum is collapse, not NaN


# ------------------------------------------------------------------------------------------------ LiDAR
def test_lidar_of_a_problem_with_known_scatters_is_its_closed_form():
    # 4 classes in d = 3: means ±u e1, ±v e2 (Σ_b = diag(2u², 2v², 0)/3); each class has the 2d views μ ± a e_k
    # (Σ_w = 2a² n I / (n(2d − 1)) = 2a²/5 I). Σ_lidar = Σ_b/(2a²/5 + δ).
    u, v, a, delta, eps = 2.0, 1.0, 0.5, 1e-4, 1e-8
    means = np.array([[u, 0, 0], [-u, 0, 0], [0, v, 0], [0, -v, 0]])
    offs = np.vstack([a * np.eye(3), -a * np.eye(3)])
    Z = (means[:, None, :] + offs[None]).reshape(-1, 3)
    labels = np.repeat(np.arange(4), 6)
    Sb, Sw, n = lf.lda_scatter(Z, labels)
    np.testing.assert_allclose(Sb, np.diag([2 * u**2, 2 * v**2, 0]) / 3, atol=1e-14)
    np.testing.assert_allclose(Sw, 2 * a**2 / 5 * np.eye(3), atol=1e-14)
    lam = np.array([2 * u**2, 2 * v**2, 0]) / 3 / (2 * a**2 / 5 + delta)
    res = lf.lidar(Z, labels)
    np.testing.assert_allclose(res.eigenvalues, lam, atol=1e-12)
    assert res.value == pytest.approx(_entropy_rank(lam, eps), rel=1e-12)
    assert (res.n_classes, res.n_points, res.delta, res.eps) == (4, 24, delta, eps)


@pytest.mark.parametrize("seed", range(4))
def test_lidar_equals_the_direct_formula_on_unequal_orbits(seed):
    Z, labels = _orbit_set(seed, unequal=True)
    for delta in (1e-4, 0.3):
        got = lf.lidar(Z, labels.tolist(), delta=delta).value
        assert got == pytest.approx(_lidar_direct(Z, labels.tolist(), delta, 1e-8), rel=1e-9)


def test_lidar_invariances():
    Z, labels = _orbit_set(3, n=8, q=5, d=4)
    rng = np.random.default_rng(4)
    Q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    base = lf.lidar(Z, labels).value
    assert lf.lidar(Z @ Q + rng.normal(size=4), labels).value == pytest.approx(base, rel=1e-9)
    assert lf.lidar(3.0 * Z, labels, delta=9e-4).value == pytest.approx(base, rel=1e-9)  # δ carries units
    A = rng.normal(size=(4, 4))  # δ = 0: invariant under any invertible linear map (LDA)
    assert lf.lidar(Z @ A, labels, delta=0.0).value == pytest.approx(lf.lidar(Z, labels, delta=0.0).value, rel=1e-7)
    perm = rng.permutation(len(Z))  # the order of the points does not matter
    assert lf.lidar(Z[perm], labels[perm]).value == pytest.approx(base, rel=1e-9)


def test_lidar_is_at_most_the_number_of_orbits_minus_one():
    Z, labels = _orbit_set(5, n=3, q=6, d=5)
    assert lf.lidar(Z, labels).value <= 2 + 1e-6


# ------------------------------------------------------------------------------------------------ α-ReQ
@pytest.mark.parametrize("alpha", [0.6, 1.0, 1.7])
def test_alpha_req_recovers_the_exponent_of_an_exact_power_law(alpha):
    N, d = 300, 120
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, d))
    Q = np.linalg.qr(X - X.mean(axis=0))[0]  # orthonormal columns orthogonal to the ones vector
    lam = np.arange(1, d + 1, dtype=float) ** -alpha
    Z = Q * np.sqrt(lam * (N - 1))
    res = lf.alpha_req(Z @ np.linalg.qr(rng.normal(size=(d, d)))[0] * 4.0)  # rotated and scaled
    assert res.alpha == pytest.approx(alpha, rel=1e-9)
    assert res.r2 == pytest.approx(1.0, abs=1e-12) and res.ranks == (6, 100)


def test_alpha_req_weighted_fit_equals_a_direct_weighted_regression():
    Z, _ = _orbit_set(6, n=40, q=3, d=30)
    res = lf.alpha_req(Z, ranks=(2, 25))
    Zc = Z - Z.mean(0)
    lam = np.sort(np.linalg.eigvalsh(Zc.T @ Zc / (len(Z) - 1)))[::-1]
    k = np.arange(2, 26)
    # weighted least squares by the normal equations, weights 1/k
    A = np.stack([-np.log(k), np.ones(len(k))], 1)
    W = np.diag(1.0 / k)
    coef = np.linalg.solve(A.T @ W @ A, A.T @ W @ np.log(lam[1:25]))
    assert res.alpha == pytest.approx(coef[0], rel=1e-8)


def test_alpha_req_is_nan_when_too_few_eigenvalues_are_positive():
    Z = np.random.default_rng(0).normal(size=(50, 2)) @ np.random.default_rng(1).normal(size=(2, 40))
    res = lf.alpha_req(Z)
    assert math.isnan(res.alpha) and res.ranks is None and res.n_positive == 2


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lf.rankme(np.array([1.0, np.nan])[None]), "non-finite"),
        (lambda: lf.rankme(np.ones(3)), "2-D"),
        (lambda: lf.rankme(np.array([["a"]])), "non-numeric"),
        (lambda: lf.rankme(np.zeros((0, 3))), "empty"),
        (lambda: lf.lidar(np.ones((4, 2)), [0, 0, 1]), "cover 3 points"),
        (lambda: lf.lidar(np.ones((4, 2)), [0, 0, 0, 0]), "at least 2 orbits"),
        (lambda: lf.lidar(np.ones((3, 2)), [0, 1, 2]), "at least 2 points"),
        (lambda: lf.lidar(np.eye(4)[[0, 0, 1, 1]], [0, 0, 1, 1], delta=0.0), "singular"),
        (lambda: lf.lidar(np.eye(4), [0, 0, 1, 1], delta=-1.0), "delta"),
        (lambda: lf.alpha_req(np.eye(4), ranks=(0, 3)), "ranks"),
        (lambda: lf.alpha_req(np.ones((1, 3))), "at least 2 points"),
    ],
)
def test_bad_input_raises_one_line_input_error(call, match):
    with pytest.raises(InputError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
