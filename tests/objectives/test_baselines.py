"""DINO, SwAV, BYOL, VICReg and Barlow Twins against numpy references written from the papers' equations."""

import math

import numpy as np
import pytest
import torch

from idealssl.objectives import build
from idealssl.objectives.barlow import barlow_loss
from idealssl.objectives.byol import byol_loss
from idealssl.objectives.dino import dino_loss, teacher_probs, updated_center
from idealssl.objectives.swav import sinkhorn, swapped_prediction_loss
from idealssl.objectives.vicreg import vicreg_loss

from .conftest import np_log_softmax, small_kwargs


# ----------------------------------------------------------------------------------------------- DINO
def ref_dino(student, teacher, center, tau_s, tau_t):
    q = [np.exp(np_log_softmax((np.asarray(t, np.float64) - center) / tau_t)) for t in teacher]
    terms = []
    for ti, qt in enumerate(q):
        for vi, s in enumerate(student):
            if vi != ti:
                terms.append(np.mean(-(qt * np_log_softmax(np.asarray(s, np.float64) / tau_s)).sum(1)))
    return np.mean(terms)


@pytest.mark.parametrize("n,k,v,tau_t", [(4, 10, 2, 0.04), (9, 33, 4, 0.07)])
def test_dino_loss_matches_reference(n, k, v, tau_t):
    s = [torch.randn(n, k) for _ in range(v)]
    t = [torch.randn(n, k) for _ in range(2)]
    c = torch.randn(k) * 0.1
    q = [teacher_probs(x, c, tau_t) for x in t]
    got = dino_loss(s, q, 0.1).item()
    assert got == pytest.approx(ref_dino(s, t, c.numpy(), 0.1, tau_t), rel=1e-5)


def test_dino_closed_forms_and_schedules():
    # uniform teacher: CE = logsumexp(s/tau) - mean(s/tau)
    s = [torch.randn(5, 7) for _ in range(2)]
    q = [torch.full((5, 7), 1 / 7) for _ in range(2)]
    x = s[1] / 0.1
    expected = (torch.logsumexp(x, 1) - x.mean(1)).mean().item()
    x0 = s[0] / 0.1
    expected = 0.5 * (expected + (torch.logsumexp(x0, 1) - x0.mean(1)).mean().item())
    assert dino_loss(s, q, 0.1).item() == pytest.approx(expected, rel=1e-5)
    # centre EMA
    c = torch.ones(3)
    out = [torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[3.0, 2.0, 1.0]])]
    assert torch.allclose(updated_center(c, out, 0.9), 0.9 * c + 0.1 * torch.tensor([2.0, 2.0, 2.0]))
    obj = build(
        "dino", 8, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_frac=0.5, **small_kwargs("dino", 8)
    )
    assert obj.momentum(0, 100) == pytest.approx(0.996)
    assert obj.momentum(50, 100) == pytest.approx(0.998)
    assert obj.momentum(100, 100) == pytest.approx(1.0)
    obj.update(24, 100)  # step 25 of a 50-step warm-up
    assert obj.current_teacher_temp() == pytest.approx(0.04 + 0.03 * 25 / 50)
    obj.update(60, 100)
    assert obj.current_teacher_temp() == pytest.approx(0.07)


def test_dino_teacher_temperature_warm_up_as_a_run_sees_it():
    """The published schedule (main_dino.py: 0.04 -> 0.07 linearly over the warm-up, then 0.07) at every step of a
    run, step 0 included: the temperature each forward uses, the step counter set by ``update`` after it."""
    T, frac = 20, 0.3
    obj = build(
        "dino", 8, warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_frac=frac, **small_kwargs("dino", 8)
    )
    warm = int(frac * T)
    views = [torch.randn(4, 8), torch.randn(4, 8)]
    used = []
    for k in range(T):
        used.append(obj(views, targets=views).logs["teacher_temp"])
        obj.update(k, T)
    expected = [0.04 + 0.03 * k / warm if k < warm else 0.07 for k in range(T)]
    assert used == pytest.approx(expected)


