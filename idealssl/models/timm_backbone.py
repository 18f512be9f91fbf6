"""timm backbones: ``model.arch=timm:<name>`` (``timm:resnet50``, ``timm:vit_small_patch16_224``, ...).

timm (PyTorch Image Models) is an optional dependency (``pip install 'idealssl[timm]'``), imported only
when a ``timm:`` architecture is asked for, so that the rest of the trainer never needs it.

What is built, and why
----------------------
``timm.create_model(name, pretrained=False, num_classes=0, in_chans=C[, img_size=S][, dynamic_img_size=True])``:

* ``num_classes=0`` removes timm's classifier, so the model returns pooled features (B, d) and d is the
  model's own ``num_features``; the objective's heads sit on top of it as for every other backbone;
* ``pretrained=False``: nothing is downloaded (SSL pretrains from scratch; nothing downloads at run time);
* ``in_chans`` follows the data (1 for digits, 3 for colour images);
* ``img_size=S`` is passed only to models whose constructor takes it (ViTs, Swin, ...: their position
  embeddings fix the input size) and only when S differs from the model's default input size. Convnets
  take any size and are built without it;
* ``dynamic_img_size=True`` where the constructor takes it (ViTs): the position embeddings are resampled
  for other input sizes, so multi-crop's smaller local views pass; at size S it computes the same. A model
  that still cannot take a view size is refused in one line before training (:func:`check_input_sizes`).

The stem. idealssl's own ``resnet18``/``resnet50`` swap in a 3x3 stride-1 stem without max-pool for small
images. A timm backbone is built exactly as timm gives it, its own stem unchanged, so that the exported
weights load into ``timm.create_model(name, num_classes=0)`` with no idealssl code; ``model.small_stem=true``
is therefore refused, and the stem description (written to the log and ``env.json``) states what the
unchanged stem does to the data's image size (a stride-32 convnet takes 32 px images to a 1x1 map; a
patch-16 ViT sees 32 px images as 2x2 = 4 tokens). ``model.expand_dim`` (the paper's "+dim" block on a
feature map) is refused too: ViTs have no feature map, and the export would have no timm equivalent.
``model.width`` applies to ``convnet`` only and is ignored here.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError

PREFIX = "timm:"
#: examples shown in help texts and errors; the small ones train on a CPU in seconds
EXAMPLES = ("timm:resnet10t", "timm:vit_tiny_patch16_224", "timm:resnet50", "timm:vit_small_patch16_224")
MISSING = "model.arch={arch}: timm is not installed; pip install 'idealssl[timm]'"


def is_timm(arch) -> bool:
    """Whether ``arch`` names a timm backbone (``timm:<name>``)."""
    return str(arch).lower().startswith(PREFIX)


def import_timm(arch: str = "timm:<name>"):
    """The ``timm`` module, or a one-line :class:`InputError` naming the extra to install."""
    try:
        import timm
    except ModuleNotFoundError:
        raise InputError(MISSING.format(arch=arch)) from None
    return timm


class TimmEncoder(nn.Module):
    """A timm model without its classifier, as a backbone: images (B, C, H, W) -> features (B, d).

    Attributes
    ----------
    net : nn.Module
        The timm model (``num_classes=0``); its ``state_dict`` is what ``idealssl export`` writes.
    dim : int
        Representation dimension d (timm's ``num_features``).
    arch : str
        ``timm:<name>``.
    timm_name : str
        The name passed to ``timm.create_model``.
    create_kwargs : dict
        Every keyword passed to ``timm.create_model`` besides the name, so ``timm.create_model(timm_name,
        **create_kwargs)`` rebuilds this exact architecture (what the export records).
    stem : str
        What the (unchanged) stem does to the data's image size (logged).
    """

    def __init__(self, net: nn.Module, timm_name: str, create_kwargs: dict, stem: str):
        super().__init__()
        self.net = net
        self.dim = int(net.num_features)  # type: ignore[arg-type]  # timm models declare an int
        self.timm_name = timm_name
        self.arch = PREFIX + timm_name
        self.create_kwargs = dict(create_kwargs)
        self.stem = stem

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _default_size(timm, name: str) -> int | None:
    """The side of the model's default input (its pretrained configuration), or None when unknown."""
    try:
        cfg = timm.models.get_pretrained_cfg(name)
        return int(cfg.input_size[-1]) if cfg is not None and cfg.input_size else None
    except (AttributeError, RuntimeError, TypeError, ValueError):
        return None


def _create(timm, name: str, in_channels: int, image_size: int) -> tuple[nn.Module, dict]:
    """``timm.create_model`` with ``img_size`` and ``dynamic_img_size`` only where the constructor takes them.

    ``dynamic_img_size=True`` (ViTs) resamples the position embeddings for inputs of another size, so that
    multi-crop's smaller local views pass through; at the built size it computes the same as without it."""
    base = {"pretrained": False, "num_classes": 0, "in_chans": int(in_channels)}
    size = {} if image_size == _default_size(timm, name) else {"img_size": int(image_size)}
    tries = [dict(base, **size, dynamic_img_size=True), dict(base, **size), base]
    for i, kw in enumerate(tries):
        try:
            return timm.create_model(name, **kw), kw
        except TypeError as exc:
            if ("img_size" in str(exc) or "dynamic_img_size" in str(exc)) and i + 1 < len(tries):
                continue  # a constructor without that keyword (a convnet takes any size)
            raise InputError(f"model.arch=timm:{name}: timm could not build it ({exc})") from None
        except (RuntimeError, ValueError, AssertionError) as exc:
            raise InputError(f"model.arch=timm:{name}: timm could not build it ({exc})") from None
    raise AssertionError("unreachable: the last try returns or raises")


def check_input_sizes(enc: TimmEncoder, in_channels: int, sizes) -> None:
    """Refuse, in one line before training, view sizes the model cannot take (e.g. local crops for a model
    whose patch embedding is fixed to one size), instead of an assertion deep inside timm at step 1."""
    was = enc.training
    enc.eval()
    try:
        for s in sorted({int(x) for x in sizes}):
            try:
                with torch.no_grad():
                    enc(torch.zeros(1, int(in_channels), s, s))
            except (AssertionError, RuntimeError, ValueError) as exc:
                msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                raise InputError(
                    f"model.arch={enc.arch}: it cannot take {s} px views ({msg}); set views.size / views.local_size "
                    f"to sizes it takes, or views.n_local=0"
                ) from None
    finally:
        enc.train(was)


def _describe_stem(net: nn.Module, name: str, image_size: int) -> str:
    """One line on what timm's unchanged stem makes of ``image_size`` px images; refuses too-small inputs."""
    pe = getattr(net, "patch_embed", None)
    patch = getattr(pe, "patch_size", None)
    if patch is not None:
        p = int(patch[0] if isinstance(patch, (tuple, list)) else patch)
        g = image_size // p
        if g < 1:
            raise InputError(
                f"model.arch=timm:{name}: {image_size} px images are smaller than its {p} px patches; "
                f"use larger images (views.size=, data.fake_size=) or a model with smaller patches"
            )
        tokens = f"a {image_size} px image is {g}x{g} = {g * g} tokens"
        return f"timm {name}, its own patch-{p} embedding unchanged: {tokens}"
    info = getattr(net, "feature_info", None)
    try:
        r = int(info[-1]["reduction"]) if info else None
    except (KeyError, TypeError, IndexError):
        r = None
    if r is None:
        return f"timm {name}, its own stem unchanged"
    side = max(1, -(-image_size // r))
    return f"timm {name}, its own stem unchanged: total stride {r}, a {image_size} px image reaches {side}x{side}"


def build_timm(
    arch: str, in_channels: int, image_size: int, expand_dim: int | None = None, small_stem: bool | None = None
) -> TimmEncoder:
    """Build ``timm:<name>`` as a :class:`TimmEncoder` (see the module notes for every choice)."""
    timm, name = check_timm(arch, small_stem, expand_dim)
    net, kw = _create(timm, name, in_channels, image_size)
    kw = {k: v for k, v in kw.items() if k != "pretrained"}
    return TimmEncoder(net, name, kw, _describe_stem(net, name, int(image_size)))


def check_timm(arch: str, small_stem: bool | None = None, expand_dim: int | None = None):
    """``(timm, name)`` when ``timm:<name>`` can be built with these settings (timm installed, the model known to it,
    no small stem, no +dim block); a one-line :class:`InputError` otherwise. Nothing is built."""
    name = str(arch)[len(PREFIX) :].strip()
    if not name:
        raise InputError(f"model.arch={arch!r}: name the timm model, e.g. {', '.join(EXAMPLES[:2])}")
    if small_stem:
        raise InputError(
            f"model.small_stem=true is not available for {arch}: a timm backbone keeps timm's own stem so that "
            f"its export loads into timm.create_model({name!r}, num_classes=0); use arch resnet18/resnet50 for "
            f"idealssl's small-image stem, or a timm model made for small inputs"
        )
    if expand_dim:
        raise InputError(
            f"model.expand_dim is not available for {arch}: the +dim block needs a convolutional feature map, "
            f"and the export would have no timm equivalent"
        )
    timm = import_timm(arch)
    if not timm.is_model(name):
        import difflib

        near = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        hint = f"; close names: {', '.join(near)}" if near else "; see timm.list_models()"
        raise InputError(f"model.arch={arch!r}: timm has no model {name!r}{hint}")
    return timm, name
