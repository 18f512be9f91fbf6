"""SimCLR and CISSL against loop-based numpy references written from the equations."""

import math

import numpy as np
import pytest
import torch

from idealssl.objectives import build
from idealssl.objectives.cissl import cissl_loss
from idealssl.objectives.simclr import nt_xent_loss

from .conftest import np_log_softmax, np_normalize, small_kwargs


def ref_nt_xent(proj, tau):
    """SimCLR NT-Xent, one anchor at a time: positives = other views of the same sample, self excluded."""
    v, n = len(proj), proj[0].shape[0]
    g = np_normalize(np.concatenate([np.asarray(p, np.float64) for p in proj]))
    total = 0.0
    for a in range(v * n):
        others = [c for c in range(v * n) if c != a]
        logits = np.array([g[a] @ g[c] / tau for c in others])
        lse = np.log(np.exp(logits - logits.max()).sum()) + logits.max()
        pos = [k for k, c in enumerate(others) if c % n == a % n]
        total += np.mean([lse - logits[k] for k in pos])
    return total / (v * n)


def ref_cissl(student, teacher, tau):
    """CISSL: logits u_a . t_c / tau over ALL candidates (self included), target 1/V on the sample's views."""
    v, n = len(student), student[0].shape[0]
    u = np_normalize(np.concatenate([np.asarray(s, np.float64) for s in student]))
    t = np_normalize(np.concatenate([np.asarray(s, np.float64) for s in teacher]))
    total = 0.0
    for a in range(v * n):
        logp = np_log_softmax(u[a] @ t.T / tau)
        total += -sum(logp[c] for c in range(v * n) if c % n == a % n) / v
    return total / (v * n)


@pytest.mark.parametrize("n,k,tau,v", [(2, 3, 0.5, 2), (7, 5, 0.1, 2), (16, 8, 0.07, 3), (5, 2, 1.0, 4)])
def test_nt_xent_matches_reference(n, k, tau, v):
    proj = [torch.randn(n, k, dtype=torch.float64) * 3 for _ in range(v)]
    got = nt_xent_loss(proj, tau).item()
    assert got == pytest.approx(ref_nt_xent([p.numpy() for p in proj], tau), rel=1e-5)


@pytest.mark.parametrize("n,k,tau,v", [(2, 3, 0.5, 2), (7, 5, 0.1, 2), (16, 8, 0.07, 3), (5, 2, 1.0, 4)])
def test_cissl_loss_matches_reference(n, k, tau, v):
    s = [torch.randn(n, k) for _ in range(v)]
    t = [torch.randn(n, k) * 2 for _ in range(v)]
    got = cissl_loss(s, t, tau).item()
    assert got == pytest.approx(ref_cissl([x.numpy() for x in s], [x.numpy() for x in t], tau), rel=1e-5)


def test_cissl_is_not_simclr():
    """Self is a candidate in CISSL (and a target) but excluded in SimCLR: values differ."""
    x = [torch.randn(6, 4) for _ in range(2)]
    assert cissl_loss(x, x, 0.2).item() != pytest.approx(nt_xent_loss(x, 0.2).item(), rel=1e-3)


@pytest.mark.parametrize("n,v,tau", [(4, 2, 0.1), (9, 3, 0.5)])
def test_closed_forms_collapsed_and_aligned(n, v, tau):
    # collapsed: every output identical -> uniform softmax
    same = [torch.ones(n, 3) for _ in range(v)]
    assert nt_xent_loss(same, tau).item() == pytest.approx(math.log(v * n - 1), rel=1e-5)
    assert cissl_loss(same, same, tau).item() == pytest.approx(math.log(v * n), rel=1e-5)
    # perfectly aligned, orthogonal samples: views equal one-hot codes e_i
    e = [torch.eye(n) for _ in range(v)]
    w = math.exp(-1 / tau)
    assert cissl_loss(e, e, tau).item() == pytest.approx(math.log(v + v * (n - 1) * w), rel=1e-5, abs=1e-6)
    expected_simclr = math.log(v - 1 + v * (n - 1) * w)  # per positive: lse over others minus 1/tau
    assert nt_xent_loss(e, tau).item() == pytest.approx(expected_simclr, rel=1e-5, abs=1e-6)


