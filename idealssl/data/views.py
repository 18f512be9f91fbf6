"""Augmented views generated for a whole batch at once, on the training device.

The common way (a torchvision ``Compose`` applied to each PIL image inside ``DataLoader`` workers)
spends most of a small model's step in per-sample Python. Here every transform is a tensor
operation over the batch: one ``affine_grid``/``grid_sample`` for random resized crop + flip
(+ optional rotation), per-sample factors broadcast for colour jitter, a grouped separable
convolution for Gaussian blur, ``torch.where`` for grayscale and solarisation. All randomness comes
from one ``torch.Generator`` on the device, whose state the trainer checkpoints, so a resumed run
draws exactly the views an uninterrupted run would.

Augmentation strength (Dubois et al. 2022, Sec. 3.2 and the TinyImageNet scripts of their released code,
github.com/YannDubs/Invariant-Self-Supervised-Learning): with strength ``s``, RandomResizedCrop(scale=(0.2/s, 1)),
ColorJitter (0.4s, 0.4s, 0.4s, 0.1s) with p=0.8, grayscale with p=0.1s; "coarse" augmentations are s=2 plus
Gaussian blur. Here ``scale[0]/s``, ``jitter * s`` and ``gray_p * s`` (capped at 1; hue capped at
0.5) implement the same knob for any base recipe.

Differences from torchvision, stated: a crop whose width or height would exceed the image is
clipped to the image (torchvision retries 10 times, then falls back to a centre crop); colour
jitter is applied in the fixed order brightness, contrast, saturation, hue (torchvision draws a
random order); hue is rotated in YIQ space (a linear map per image) instead of HSV; resampling is
bilinear without antialiasing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

PerView = float | Sequence[float]

_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


@dataclass
class ViewConfig:
    """Augmentation recipe (defaults: SimCLR's, as used by the ISSL paper at strength 1).

    Attributes
    ----------
    size : int
        Output side of the global crops.
    n_global : int
        Number of global views.
    scale, ratio : (float, float)
        Area fraction and aspect-ratio ranges of the random resized crop (ratio sampled log-uniformly).
    flip_p : float
        Horizontal flip probability.
    rotate : float
        Maximal absolute rotation in degrees (0 = none; useful for digits, which must not be flipped).
    jitter : (float, float, float, float)
        Brightness, contrast, saturation, hue strengths; applied with probability ``jitter_p``.
    gray_p : float
        Grayscale probability.
    blur_p, solarize_p : float or list of float
        Per global view probabilities (a scalar applies to every global view; BYOL uses [1.0, 0.1]
        and [0.0, 0.2]). Local crops use the first entry.
    blur_sigma : (float, float)
        Gaussian blur standard deviation range, in output pixels.
    strength : float
        The paper's augmentation strength ``s`` (see module docstring).
    n_local, local_size, local_scale : int, int, (float, float)
        Multi-crop: number, side and area range of the small local crops.
    """

    size: int = 32
    n_global: int = 2
    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    rotate: float = 0.0
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: PerView = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: PerView = 0.0
    strength: float = 1.0
    n_local: int = 0
    local_size: int = 16
    local_scale: tuple[float, float] = (0.05, 0.2)

    def effective(self) -> dict:
        """The recipe after applying the strength ``s`` (what the run actually uses)."""
        s = float(self.strength)
        j = self.jitter
        return dict(
            scale=(min(self.scale[0] / s, self.scale[1]), self.scale[1]),
            jitter=(j[0] * s, j[1] * s, j[2] * s, min(j[3] * s, 0.5)),
            gray_p=min(1.0, self.gray_p * s),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["effective"] = self.effective()
        return d


def _per_view(p: PerView, v: int) -> float:
    if isinstance(p, (int, float)):
        return float(p)
    return float(p[min(v, len(p) - 1)]) if len(p) else 0.0


class ViewGenerator:
    """Turn a uint8 batch (B, C, H, W) into a list of normalised float views, on ``x``'s device.

    Parameters
    ----------
    cfg : ViewConfig
    mean, std : sequence of float
        Per-channel normalisation applied after augmentation.
    generator : torch.Generator, optional
        Source of randomness (on the same device as the images). Its state is the only state.
    """

    def __init__(
        self, cfg: ViewConfig, mean: Sequence[float], std: Sequence[float], generator: torch.Generator | None = None
    ):
        self.cfg = cfg
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.g = generator
        eff = cfg.effective()
        self.scale, self.jitter, self.gray_p = eff["scale"], eff["jitter"], eff["gray_p"]

    # -- random numbers ----------------------------------------------------------------------------
    def _u(self, n: int, lo: float, hi: float, dev) -> torch.Tensor:
        return torch.rand(n, generator=self.g, device=dev) * (hi - lo) + lo

    def _bern(self, n: int, p: float, dev) -> torch.Tensor:
        return torch.rand(n, generator=self.g, device=dev) < p

    # -- geometric ---------------------------------------------------------------------------------
    def crop(self, x: torch.Tensor, size: int, scale: tuple[float, float]) -> torch.Tensor:
        """Random resized crop + horizontal flip (+ rotation) of every image, by one grid_sample.

        Crop area a ~ U(scale) (fraction of the image), aspect r ~ logU(ratio), width w = sqrt(a r),
        height h = sqrt(a / r) (fractions, clipped to 1), centre uniform where the crop fits; the
        sampling grid maps output coordinates u in [-1, 1]^2 to c + R(theta) diag(±w, h) u.
        """
        B, dev = x.shape[0], x.device
        a = self._u(B, scale[0], scale[1], dev)
        lr = self._u(B, math.log(self.cfg.ratio[0]), math.log(self.cfg.ratio[1]), dev)
        r = torch.exp(lr)
        w = torch.sqrt(a * r).clamp(max=1.0)
        h = torch.sqrt(a / r).clamp(max=1.0)
        cx = (self._u(B, -1.0, 1.0, dev)) * (1 - w)
        cy = (self._u(B, -1.0, 1.0, dev)) * (1 - h)
        flip = torch.where(self._bern(B, self.cfg.flip_p, dev), -1.0, 1.0)
        ang = self._u(B, -1.0, 1.0, dev) * math.radians(self.cfg.rotate)
        cos, sin = torch.cos(ang), torch.sin(ang)
        theta = torch.stack(
            [torch.stack([cos * w * flip, -sin * h, cx], 1), torch.stack([sin * w * flip, cos * h, cy], 1)], 1
        )
        grid = F.affine_grid(theta, [B, x.shape[1], size, size], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # -- photometric -------------------------------------------------------------------------------
    @staticmethod
    def _gray(x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            return x
        return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]

    def colour(self, x: torch.Tensor) -> torch.Tensor:
        """Colour jitter with probability ``jitter_p`` (per image), then grayscale with ``gray_p``."""
        B, dev = x.shape[0], x.device
        bj, cj, sj, hj = self.jitter
        on = self._bern(B, self.cfg.jitter_p, dev).view(B, 1, 1, 1)
        one = torch.ones(B, device=dev)
        b = torch.where(on.view(B), self._u(B, max(0.0, 1 - bj), 1 + bj, dev), one).view(B, 1, 1, 1)
        c = torch.where(on.view(B), self._u(B, max(0.0, 1 - cj), 1 + cj, dev), one).view(B, 1, 1, 1)
        s = torch.where(on.view(B), self._u(B, max(0.0, 1 - sj), 1 + sj, dev), one).view(B, 1, 1, 1)
        hue = torch.where(on.view(B), self._u(B, -hj, hj, dev), 0 * one)
        x = (x * b).clamp_(0, 1)
        m = self._gray(x).mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - m) * c + m).clamp_(0, 1)
        if x.shape[1] == 3:
            g = self._gray(x)
            x = ((x - g) * s + g).clamp_(0, 1)
            if hj > 0:
                # hue rotation by 2*pi*hue in YIQ space: x' = T^-1 R T x, one 3x3 matrix per image
                T = _RGB2YIQ.to(dev)
                Ti = torch.linalg.inv(T)
                t = 2 * math.pi * hue
                R = torch.zeros(B, 3, 3, device=dev)
                R[:, 0, 0] = 1
                R[:, 1, 1], R[:, 1, 2] = torch.cos(t), -torch.sin(t)
                R[:, 2, 1], R[:, 2, 2] = torch.sin(t), torch.cos(t)
                M = Ti @ R @ T
                x = torch.einsum("bij,bjhw->bihw", M, x).clamp_(0, 1)
            gmask = self._bern(B, self.gray_p, dev).view(B, 1, 1, 1)
            x = torch.where(gmask, self._gray(x).expand_as(x), x)
        return x

    def blur(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """Gaussian blur with probability p, sigma ~ U(blur_sigma), separable grouped convolution."""
        if p <= 0:
            return x
        B, C, H, W = x.shape
        dev = x.device
        mask = self._bern(B, p, dev)
        sig = self._u(B, *self.cfg.blur_sigma, dev)
        k = int(2 * math.ceil(3 * self.cfg.blur_sigma[1]) + 1)
        k = min(k, 2 * ((min(H, W) - 1) // 2) + 1)
        if k < 3:
            return x
        r = torch.arange(k, device=dev, dtype=x.dtype) - k // 2
        ker = torch.exp(-0.5 * (r[None] / sig[:, None]) ** 2)
        ker = ker / ker.sum(1, keepdim=True)  # (B, k)
        w = ker.repeat_interleave(C, 0)  # (B*C, k)
        y = x.reshape(1, B * C, H, W)
        y = F.conv2d(F.pad(y, (k // 2, k // 2, 0, 0), mode="reflect"), w.view(B * C, 1, 1, k), groups=B * C)
        y = F.conv2d(F.pad(y, (0, 0, k // 2, k // 2), mode="reflect"), w.view(B * C, 1, k, 1), groups=B * C)
        return torch.where(mask.view(B, 1, 1, 1), y.view(B, C, H, W), x)

    def solarize(self, x: torch.Tensor, p: float) -> torch.Tensor:
        if p <= 0:
            return x
        mask = self._bern(x.shape[0], p, x.device).view(-1, 1, 1, 1)
        return torch.where(mask & (x >= 0.5), 1.0 - x, x)

    # -- all views ---------------------------------------------------------------------------------
    def one_view(self, x01: torch.Tensor, size: int, scale, v: int) -> torch.Tensor:
        y = self.crop(x01, size, scale)
        y = self.colour(y)
        y = self.blur(y, _per_view(self.cfg.blur_p, v))
        y = self.solarize(y, _per_view(self.cfg.solarize_p, v))
        return (y - self.mean.to(y.device)) / self.std.to(y.device)

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Views of a uint8 batch: ``n_global`` global crops then ``n_local`` local crops."""
        x01 = x.float().div_(255.0)
        views = [self.one_view(x01, self.cfg.size, self.scale, v) for v in range(self.cfg.n_global)]
        ls = (min(self.cfg.local_scale[0] / self.cfg.strength, self.cfg.local_scale[1]), self.cfg.local_scale[1])
        views += [self.one_view(x01, self.cfg.local_size, ls, 0) for _ in range(self.cfg.n_local)]
        return views

    def plain(self, x: torch.Tensor, size: int | None = None) -> torch.Tensor:
        """Evaluation input: no augmentation, resized to ``size`` when it differs, normalised."""
        y = x.float().div(255.0)
        size = size or self.cfg.size
        if y.shape[-1] != size or y.shape[-2] != size:
            y = F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return (y - self.mean.to(y.device)) / self.std.to(y.device)
