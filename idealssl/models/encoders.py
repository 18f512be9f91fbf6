"""Backbones that map an image batch (B, C, H, W) to representations (B, d).

* ``resnet18`` / ``resnet50``: torchvision's architectures (randomly initialised; no weights are
  downloaded). For images of side <= 64 the stem is replaced by a 3x3 stride-1 convolution without
  max-pooling (the "CIFAR stem" of SimCLR's CIFAR experiments and of the ISSL TinyImageNet runs,
  Dubois et al. 2022, TinyImageNet experiments); the choice is returned in ``Encoder.stem`` and written to the log.
* ``convnet``: a small VGG-style network for 8x8 digits (3 conv-BN-ReLU blocks, one 2x2 pool,
  global average pooling).
* ``timm:<name>`` (``timm:resnet50``, ``timm:vit_small_patch16_224``, ...): any timm model without its
  classifier, built by :mod:`idealssl.models.timm_backbone` (optional install ``idealssl[timm]``; its own
  stem unchanged, so ``model.small_stem=true`` is refused there, with the reason).
* ``expand_dim``: the paper's "+dim" (Dubois et al. 2022, Sec. 6, "dimensionality"): before
  average pooling, a bottleneck residual block maps the C trunk channels to D > C channels
  (1x1 C->b, 3x3 b->b, 1x1 b->D, with a 1x1 projection shortcut), so that d = D. Theorem 1 requires
  d >= C - 1 (affine probes) for the orbit codes to be affinely independent; expansion lets d grow
  without widening the trunk.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .timm_backbone import TimmEncoder, build_timm, check_timm, is_timm


class ExpandBlock(nn.Module):
    """Bottleneck residual block that expands channels C -> D (the "+dim" of the ISSL paper)."""

    def __init__(self, c_in: int, c_out: int, bottleneck: int = 512):
        super().__init__()
        b = min(bottleneck, c_out)
        self.body = nn.Sequential(
            nn.Conv2d(c_in, b, 1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(inplace=True),
            nn.Conv2d(b, b, 3, padding=1, bias=False),
            nn.BatchNorm2d(b),
            nn.ReLU(inplace=True),
            nn.Conv2d(b, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


class Encoder(nn.Module):
    """trunk (feature map) -> optional expansion -> global average pool -> (B, d).

    Attributes
    ----------
    dim : int
        Representation dimension d.
    stem : str
        Human-readable description of the stem (logged).
    """

    def __init__(self, trunk: nn.Module, channels: int, expand_dim: int | None, stem: str, arch: str):
        super().__init__()
        self.trunk = trunk
        self.expand = ExpandBlock(channels, int(expand_dim)) if expand_dim else nn.Identity()
        self.dim = int(expand_dim) if expand_dim else int(channels)
        self.stem = stem
        self.arch = arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.trunk(x)).mean(dim=(2, 3))


#: what :func:`build_encoder` returns: every backbone carries ``dim``, ``arch`` and ``stem``
Backbone = Encoder | TimmEncoder


def _resnet(depth: int, in_ch: int, image_size: int, expand_dim, small_stem: bool | None) -> Encoder:
    import torchvision

    net = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[depth](weights=None)
    small = image_size <= 64 if small_stem is None else bool(small_stem)
    if small:
        net.conv1 = nn.Conv2d(in_ch, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
        stem = f"small-image stem: 3x3 stride-1 conv, no max-pool (image side {image_size} <= 64)"
    else:
        if in_ch != 3:
            net.conv1 = nn.Conv2d(in_ch, 64, 7, 2, 3, bias=False)
        stem = f"ImageNet stem: 7x7 stride-2 conv + 3x3 max-pool (image side {image_size} > 64)"
    channels = net.fc.in_features
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)
    return Encoder(trunk, channels, expand_dim, stem, f"resnet{depth}")


def _convnet(in_ch: int, image_size: int, expand_dim, width: int = 64) -> Encoder:
    w = int(width)

    def block(a, b):
        return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

    trunk = nn.Sequential(*block(in_ch, w), *block(w, w), nn.MaxPool2d(2), *block(w, 2 * w), *block(2 * w, 2 * w))
    return Encoder(
        trunk, 2 * w, expand_dim, f"convnet: 4 conv3x3-BN-ReLU (width {w}, {2 * w}), one 2x2 max-pool", "convnet"
    )


ENCODERS = ("resnet18", "resnet50", "convnet")


def build_encoder(
    arch: str,
    in_channels: int,
    image_size: int,
    expand_dim: int | None = None,
    small_stem: bool | None = None,
    width: int = 64,
) -> Backbone:
    """Build a backbone by name (``resnet18``, ``resnet50``, ``convnet``, ``timm:<name>``).

    Every backbone maps (B, C, H, W) to (B, d) and carries ``dim``, ``arch`` and ``stem`` (what the stem does,
    logged), so the trainer, the evaluation and the export treat them alike."""
    if is_timm(arch):
        return build_timm(str(arch).strip(), in_channels, image_size, expand_dim, small_stem)
    arch = str(arch).lower()
    if arch == "resnet18":
        return _resnet(18, in_channels, image_size, expand_dim, small_stem)
    if arch == "resnet50":
        return _resnet(50, in_channels, image_size, expand_dim, small_stem)
    if arch == "convnet":
        return _convnet(in_channels, image_size, expand_dim, width)
    raise InputError(_unknown(arch))


def _unknown(arch: str) -> str:
    return f"model.arch: unknown encoder {arch!r}; available: {', '.join(ENCODERS)}, timm:<name>"


def check_arch(arch: str, small_stem: bool | None = None, expand_dim: int | None = None) -> None:
    """Refuse, before anything is built, a backbone :func:`build_encoder` would refuse by its name (a timm model
    unknown to timm, or timm missing; a small stem or +dim block on a timm model): one :class:`InputError`."""
    if is_timm(arch):
        check_timm(str(arch).strip(), small_stem, expand_dim)
    elif str(arch).lower() not in ENCODERS:
        raise InputError(_unknown(arch))
