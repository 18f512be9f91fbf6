"""The objectives' code (idealssl.objectives) agrees with the theory's derivations (statements.md S6-S8).

These tests read the objectives written under issue "objectives"; they compare, not re-implement.
"""

import math

import numpy as np
import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from idealssl import derive  # noqa: E402
from idealssl.theory_math import dissl_invariant_objective  # noqa: E402

cissl_mod = pytest.importorskip("idealssl.objectives.cissl")
dissl_mod = pytest.importorskip("idealssl.objectives.dissl")
vje_mod = pytest.importorskip("idealssl.objectives.vje")


# ------------------------------------------------------------------ S6: CISSL
@pytest.mark.parametrize("C,tau", [(3, 1.0), (5, 0.5), (8, 0.1)])
def test_cissl_batch_loss_at_the_simplex_is_Lstar_plus_log2(C, tau):
    """A batch of C samples, one per orbit, two identical views: every teacher vector appears twice
    among the candidates, so the batch loss is the ideal log loss + log 2 (S6.1); at the simplex it
    is L*(C, τ) + log 2."""
    S = torch.tensor(derive.regular_simplex(C), dtype=torch.float64)
    loss = cissl_mod.cissl_loss([S, S], [S, S], tau)
    assert float(loss) == pytest.approx(derive.ideal_log_loss_optimum(C, tau) + math.log(2), abs=1e-5)


def test_cissl_batch_loss_never_below_the_bound_for_unit_codes():
    gen = torch.Generator().manual_seed(0)
    C, tau = 5, 1.0
    bound = derive.ideal_log_loss_optimum(C, tau) + math.log(2)
    for d in (2, 4, 8):
        for _ in range(50):
            u = torch.randn(C, d, generator=gen, dtype=torch.float64)
            t = torch.randn(C, d, generator=gen, dtype=torch.float64)
            assert float(cissl_mod.cissl_loss([u, u], [t, t], tau)) >= bound - 1e-9


def test_cissl_batch_loss_with_several_samples_per_orbit_rewards_non_invariance():
    """Issue 11: with m same-orbit negative views of an anchor in the batch (other samples of its orbit),
    an invariant encoder (student and teacher constant on orbits) pays at least log(m + 2) per anchor:
    its own two views and the m others share one logit. Giving each sample its own direction goes below
    that bound: the batch form's self target rewards non-invariance (S6.1). The one-sample-per-orbit
    test above cannot see this."""
    gen = torch.Generator().manual_seed(0)
    orbit = torch.tensor([0, 0, 0, 1, 1, 2])
    counts = torch.bincount(orbit)
    m = 2 * (counts[orbit] - 1)  # same-orbit negative views of each sample's anchors
    bound = float(torch.log(m.double() + 2).mean())
    tau = 0.1
    for _ in range(30):  # invariant encoders: never below the bound
        u = torch.randn(3, 4, generator=gen, dtype=torch.float64)[orbit]
        t = torch.randn(3, 4, generator=gen, dtype=torch.float64)[orbit]
        assert float(cissl_mod.cissl_loss([u, u], [t, t], tau)) >= bound - 1e-9
    S = torch.tensor(derive.regular_simplex(6), dtype=torch.float64)  # one direction per sample
    loss = float(cissl_mod.cissl_loss([S, S], [S, S], tau))
    assert loss < bound - 0.5, (loss, bound)


# ------------------------------------------------------------------ S7: DISSL
@pytest.mark.parametrize("lam,beta", [(1.0, 0.8), (2.3, 0.8), (0.5, 0.0)])
def test_dissl_loss_at_invariant_teacher_and_matching_student_is_F(lam, beta):
    """Both views give the same teacher distribution (invariant) and the student equals the teacher:
    the batch loss equals (1+β) H(M^|X) − λ H(M^) (S7.1)."""
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 5, generator=gen, dtype=torch.float64) * 2
    loss, _ = dissl_mod.dissl_loss(
        [logits, logits],
        [logits, logits],
        lambda_maximality=lam,
        beta_det_inv=beta,
        teacher_temperature=1.0,
        student_temperature=1.0,
    )
    q = torch.softmax(logits, -1).numpy()
    assert float(loss) == pytest.approx(dissl_invariant_objective(q, lam, beta), abs=1e-5)


