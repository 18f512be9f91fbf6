"""``model.channels_last``: where ``auto`` turns it on, and that it changes the memory layout, not the numbers."""

import pytest
import torch

from idealssl.models import build_encoder
from idealssl.train.loop import CPU_CHANNELS_LAST, uses_channels_last


@pytest.mark.parametrize(
    "setting, arch, device, expected",
    [
        ("auto", "convnet", "cpu", True),
        ("auto", "resnet18", "cpu", True),
        ("auto", "ResNet50", "cpu", True),
        ("auto", "timm:vit_tiny_patch16_224", "cpu", False),  # not measured on a CPU: contiguous
        ("auto", "timm:vit_tiny_patch16_224", "cuda", True),
        (False, "convnet", "cuda", False),
        (True, "timm:resnet18", "cpu", True),
    ],
)
def test_auto_rule(setting, arch, device, expected):
    assert uses_channels_last(setting, arch, device) is expected


@pytest.mark.parametrize("arch", CPU_CHANNELS_LAST[:1] + CPU_CHANNELS_LAST[2:])  # resnet18 and convnet
def test_one_step_is_the_same_within_float_tolerance(arch):
    """A forward, a backward and one SGD step of each built-in encoder agree between the contiguous and the
    channels-last layouts to float32 rounding (the layouts reorder the convolutions' sums, nothing else)."""
    torch.manual_seed(0)
    x = torch.randn(8, 3, 16, 16)
    out = {}
    for cl in (False, True):
        torch.manual_seed(1)
        enc = build_encoder(arch, 3, 16, width=8)
        xx = x
        if cl:
            enc = enc.to(memory_format=torch.channels_last)
            xx = x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.SGD(enc.parameters(), lr=0.1)
        loss = enc(xx).square().mean()
        loss.backward()
        opt.step()
        out[cl] = (loss.detach(), enc(xx).detach(), [p.detach().clone() for p in enc.parameters()])
    (l0, z0, p0), (l1, z1, p1) = out[False], out[True]
    torch.testing.assert_close(l1, l0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(z1, z0, rtol=1e-4, atol=1e-5)
    for a, b in zip(p1, p0):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