def test_dino_gradients_and_teacher_ema():
    obj = build("dino", 8, freeze_last_layer_steps=1, **small_kwargs("dino", 8))
    views = [torch.randn(6, 8, requires_grad=True) for _ in range(3)]
    targets = [torch.randn(6, 8, requires_grad=True) for _ in range(2)]
    out = obj(views, targets)
    out.loss.backward()
    assert all(v.grad.abs().sum() > 0 for v in views)
    assert all(t.grad is None for t in targets)  # stop-gradient teacher
    assert all(p.grad is None for p in obj.teacher.parameters())
    assert obj.student.mlp[0].weight.grad.abs().sum() > 0
    assert obj.student.last_layer.grad.abs().sum() == 0  # frozen during step 0
    assert not torch.allclose(obj.center, torch.zeros_like(obj.center))
    with torch.no_grad():
        for p in obj.student.parameters():
            p.add_(1.0)
    before = [p.clone() for p in obj.teacher.parameters()]
    obj.update(0, 10)
    m = obj.momentum(0, 10)
    for b, pt, ps in zip(before, obj.teacher.parameters(), obj.student.parameters()):
        assert torch.allclose(pt, m * b + (1 - m) * ps, atol=1e-6)
    obj.zero_grad()
    obj(views, targets).loss.backward()
    assert obj.student.last_layer.grad.abs().sum() > 0  # unfrozen at step 1
    with pytest.raises(ValueError, match="targets"):
        obj(views)


# ----------------------------------------------------------------------------------------------- SwAV
def ref_sinkhorn(scores, eps, iters):
    q = np.exp(np.asarray(scores, np.float64) / eps)  # (N, K)
    n, k = q.shape
    q = q / q.sum()
    for _ in range(iters):
        for j in range(k):  # each prototype gets total mass 1/K
            q[:, j] = q[:, j] / q[:, j].sum() / k
        for i in range(n):  # each sample gets total mass 1/N
            q[i, :] = q[i, :] / q[i, :].sum() / n
    return q * n


@pytest.mark.parametrize("n,k,iters", [(6, 4, 3), (16, 30, 5), (32, 8, 1)])
def test_sinkhorn_matches_reference(n, k, iters):
    scores = (
        torch.nn.functional.normalize(torch.randn(n, 5), dim=1)
        @ torch.nn.functional.normalize(torch.randn(k, 5), dim=1).T
    )
    got = sinkhorn(scores, 0.05, iters).numpy()
    np.testing.assert_allclose(got, ref_sinkhorn(scores.numpy(), 0.05, iters), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-5)


def test_sinkhorn_converges_to_equipartition():
    scores = torch.randn(40, 8) * 0.3
    q = sinkhorn(scores, 0.05, 500).double()
    np.testing.assert_allclose(q.sum(0).numpy(), 40 / 8, rtol=1e-3)


def test_swapped_prediction_matches_reference():
    scores = [torch.randn(6, 5) for _ in range(4)]
    codes = [torch.softmax(torch.randn(6, 5), 1) for _ in range(2)]
    ref = np.mean(
        [
            np.mean(
                [
                    np.mean(-(codes[a].numpy() * np_log_softmax(scores[j].numpy() / 0.1)).sum(1))
                    for j in range(4)
                    if j != a
                ]
            )
            for a in range(2)
        ]
    )
    assert swapped_prediction_loss(scores, codes, 0.1).item() == pytest.approx(ref, rel=1e-5)


def test_swav_module_prototypes_queue_and_gradients():
    obj = build("swav", 8, freeze_prototypes_steps=1, queue_length=12, **small_kwargs("swav", 8))
    views = [torch.randn(6, 8, requires_grad=True) for _ in range(4)]
    out = obj(views)
    out.loss.backward()
    assert obj.prototypes.weight.grad.abs().sum() == 0  # frozen at step 0
    assert all(v.grad.abs().sum() > 0 for v in views)
    with torch.no_grad():
        obj.prototypes.weight.mul_(3.0)
    obj.update(0, 10)
    assert torch.allclose(obj.prototypes.weight.norm(dim=1), torch.ones(24), atol=1e-6)
    obj.zero_grad()
    obj(views).loss.backward()  # queue now has 12 rows = full
    assert obj._use_queue() and obj.prototypes.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------------------------- BYOL
