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
        if parts[0] == "expand":
            raise InputError("--format torchvision: the +dim expansion block has no torchvision equivalent")
        if parts[0] != "trunk" or len(parts) < 3 or not parts[1].isdigit() or int(parts[1]) not in _TV:
            raise InputError(f"--format torchvision: key {k!r} is not part of an idealssl ResNet trunk")
        out[".".join([_TV[int(parts[1])]] + parts[2:])] = v
    return out


def run(args) -> int:
    from pathlib import Path

    from ..errors import InputError
    from . import checkpoint as C
    from .checkpoint import save_atomic
    from .model import backbone_from_checkpoint

    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give the file to write (e.g. {out / 'backbone.pt'})")
    path = C.resolve_checkpoint(args.checkpoint)
    ck = C.load(path)
    sd = backbone_from_checkpoint(ck, path, args.part).state_dict()  # verified against the model it describes
    if args.format == "torchvision":
        if not str(ck.get("arch")).startswith("resnet"):
            raise InputError(f"--format torchvision needs a ResNet backbone, this one is {ck['arch']}")
        sd = to_torchvision(sd)
    sd = {k: v.detach().clone().cpu() for k, v in sd.items()}
    save_atomic(sd, out, digest=False)  # a plain state dict, loadable without idealssl
    print(f"wrote {len(sd)} tensors ({ck.get('arch')}, d={ck.get('dim')}, step {ck.get('step')}) to {out}")
    return 0
