import pytest
import torch

from idealssl.errors import InputError
from idealssl.objectives import Objective, ObjectiveOutput, available, build

from .conftest import small_kwargs

EXPECTED = {"cissl", "dissl", "simclr", "dino", "swav", "byol", "vicreg", "barlow", "vje"}


def test_available_lists_every_registered_name():
    from idealssl.objectives.base import _REGISTRY

    names = available()
    assert names == sorted(names)
    # the package's own objectives are exactly EXPECTED (other tests may register tiny objectives of their own)
    ours = {n for n in names if _REGISTRY[n].__module__.startswith("idealssl.objectives.")}
    assert ours == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_build_forward_backward_contract(name):
    dim, b = 12, 8
    obj = build(name.upper(), dim, **small_kwargs(name, dim))
    assert isinstance(obj, Objective) and obj.name == name
    views = [torch.randn(b, dim, requires_grad=True) for _ in range(obj.n_global)]
    targets = [torch.randn(b, dim) for _ in range(obj.n_global)] if obj.momentum_backbone else None
    out = obj(views, targets)
    assert isinstance(out, ObjectiveOutput)
    assert out.loss.dim() == 0 and torch.isfinite(out.loss)
    assert "loss" in out.logs
    for k, v in out.logs.items():
        assert not (isinstance(v, torch.Tensor) and v.requires_grad), k
    out.loss.backward()
    assert all(v.grad is not None and torch.isfinite(v.grad).all() for v in views)
    obj.update(0, 10)
    m = obj.momentum(0, 10)
    assert 0.0 <= m <= 1.0
    assert (m > 0) == obj.momentum_backbone


def test_unknown_name_and_hparam_are_input_errors():
    with pytest.raises(InputError, match="unknown method 'nope'; available: .*cissl"):
        build("nope", 4)
    with pytest.raises(KeyError):
        build("nope", 4)
    with pytest.raises(InputError, match="no hyperparameter 'tau'"):
        build("cissl", 4, tau=0.1)


@pytest.mark.parametrize("name", ["simclr", "cissl", "dissl"])
def test_bad_views_give_one_line_errors(name):
    obj = build(name, 6, **small_kwargs(name, 6))
    with pytest.raises(ValueError, match="at least 2 views"):
        obj([torch.randn(4, 6)])
    with pytest.raises(ValueError, match=r"shape \(B, 6\)"):
        obj([torch.randn(4, 6), torch.randn(4, 5)])
    with pytest.raises(ValueError, match="same batch size"):
        obj([torch.randn(4, 6), torch.randn(3, 6)])


ALL = sorted(EXPECTED)


def _inputs(obj, v, b=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(b, obj.dim, generator=g) for _ in range(v)]
    targets = [torch.randn(b, obj.dim, generator=g) for _ in range(obj.n_global)] if obj.momentum_backbone else None
    return views, targets


@pytest.mark.parametrize("name", ALL)
def test_multi_crop_two_global_two_local(name):
    obj = build(name, 12, **small_kwargs(name, 12))
    views, targets = _inputs(obj, 4)
    views = [v.requires_grad_(True) for v in views]
    out = obj(views, targets)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in views), "every crop must receive gradient"


@pytest.mark.parametrize("name", ALL)
def test_symmetric_in_the_two_global_views(name):
    extra = {"n_samples": 0} if name == "vje" else {}
    obj = build(name, 12, **small_kwargs(name, 12), **extra)
    views, targets = _inputs(obj, 2)
    state = {k: v.clone() for k, v in obj.state_dict().items()}
    a = obj(views, targets).loss.item()
    obj.load_state_dict(state)  # undo centre / running-statistics updates
    b = obj(views[::-1], targets[::-1] if targets else None).loss.item()
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_documented(name):
    from idealssl.objectives.base import _REGISTRY

    available()
    doc = _REGISTRY[name].__doc__
    for needle in ("Parameters", "Examples", "math::", "build("):
        assert needle in doc, f"{name} docstring lacks {needle}"


@pytest.mark.parametrize("name", ALL)
def test_compact_presets_build_small_heads(name):
    from idealssl.objectives.presets import compact

    obj = build(name, 16, **compact(name, width=32))
    n_params = sum(p.numel() for p in obj.parameters())
    assert n_params < 20_000, n_params
    views, targets = _inputs(obj, 2)
    assert torch.isfinite(obj(views, targets).loss)


def test_compact_unknown_name():
    from idealssl.objectives.presets import compact

    with pytest.raises(InputError, match="no compact preset"):
        compact("moco")


@pytest.mark.parametrize("name", ALL)
def test_bf16_autocast_forward_backward(name):
    """Mixed precision: heads run in bf16, every loss is computed in float32 and stays finite."""
    obj = build(name, 12, **small_kwargs(name, 12))
    views, targets = _inputs(obj, 2)
    views = [v.requires_grad_(True) for v in views]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = obj(views, targets)
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    out.loss.backward()
    assert all(torch.isfinite(v.grad).all() for v in views)


@pytest.mark.parametrize(
    "name,bad",
    [
        ("cissl", {"temperature": -1.0}),
        ("dissl", {"probe": "rbf"}),
        ("dino", {"teacher_temp": 0.0}),
        ("vje", {"nu": -2.0}),
        ("simclr", {"out_dim": 0}),
    ],
)
def test_bad_hyperparameter_values_are_one_line_input_errors(name, bad):
    with pytest.raises(InputError) as info:
        build(name, 8, **bad)
    msg = str(info.value)
    assert msg.startswith(f"method {name!r}: ") and "\n" not in msg
