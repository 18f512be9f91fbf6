"""DISSL against a numpy reference written from the original implementation's equations."""

import math

import numpy as np
import pytest
import torch

from idealssl.objectives import build
from idealssl.objectives.dissl import dissl_loss

from .conftest import np_log_softmax, small_kwargs


def ref_dissl(tl, sl, lam, beta, tau_t, tau_s, ema=None, m=0.0):
    """loss = mean_{i!=j} CE(p_i, s_j) - lam * mean_i H(mean_n p_i) + beta * mean_{i!=j} CE(p_i, p_j)."""
    logp = [np_log_softmax(np.asarray(x, np.float64) / tau_t) for x in tl]
    p = [np.exp(x) for x in logp]
    logs = [np_log_softmax(np.asarray(x, np.float64) / tau_s) for x in sl]
    distill = np.mean([np.mean(-(p[i] * logs[j]).sum(1)) for i in range(len(p)) for j in range(len(logs)) if i != j])
    hs = []
    for pi in p:
        marg = pi.mean(0) if ema is None else m * ema + (1 - m) * pi.mean(0)
        hs.append(-(marg * np.log(marg)).sum())
    detinv = np.mean([np.mean(-(p[i] * logp[j]).sum(1)) for i in range(len(p)) for j in range(len(p)) if i != j])
    return distill - lam * np.mean(hs) + beta * detinv


@pytest.mark.parametrize(
    "n,c,v,lam,beta,tau_t,tau_s",
    [(4, 3, 2, 2.3, 0.8, 0.5, 1.0), (16, 50, 2, 1.0, 0.0, 0.2, 0.7), (9, 8, 4, 2.8, 0.4, 0.5, 1.0)],
)
def test_dissl_loss_matches_reference(n, c, v, lam, beta, tau_t, tau_s):
    tl = [torch.randn(n, c) * 3 for _ in range(2)]
    sl = [torch.randn(n, c) * 3 for _ in range(v)]
    got, terms = dissl_loss(tl, sl, lam, beta, tau_t, tau_s)
    ref = ref_dissl([x.numpy() for x in tl], [x.numpy() for x in sl], lam, beta, tau_t, tau_s)
    assert got.item() == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_ema_marginal_matches_reference():
    tl = [torch.randn(6, 5) for _ in range(2)]
    sl = [torch.randn(6, 5) for _ in range(2)]
    ema = torch.softmax(torch.randn(5), 0)
    got, _ = dissl_loss(tl, sl, 2.3, 0.8, 0.5, 1.0, ema_marginal=ema, ema_momentum=0.9)
    ref = ref_dissl([x.numpy() for x in tl], [x.numpy() for x in sl], 2.3, 0.8, 0.5, 1.0, ema.numpy(), 0.9)
    assert got.item() == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize("c,lam,beta", [(7, 2.3, 0.8), (64, 1.0, 0.4)])
def test_closed_form_uniform_teacher_and_student(c, lam, beta):
    z = [torch.zeros(5, c) for _ in range(2)]
    loss, terms = dissl_loss(z, z, lam, beta)
    assert loss.item() == pytest.approx((1 - lam + beta) * math.log(c), rel=1e-6)
    assert terms["H_M"].item() == pytest.approx(math.log(c), rel=1e-6)


def test_closed_form_deterministic_invariant_balanced_teacher():
    """Ideal teacher (one class per sample, same in both views) distilled perfectly: loss = -lambda log C'."""
    c = 8
    onehot = 60.0 * torch.eye(c)
    loss, terms = dissl_loss([onehot, onehot], [onehot, onehot], 2.3, 0.8)
    assert loss.item() == pytest.approx(-2.3 * math.log(c), abs=1e-4)
    # a collapsed deterministic teacher has zero maximality
    col = torch.zeros(c, c)
    col[:, 0] = 60.0
    _, t2 = dissl_loss([col, col], [col, col])
    assert t2["H_M"].item() == pytest.approx(0.0, abs=1e-5)


def test_symmetric_in_views():
    tl = [torch.randn(6, 5) for _ in range(2)]
    sl = [torch.randn(6, 5) for _ in range(2)]
    a, _ = dissl_loss(tl, sl)
    b, _ = dissl_loss(tl[::-1], sl[::-1])
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_large_logits_are_finite(dtype):
    tl = [(torch.randn(16, 32) * 3e4).clamp(-6e4, 6e4).to(dtype) for _ in range(2)]
    loss, terms = dissl_loss(tl, tl)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_module_equals_reference_and_logs():
    obj = build("dissl", 10, **small_kwargs("dissl", 10))
    views = [torch.randn(12, 10) for _ in range(3)]
    out = obj(views)
    with torch.no_grad():
        tl = obj.teacher(torch.cat(views[:2])).chunk(2)
        sl = obj.student(torch.cat(views)).chunk(3)
    ref = ref_dissl([x.numpy() for x in tl], [x.numpy() for x in sl], 2.3, 0.8, 0.5, 1.0)
    assert out.loss.item() == pytest.approx(ref, rel=1e-5, abs=1e-5)
    p = [np.exp(np_log_softmax(x.numpy() / 0.5)) for x in tl]
    h_mlz = np.mean([-(pi * np.log(pi)).sum(1).mean() for pi in p])
    assert float(out.logs["H_M_given_Z"]) == pytest.approx(h_mlz, rel=1e-5)
    assert set(out.logs) >= {"loss", "H_M", "H_M_given_Z", "KL_invariance", "KL_distillation"}
    assert obj.teacher_temperature == 0.5 and obj.categories == 32