def test_scale_invariance_and_view_symmetry():
    a, b = torch.randn(10, 6), torch.randn(10, 6)
    c, d = torch.randn(10, 6), torch.randn(10, 6)
    assert nt_xent_loss([a, b], 0.3).item() == pytest.approx(nt_xent_loss([b, a], 0.3).item(), rel=1e-6)
    assert nt_xent_loss([a, b], 0.3).item() == pytest.approx(nt_xent_loss([7 * a, 0.01 * b], 0.3).item(), rel=1e-5)
    assert cissl_loss([a, b], [c, d], 0.3).item() == pytest.approx(cissl_loss([b, a], [d, c], 0.3).item(), rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_large_logits_are_finite(dtype):
    x = [(torch.randn(32, 8) * 3e4).clamp(-6e4, 6e4).to(dtype) for _ in range(2)]
    for val in (nt_xent_loss(x, 0.01), cissl_loss(x, x, 0.01)):
        assert val.dtype == torch.float32 and torch.isfinite(val)


@pytest.mark.parametrize("name", ["simclr", "cissl"])
def test_module_equals_reference_on_its_head_outputs(name):
    torch.manual_seed(1)
    obj = build(name, 10, **small_kwargs(name, 10))
    views = [torch.randn(12, 10) for _ in range(2)]
    out = obj(views)
    z = torch.cat(views)
    with torch.no_grad():
        if name == "simclr":
            g = obj.head(z).chunk(2)
            ref = ref_nt_xent([x.numpy() for x in g], obj.temperature)
        else:
            s, t = obj.student(z).chunk(2), obj.teacher(z).chunk(2)
            ref = ref_cissl([x.numpy() for x in s], [x.numpy() for x in t], obj.temperature)
    assert out.loss.item() == pytest.approx(ref, rel=1e-5)


def test_cissl_heads_are_asymmetric_and_probe_family():
    lin = build("cissl", 10, **small_kwargs("cissl", 10))
    mlp = build("cissl", 10, probe="mlp", **small_kwargs("cissl", 10))
    relu = lambda m: any(isinstance(x, torch.nn.ReLU) for x in m.modules())  # noqa: E731
    assert not relu(lin.student) and relu(lin.teacher) and relu(mlp.student)
    with pytest.raises(ValueError, match="probe must be one of"):
        build("cissl", 10, probe="rbf")
    views = [torch.randn(8, 10, requires_grad=True) for _ in range(2)]
    lin(views).loss.backward()
    for head in (lin.student, lin.teacher):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert all(v.grad.abs().sum() > 0 for v in views)


def test_simclr_loss_decreases_when_views_align():
    torch.manual_seed(0)
    obj = build("simclr", 8, **small_kwargs("simclr", 8))
    z = torch.randn(16, 8, requires_grad=True)
    noise = torch.randn(16, 8)
    opt = torch.optim.Adam([z, *obj.parameters()], lr=1e-2)
    first = None
    for _ in range(30):
        loss = obj([z, z + 1.0 * noise]).loss
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def _fit_heads(symmetric, tau, seed, steps=400):
    """C = 4 invariant codes on a line (d = 1); teacher = free lookup table into R^3 (a universal head);
    student = the same table (symmetric, SimCLR-like) or a linear map of the code (CISSL, linear probe)."""
    torch.manual_seed(seed)
    z = torch.arange(4.0)[:, None]
    table = torch.nn.Parameter(torch.randn(4, 3))
    lin = torch.nn.Linear(1, 3)
    opt = torch.optim.Adam([table, *lin.parameters()], lr=0.05)
    for _ in range(steps):
        s = table if symmetric else lin(z)
        loss = cissl_loss([s, s], [table, table], tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def test_asymmetric_head_needs_an_ideal_representation():
    """theory/statements.md S6.2: with codes on a line (not affinely independent for C = 4), a universal symmetric head
    reaches the ETF optimum log(2 + 6 exp(-4/(3 tau))) while the probe-family (linear) student cannot."""
    tau = 0.5
    etf = math.log(2 + 6 * math.exp(-4 / (3 * tau)))
    assert _fit_heads(True, tau, 0) == pytest.approx(etf, abs=2e-3)
    assert min(_fit_heads(False, tau, s) for s in range(2)) > etf + 0.1
