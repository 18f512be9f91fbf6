"""Pretrain an encoder with a self-supervised objective on an image dataset, then evaluate it.

Examples
--------
  idealssl train --method dissl --dataset digits              # embedded data, 20 s to 2 min on a 2-core CPU
  idealssl train --method cissl --dataset cifar10 --data-dir ~/data optim.epochs=200 views.strength=2
  idealssl train --method dissl --dataset digits --out runs/a  # then, after a kill:  ... --out runs/a --resume
  idealssl train --out runs/a --resume --epochs 120            # extend a run (other changes need --allow-changes)
  idealssl train --resume runs/a/checkpoints/epoch=30.pt --out runs/b   # branch a run into a new directory
  torchrun --nproc_per_node 2 -m idealssl.cli train --method simclr --dataset digits   # DDP (gloo on CPU)

Configuration order: built-in defaults < preset idealssl/configs/<dataset>.yaml < --config FILE <
flags < dotted overrides (section.key=value). --batch-size is global (all processes together);
the learning rate is scaled with it by optim.lr_scaling (none|linear|sqrt, relative to
optim.ref_batch=256), so it does not depend on the number of processes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument("--method", help="objective name (idealssl train --list-methods)")
    p.add_argument("--dataset", help="digits (default, embedded), cifar10, cifar100, stl10, tinyimagenet, imagenet, folder")
    p.add_argument("--data-dir", help="folder holding the dataset files (default $IDEALSSL_DATA or ./data)")
    p.add_argument("--config", help="YAML file with configuration overrides")
    p.add_argument("--out", help="run directory (default runs/<dataset>-<method>/<timestamp>-s<seed>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="continue: bare = the last checkpoint in --out; or a checkpoint / run directory "
                        "(with --out DIR: continue it in DIR)")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in a non-empty --out: its contents are moved to OUT.replaced-<time> (printed)")
    p.add_argument("--allow-changes", action="store_true",
                   help="on --resume, apply changed settings (--lr, --batch-size, optim.*, ...) instead of refusing")
    p.add_argument("--seed", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="global batch size (summed over processes)")
    p.add_argument("--lr", type=float, help="base learning rate (before optim.lr_scaling)")
    p.add_argument("--arch", help="resnet18, resnet50 or convnet")
    p.add_argument("--strength", type=float, help="augmentation strength s (Dubois et al. 2022)")
    p.add_argument("--probe", choices=["linear", "linear-nobias", "mlp"],
                   help="downstream probe family the theory configures for (default linear; theory.probe)")
    p.add_argument("--config-source", choices=["derived", "original"],
                   help="derived (default): apply idealssl derive's prescriptions; original: the presets' settings")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:i")
    p.add_argument("--precision", choices=["auto", "32", "bf16"])
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--fast-dev-run", action="store_true", help="5 steps, quick evaluation (smoke test)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    p.add_argument("--list-methods", action="store_true", help="list the registered objectives and exit")
    p.add_argument("--list-presets", action="store_true", help="list the shipped dataset presets and exit")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. optim.lr=1e-3 views.strength=2")


def run(args) -> int:
    import yaml

    from .config import list_presets, load_yaml, resolve

    if args.list_methods:
        from ..objectives import available

        print("\n".join(available()))
        return 0
    if args.list_presets:
        print("\n".join(list_presets()))
        return 0
    if args.resume and args.resume != "auto" and "=" in args.resume and not os.path.exists(args.resume):
        args.overrides = [args.resume] + list(args.overrides)  # `--resume key=value`: a bare --resume
        args.resume = "auto"
    old = None
    if args.resume:
        # a resume continues the run as it was configured: what this command does not set comes from the checkpoint
        from . import checkpoint as C

        if args.resume == "auto":
            path = C.find_last(args.out) if args.out else None
        else:
            path = C.resolve_checkpoint(args.resume)
        if path is not None:
            old = C.load(path)["cfg"]
        elif args.out and os.path.isfile(os.path.join(args.out, "config.yaml")):
            old = load_yaml(os.path.join(args.out, "config.yaml"))  # killed before its first checkpoint: same run again
        if old is not None:
            args.method = args.method or old.get("method")
            args.dataset = args.dataset or old.get("dataset")
            args.seed = old.get("seed") if args.seed is None else args.seed
    flags = {"data_dir": args.data_dir, "out": args.out, "seed": args.seed, "optim.epochs": args.epochs,
             "optim.batch_size": args.batch_size, "optim.lr": args.lr, "model.arch": args.arch,
             "views.strength": args.strength, "device": args.device, "train.precision": args.precision,
             "model.compile": args.compile, "theory.probe": args.probe, "theory.source": args.config_source}
    if args.no_progress:
        flags["train.progress"] = "off"
    cfg = resolve(args.method, args.dataset, args.config, flags, args.overrides, base=old)
    cfg["out"] = args.out
    keys = [k for k, v in flags.items() if v is not None] + [o.split("=", 1)[0].strip() for o in args.overrides or []]
    if args.config:
        keys += _dotted(load_yaml(args.config))
    explicit = {k: _get(cfg, k) for k in keys}
    if args.fast_dev_run:
        cfg["train"]["limit_steps"] = 5
        cfg["optim"]["epochs"] = 1
        cfg["eval"]["at_end"] = ["knn"]
    if args.print_config:
        print(yaml.safe_dump(cfg, sort_keys=False), end="")
        return 0
    from ..objectives import available

    if cfg["method"] not in available():
        from ..errors import InputError

        raise InputError(f"unknown method {cfg['method']!r}; available: {', '.join(available())}")
    from .loop import Interrupted, NonFiniteLoss, train

    try:
        res = train(cfg, resume=args.resume, explicit=explicit, allow_changes=args.allow_changes,
                    overwrite=args.overwrite)
    except NonFiniteLoss as exc:
        print(f"idealssl train: {exc}", file=sys.stderr)
        return 3
    except Interrupted as exc:
        print(f"idealssl train: {exc}; continue with: idealssl train --out {exc.path.parent.parent} --resume",
              file=sys.stderr)
        return 128 + int(exc.signum)
    if res:
        print(json.dumps({k: res[k] for k in ("run_dir", "method", "dataset", "seed")}))
    return 0


def _get(cfg: dict, key: str):
    node = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _dotted(d: dict, prefix: str = "") -> list:
    out = []
    for k, v in d.items():
        if k == "methods":
            continue
        if isinstance(v, dict) and k != "objective":
            out += _dotted(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}")
    return out
