"""Write a checkpoint's backbone as a plain ``state_dict`` (loadable without idealssl).

Examples
--------
  idealssl export runs/digits-dissl/RUN --out backbone.pt
  idealssl export RUN/checkpoints/last.pt --out rn18.pt --format torchvision   # keys of torchvision.models.resnet18

``--format torchvision`` renames a ResNet trunk's keys to torchvision's (conv1, bn1, layer1..4), so
that ``torchvision.models.resnet18().load_state_dict(sd, strict=False)`` loads every trunk weight
(the fc layer stays missing; a small-image stem has a 3x3 conv1, so build the model with the same
stem). Not available with the +dim expansion block, which torchvision has no slot for.
"""
from __future__ import annotations

import argparse

_TV = {0: "conv1", 1: "bn1", 4: "layer1", 5: "layer2", 6: "layer3", 7: "layer4"}


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument("checkpoint", help="checkpoint file or run directory")
    p.add_argument("--out", required=True, help="output .pt file")
    p.add_argument("--part", choices=["backbone", "ema"], default="backbone")
    p.add_argument("--format", choices=["idealssl", "torchvision"], default="idealssl")


def to_torchvision(sd: dict) -> dict:
    from ..errors import InputError

    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if parts[0] == "expand" or parts[0] != "trunk":
            raise InputError("--format torchvision: the +dim expansion block has no torchvision equivalent")
        out[".".join([_TV[int(parts[1])]] + parts[2:])] = v
    return out


def run(args) -> int:

    from ..errors import InputError
    from . import checkpoint as C
    from .checkpoint import save_atomic

    path = C.resolve_checkpoint(args.checkpoint)
    ck = C.load(path)
    sd = ck["backbone"] if args.part == "backbone" else ck.get("ema")
    if sd is None:
        raise InputError(f"{path}: no EMA backbone in this checkpoint (method {ck['cfg']['method']})")
    if args.format == "torchvision":
        if not str(ck["arch"]).startswith("resnet"):
            raise InputError(f"--format torchvision needs a ResNet backbone, this one is {ck['arch']}")
        sd = to_torchvision(sd)
    sd = {k: v.detach().clone().cpu() for k, v in sd.items()}
    save_atomic(sd, args.out)
    print(f"wrote {len(sd)} tensors ({ck['arch']}, d={ck['dim']}, step {ck['step']}) to {args.out}")
    return 0
