"""Write a checkpoint's backbone as a plain ``state_dict`` (loadable without idealssl).

Examples
--------
  idealssl export runs/digits-dissl/RUN --out backbone.pt
  idealssl export RUN/checkpoints/last.pt --out rn18.pt --format torchvision   # and rn18.pt.json: the code to load it
  idealssl export RUN --out vit.pt        # a timm:<name> backbone: timm's keys, and vit.pt.json with the timm name

``--format`` (default ``auto``: ``timm`` for a ``timm:<name>`` backbone, ``idealssl`` otherwise):

* ``idealssl``: the keys of idealssl's own encoder (``trunk.*``, ``expand.*``; ``net.*`` for timm);
* ``torchvision`` renames a ResNet trunk's keys to torchvision's (conv1, bn1, layer1..4) and writes beside the
  file ``OUT.json`` whose ``code`` is the Python that builds the matching torchvision model (the run's input
  channels; the small-image stem's 3x3 stride-1 conv1 without max-pool where the run had it; ``fc`` replaced by
  ``Identity``, so ``model(x)`` is the (B, d) representation) and loads the file with ``strict=True``. Not
  available with the +dim expansion block, which torchvision has no slot for;
* ``timm`` (timm backbones only) writes timm's own keys, and beside the file ``OUT.json`` with the timm
  name and the constructor's keywords, so that
  ``timm.create_model(name, **kwargs).load_state_dict(torch.load(OUT, weights_only=True))`` loads every
  weight (kwargs: ``num_classes=0``, ``in_chans`` and, for ViTs trained at another size, ``img_size``).
"""

from __future__ import annotations

import argparse

from ..errors import InputError

_TV = {0: "conv1", 1: "bn1", 4: "layer1", 5: "layer2", 6: "layer3", 7: "layer4"}


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument("checkpoint", help="checkpoint file or run directory")
    p.add_argument("--out", required=True, help="output .pt file")
    p.add_argument("--part", choices=["backbone", "ema"], default="backbone")
    p.add_argument(
        "--format",
        choices=["auto", "idealssl", "torchvision", "timm"],
        default="auto",
        help="auto (default): timm for timm:<name> backbones, idealssl otherwise",
    )


def to_torchvision(sd: dict) -> dict:
    """idealssl ResNet trunk keys (``trunk.<i>.*``) -> torchvision's (``conv1``, ``bn1``, ``layer1..4``)."""

    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if parts[0] == "expand":
            raise InputError("--format torchvision: the +dim expansion block has no torchvision equivalent")
        if parts[0] != "trunk" or len(parts) < 3 or not parts[1].isdigit() or int(parts[1]) not in _TV:
            raise InputError(f"--format torchvision: key {k!r} is not part of an idealssl ResNet trunk")
        out[".".join([_TV[int(parts[1])]] + parts[2:])] = v
    return out


def to_timm(sd: dict) -> dict:
    """A :class:`~idealssl.models.timm_backbone.TimmEncoder`'s keys (``net.*``) -> the timm model's own."""
    return {k[len("net.") :]: v for k, v in sd.items()}


def _timm_sidecar(backbone, out) -> dict:
    """What ``OUT.json`` records: the timm name, the constructor's keywords and how to load the file."""
    return {
        "timm_name": backbone.timm_name,
        "create_kwargs": backbone.create_kwargs,
        "dim": backbone.dim,
        "load": (
            f"timm.create_model({backbone.timm_name!r}, **create_kwargs).load_state_dict("
            f"torch.load({str(out)!r}, weights_only=True))"
        ),
    }


def torchvision_code(backbone, out) -> dict:
    """What ``OUT.json`` records for ``--format torchvision``: the model's name, its stem and the exact code that
    builds the matching ``torchvision.models.resnet*`` (read from the backbone's own conv1 and max-pool) and loads
    ``out`` into it with ``strict=True``."""
    from torch import nn

    conv1, pool = backbone.trunk[0], backbone.trunk[3]
    k, s, p = conv1.kernel_size[0], conv1.stride[0], conv1.padding[0]
    lines = [
        "import torch",
        "import torchvision",
        f"model = torchvision.models.{backbone.arch}(weights=None)",
        f"model.conv1 = torch.nn.Conv2d({conv1.in_channels}, {conv1.out_channels}, kernel_size={k}, stride={s},"
        f" padding={p}, bias=False)",
    ]
    if isinstance(pool, nn.Identity):
        lines.append("model.maxpool = torch.nn.Identity()")
    lines += [
        "model.fc = torch.nn.Identity()  # no classifier was trained: model(x) is the (B, d) representation",
        f"model.load_state_dict(torch.load({str(out)!r}, weights_only=True), strict=True)",
    ]
    return {
        "torchvision_model": backbone.arch,
        "in_channels": conv1.in_channels,
        "stem": backbone.stem,
        "dim": backbone.dim,
        "code": "\n".join(lines) + "\n",
    }


def run(args) -> int:
    """Refuse an ``--out`` that is the checkpoint read or one of its run's files; hold the run's lock while writing
    into it."""
    from pathlib import Path

    from . import checkpoint as C
    from .rundir import writing_into

    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give the file to write (e.g. {out / 'backbone.pt'})")
    path = C.resolve_checkpoint(args.checkpoint)
    with writing_into(C.run_dir_of(path), {out: ()}, [path], "idealssl export"):
        return _export(args, path, out)


def _export(args, path, out) -> int:
    """Load ``path``, convert its backbone to ``--format`` and write it to ``out`` (with the timm sidecar)."""
    import json

    from .. import atomic
    from . import checkpoint as C
    from .model import backbone_from_checkpoint
    from .rundir import guard_output

    ck = C.load(path)
    arch = str(ck.get("arch"))
    is_timm = arch.startswith("timm:")
    fmt = ("timm" if is_timm else "idealssl") if args.format == "auto" else args.format
    if fmt == "torchvision" and not arch.startswith("resnet"):
        raise InputError(f"--format torchvision needs a ResNet backbone, this one is {arch}")
    if fmt == "timm" and not is_timm:
        raise InputError(f"--format timm needs a timm:<name> backbone, this one is {arch}")
    side = out.with_name(out.name + ".json")
    if fmt in ("timm", "torchvision"):
        guard_output(side, [path], C.run_dir_of(path))
    backbone = backbone_from_checkpoint(ck, path, args.part)  # verified against the model it describes
    sd = backbone.state_dict()
    if fmt == "torchvision":
        sd = to_torchvision(sd)
    elif fmt == "timm":
        sd = to_timm(sd)
    sd = {k: v.detach().clone().cpu() for k, v in sd.items()}
    C.save_atomic(sd, out, digest=False)  # a plain state dict, loadable without idealssl
    print(f"wrote {len(sd)} tensors ({arch}, d={ck.get('dim')}, step {ck.get('step')}) to {out}")
    if fmt == "timm":
        meta = _timm_sidecar(backbone, out)
        atomic.write_text(side, json.dumps(meta, indent=2) + "\n", "timm description")
        print(f"wrote {side}: load with {meta['load']} (create_kwargs={meta['create_kwargs']})")
    elif fmt == "torchvision":
        meta = torchvision_code(backbone, out)
        atomic.write_text(side, json.dumps(meta, indent=2) + "\n", "torchvision description")
        print(f"wrote {side}: its 'code' builds the matching torchvision model and loads {out} (strict=True)")
    return 0