def test_dissl_loss_reaches_the_teacher_optimum_and_not_below():
    C, K, lam, beta = 4, 8, 2.3, 0.8
    opt = derive.dissl_teacher_optimum(C, K, lam, beta)
    q = torch.tensor(opt.teacher, dtype=torch.float64)
    logits = torch.log(q.clamp_min(1e-30))
    loss, _ = dissl_mod.dissl_loss(
        [logits, logits],
        [logits, logits],
        lambda_maximality=lam,
        beta_det_inv=beta,
        teacher_temperature=1.0,
        student_temperature=1.0,
    )
    assert float(loss) == pytest.approx(opt.value, abs=1e-6)
    gen = torch.Generator().manual_seed(2)
    for _ in range(100):
        t1, t2, s1, s2 = (torch.randn(C, K, generator=gen, dtype=torch.float64) * 3 for _ in range(4))
        loss, _ = dissl_mod.dissl_loss(
            [t1, t2],
            [s1, s2],
            lambda_maximality=lam,
            beta_det_inv=beta,
            teacher_temperature=1.0,
            student_temperature=1.0,
        )
        assert float(loss) >= opt.lower_bound - 1e-9


# ------------------------------------------------------------------ S8: VJE (reconstructed form)
def test_vje_gaussian_kl_matches_the_symbolic_integral():
    from theory.vje import MU, S, gaussian_kl_by_integration

    f = sp.lambdify((MU, S), gaussian_kl_by_integration(), "numpy")
    gen = torch.Generator().manual_seed(3)
    mu = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    logvar = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    expected = f(mu.numpy(), np.exp(0.5 * logvar.numpy())).sum(-1)
    assert np.allclose(vje_mod.gaussian_kl(mu, logvar).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("nu", [1.0, 3.0, 7.5])
@pytest.mark.parametrize("D", [1, 3, 16])
def test_vje_student_t_normaliser_matches_theory(nu, D):
    from theory.vje import student_t_log_normaliser

    expected = float(student_t_log_normaliser(sp.Float(nu), D))
    got = float(vje_mod._t_log_norm(torch.tensor(nu, dtype=torch.float64), D))
    assert got == pytest.approx(expected, abs=1e-10)


def test_vje_log_variance_terms_cancel_in_the_elbo():
    """S8.4: directional log-likelihood − KL has no log s term: it equals
    c − ((ν+D)/2) log(1 + δ²/ν) − ½ Σ (s² + μ² − 1)."""
    from theory.vje import student_t_log_normaliser

    gen = torch.Generator().manual_seed(4)
    N, D, nu = 5, 6, 4.0
    mu = torch.randn(N, D, generator=gen, dtype=torch.float64)
    logvar = torch.randn(N, D, generator=gen, dtype=torch.float64)
    u = torch.nn.functional.normalize(torch.randn(N, D, generator=gen, dtype=torch.float64), dim=1)
    m = torch.nn.functional.normalize(mu, dim=1)
    lhs = vje_mod.directional_log_lik(u, m, logvar, nu) - vje_mod.gaussian_kl(mu, logvar)
    s2 = logvar.exp()
    delta2 = ((u - m) ** 2 / s2).sum(-1)
    c = float(student_t_log_normaliser(sp.Float(nu), D))
    rhs = c - (nu + D) / 2 * torch.log1p(delta2 / nu) - 0.5 * (s2 + mu**2 - 1).sum(-1)
    assert torch.allclose(lhs, rhs, atol=1e-10)