def ref_byol(preds, targets):
    vals = []
    for ti, t in enumerate(targets):
        for vi, p in enumerate(preds):
            if vi != ti:
                pn = p / np.linalg.norm(p, axis=1, keepdims=True)
                tn = t / np.linalg.norm(t, axis=1, keepdims=True)
                vals.append(np.mean(((pn - tn) ** 2).sum(1)))
    return 2 * np.mean(vals)


@pytest.mark.parametrize("v", [2, 3])
def test_byol_loss_matches_reference_and_closed_forms(v):
    p = [torch.randn(7, 5, dtype=torch.float64) for _ in range(v)]
    t = [torch.randn(7, 5, dtype=torch.float64) for _ in range(2)]
    assert byol_loss(p, t).item() == pytest.approx(ref_byol([x.numpy() for x in p], [x.numpy() for x in t]), rel=1e-5)
    a = torch.randn(7, 5)
    assert byol_loss([a, a], [a, a]).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_loss([a, a], [-a, -a]).item() == pytest.approx(8.0, rel=1e-6)  # 2 * (2 - 2 * (-1))


def test_byol_gradients_stop_at_target_and_ema():
    obj = build("byol", 8, **small_kwargs("byol", 8))
    views = [torch.randn(6, 8, requires_grad=True) for _ in range(2)]
    targets = [torch.randn(6, 8, requires_grad=True) for _ in range(2)]
    obj(views, targets).loss.backward()
    assert all(v.grad.abs().sum() > 0 for v in views) and all(t.grad is None for t in targets)
    assert all(p.grad is None for p in obj.target_projector.parameters())
    assert all(p.grad is not None for p in obj.predictor.parameters())
    with torch.no_grad():
        for p in obj.projector.parameters():
            p.add_(1.0)
    before = [p.clone() for p in obj.target_projector.parameters()]
    obj.update(3, 10)
    m = obj.momentum(3, 10)
    assert m == pytest.approx(1 - (1 - 0.996) * (math.cos(math.pi * 0.3) + 1) / 2)
    for b, pt, po in zip(before, obj.target_projector.parameters(), obj.projector.parameters()):
        assert torch.allclose(pt, m * b + (1 - m) * po, atol=1e-6)


# ----------------------------------------------------------------------------------------------- VICReg
def ref_vicreg(x, y, lam=25.0, mu=25.0, nu=1.0):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n, d = x.shape
    inv = np.mean((x - y) ** 2)

    def var(z):
        return np.mean(np.maximum(0.0, 1.0 - np.sqrt(z.var(0, ddof=1) + 1e-4)))

    def cov(z):
        c = np.cov(z, rowvar=False)
        return (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / d

    return lam * inv + mu * (var(x) + var(y)) / 2 + nu * (cov(x) + cov(y))


@pytest.mark.parametrize("n,d", [(4, 3), (32, 16), (10, 40)])
def test_vicreg_matches_reference(n, d):
    x, y = torch.randn(n, d) * 0.7, torch.randn(n, d) * 1.3
    got, _ = vicreg_loss([x, y])
    assert got.item() == pytest.approx(ref_vicreg(x.numpy(), y.numpy()), rel=1e-4)
    assert got.item() == pytest.approx(vicreg_loss([y, x])[0].item(), rel=1e-6)


def test_vicreg_closed_forms():
    col = torch.ones(8, 5)
    loss, t = vicreg_loss([col, col])
    assert t["invariance"].item() == 0 and t["covariance"].item() == 0
    assert loss.item() == pytest.approx(25 * (1 - math.sqrt(1e-4)), rel=1e-5)
    # orthogonal, identical views with per-feature std >= 1: zero loss
    h = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]) * 2
    assert vicreg_loss([h, h])[0].item() == pytest.approx(0.0, abs=1e-6)