def test_defaults_follow_the_original():
    obj = build("dissl", 8)
    assert (obj.categories, obj.lambda_maximality, obj.beta_det_inv) == (16384, 2.3, 0.8)
    assert (obj.teacher_temperature, obj.student_temperature) == (0.5, 1.0)
    assert obj.teacher[-1].out_features == 16384 and obj.student[-1].out_features == 16384


def test_gradient_reaches_teacher_through_every_term():
    """No stop-gradient: with only distillation (lambda = beta = 0), the teacher still learns."""
    obj = build("dissl", 10, lambda_maximality=0.0, beta_det_inv=0.0, **small_kwargs("dissl", 10))
    obj([torch.randn(8, 10), torch.randn(8, 10)]).loss.backward()
    assert obj.teacher[0].weight.grad.abs().sum() > 0
    assert obj.student[0].weight.grad.abs().sum() > 0


def test_student_is_linear_family_and_mlp_option():
    relu = lambda m: any(isinstance(x, torch.nn.ReLU) for x in m.modules())  # noqa: E731
    lin = build("dissl", 10, **small_kwargs("dissl", 10))
    mlp = build("dissl", 10, probe="mlp", **small_kwargs("dissl", 10))
    assert not relu(lin.student) and relu(lin.teacher) and relu(mlp.student)


def test_marginal_ema_buffer_moves_and_is_used():
    obj = build("dissl", 10, marginal_ema=0.9, marginal_ema_start=1, **small_kwargs("dissl", 10))
    views = [torch.randn(8, 10) for _ in range(2)]
    before = obj.marginal.clone()
    obj(views)
    assert not torch.allclose(before, obj.marginal)  # step 0: buffer initialised from the batch
    obj.update(0, 10)
    out = obj(views)
    with torch.no_grad():
        tl = obj.teacher(torch.cat(views)).chunk(2)
        sl = obj.student(torch.cat(views)).chunk(2)
    # the buffer was updated after the loss: recompute the one used
    m = 0.9
    used = (obj.marginal - (1 - m) * torch.stack([torch.softmax(x / 0.5, 1).mean(0) for x in tl]).mean(0)) / m
    ref = ref_dissl([x.numpy() for x in tl], [x.numpy() for x in sl], 2.3, 0.8, 0.5, 1.0, used.double().numpy(), m)
    assert out.loss.item() == pytest.approx(ref, rel=1e-4)


def _optimise_free_dissl(n_orbits, k, lam, beta=0.8, steps=300, seed=0):
    """Free per-(orbit, view) teacher and student logits: the population DISSL objective of a finite problem."""
    g = torch.Generator().manual_seed(seed)
    t = torch.nn.Parameter(torch.randn(2, n_orbits, k, generator=g))
    s = torch.nn.Parameter(torch.randn(2, n_orbits, k, generator=g))
    opt = torch.optim.Adam([t, s], lr=0.05)
    for _ in range(steps):
        loss, terms = dissl_loss([t[0], t[1]], [s[0], s[1]], lam, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    p = torch.softmax(t.detach() / 0.5, -1)
    h_cond = -(p * p.clamp_min(1e-30).log()).sum(-1).mean().item()
    return loss.item(), h_cond


def test_theory_minimum_is_minus_lambda_log_k_when_k_equals_orbits():
    """theory/statements.md S7.2: K = C: the minimiser is a deterministic, invariant, balanced teacher,
    value -lambda log K."""
    loss, h_cond = _optimise_free_dissl(4, 4, 2.3)
    assert loss == pytest.approx(-2.3 * math.log(4), abs=0.05)
    assert h_cond < 0.05


def test_theory_teacher_spreads_iff_lambda_exceeds_one_plus_beta():
    """theory/statements.md S7.3: K > C: spreading an orbit over k categories changes the loss by
    (1 + beta - lambda) log k."""
    _, h_spread = _optimise_free_dissl(4, 8, 2.3)  # 2.3 > 1.8: non-deterministic teacher
    _, h_det = _optimise_free_dissl(4, 8, 1.0)  # 1.0 < 1.8: deterministic teacher
    assert h_spread > 0.3 and h_det < 0.1, (h_spread, h_det)


def test_n_classes_is_a_deprecated_alias_of_categories():
    with pytest.warns(DeprecationWarning, match="categories"):
        obj = build("dissl", 8, n_classes=12, teacher_hidden_dim=8, bottleneck=4)
    assert obj.categories == 12 and obj.marginal.shape == (12,)


def test_dino_takes_entropy_from_the_shared_helpers():
    import idealssl.objectives.dino as dino
    import idealssl.objectives.functional as functional

    assert dino.entropy is functional.entropy