# ----------------------------------------------------------------------------------------------- Barlow
def ref_barlow(x, y, lambd=0.0051):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    xs = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    ys = (y - y.mean(0)) / np.sqrt(y.var(0) + 1e-5)
    c = xs.T @ ys / x.shape[0]
    on = sum((1 - c[i, i]) ** 2 for i in range(c.shape[0]))
    off = sum(c[i, j] ** 2 for i in range(c.shape[0]) for j in range(c.shape[1]) if i != j)
    return on + lambd * off


@pytest.mark.parametrize("n,d,lambd", [(5, 3, 0.0051), (32, 16, 0.1), (8, 20, 1.0)])
def test_barlow_matches_reference_and_is_symmetric(n, d, lambd):
    x, y = torch.randn(n, d) * 2 + 1, torch.randn(n, d)
    got, _ = barlow_loss([x, y], lambd)
    assert got.item() == pytest.approx(ref_barlow(x.numpy(), y.numpy(), lambd), rel=1e-4)
    assert got.item() == pytest.approx(barlow_loss([y, x], lambd)[0].item(), rel=1e-5)


def test_barlow_closed_forms():
    h = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert barlow_loss([h, h])[0].item() == pytest.approx(0.0, abs=1e-4)  # C = I
    assert barlow_loss([h, -h])[0].item() == pytest.approx(8.0, rel=1e-4)  # C = -I: sum (1+1)^2


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_are_finite(dtype):
    x = [(torch.randn(16, 8) * 3e4).clamp(-6e4, 6e4).to(dtype) for _ in range(2)]
    for val in (
        vicreg_loss(x)[0],
        barlow_loss(x)[0],
        byol_loss(x, x),
        dino_loss(x, [teacher_probs(t, torch.zeros(8), 0.04) for t in x], 0.1),
        swapped_prediction_loss(x, [sinkhorn(t.float() / 6e4) for t in x], 0.1),
    ):
        assert val.dtype == torch.float32 and torch.isfinite(val)


@pytest.mark.parametrize("name", ["vicreg", "barlow", "swav"])
def test_module_equals_reference_on_head_outputs(name):
    obj = build(name, 10, **small_kwargs(name, 10))
    views = [torch.randn(12, 10) for _ in range(2)]
    out = obj(views)
    with torch.no_grad():
        if name == "vicreg":
            z = obj.expander(torch.cat(views)).chunk(2)
            ref = ref_vicreg(z[0].numpy(), z[1].numpy())
        elif name == "barlow":
            z = obj.projector(torch.cat(views)).chunk(2)
            ref = ref_barlow(z[0].numpy(), z[1].numpy())
        else:
            z = torch.nn.functional.normalize(obj.head(torch.cat(views)), dim=1).chunk(2)
            s = [obj.prototypes(x).numpy() for x in z]
            q = [ref_sinkhorn(x, 0.05, 3) for x in s]
            ref = np.mean([np.mean(-(q[a] * np_log_softmax(s[1 - a] / 0.1)).sum(1)) for a in range(2)])
    assert out.loss.item() == pytest.approx(ref, rel=1e-4)


def test_ema_update_averages_parameters_and_copies_buffers():
    from torch import nn

    from idealssl.objectives.ema import ema_update_, frozen_copy

    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = frozen_copy(online)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    online(torch.randn(8, 3))  # moves the online running statistics
    before = [p.clone() for p in target.parameters()]
    ema_update_(target, online, 0.9)
    for pt, p0, po in zip(target.parameters(), before, online.parameters()):
        assert torch.allclose(pt, 0.9 * p0 + 0.1 * po)
    for bt, bo in zip(target.buffers(), online.buffers()):
        assert torch.equal(bt, bo)
