"""Evaluate a checkpoint: linear probe, k-NN, few-shot and one-class anomaly detection.

Examples
--------
  idealssl eval linear runs/digits-dissl/20260101-120000-s0        # a run directory or a .pt file
  idealssl eval knn RUN --knn-k 20 --knn-t 0.07
  idealssl eval knn RUN --knn-k 10 20 200 --knn-t 0.07 0.1    # a grid: every setting reported
  idealssl eval all RUN --out eval.json
  idealssl eval check RUN --images 50 --views 4 [--class-orbits]   # RUN/check/: orbit set + idealssl check
  idealssl eval check RUN --features both       # also RUN/check-projector/: the objective's projector

Every number is written with its protocol (features, split, hyperparameters and how they were
chosen). The linear probe's weight decay is chosen on a validation split carved from train.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import atomic
from ..errors import InputError
from .features import FOLDERS

PROTOCOLS = ("linear", "knn", "fewshot", "anomaly", "all", "check")


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument("protocol", choices=PROTOCOLS)
    p.add_argument("checkpoint", help="checkpoint file or run directory (uses checkpoints/last.pt)")
    p.add_argument("--data-dir", help="dataset folder (default: the one the run used)")
    p.add_argument("--knn-k", type=int, nargs="+", help="k, or several (a grid, each setting reported)")
    p.add_argument("--knn-t", type=float, nargs="+", help="temperature T, or several")
    p.add_argument("--fewshot-k", type=int)
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--weights",
        choices=["online", "ema"],
        default="online",
        help="which backbone to evaluate when the run kept an EMA copy (default online)",
    )
    p.add_argument(
        "--out",
        help="write the results JSON here (default RUN/eval-<protocol>.json; for a checkpoint "
        "outside a run's checkpoints/ folder, FILE-eval-<protocol>.json next to it)",
    )
    g = p.add_argument_group("check (train/orbit_sets.py)")
    g.add_argument("--images", type=int, help="held-out images M (default: the run's check.images)")
    g.add_argument("--views", type=int, help="augmented views V per image (default: the run's check.views)")
    g.add_argument("--class-orbits", action="store_true", help="one orbit per class (all views of its images)")
    g.add_argument("--probe", choices=["linear", "linear-nobias", "mlp"], help="probe family (default: the run's)")
    g.add_argument("--tol", type=float, help="tolerance of the verdict (default: the run's check.tol)")
    g.add_argument(
        "--features",
        choices=["backbone", "projector", "both"],
        help="the backbone's output (RUN/check/), the objective's projector (RUN/check-projector/) or both "
        "(default: the run's check.features)",
    )


def run(args) -> int:
    """Refuse an ``--out`` that is the checkpoint or one of the run's files; hold the run's lock while writing."""
    from . import checkpoint as C
    from .rundir import writing_into

    path = C.resolve_checkpoint(args.checkpoint)
    run_dir = C.run_dir_of(path)
    out = Path(output_path(args, path, run_dir))
    outs: dict[Path, tuple[str, ...]] = {out: (f"eval-{args.protocol}.json",)}
    if args.protocol == "check":
        checks = [(run_dir or path.parent) / folder / name for folder in FOLDERS.values() for name in CHECK_FILES]
        if any(out.resolve() == p.resolve() for p in checks):
            from ..errors import InputError

            raise InputError(
                f"--out {out} is one of the files eval check writes into {'/ or '.join(FOLDERS.values())}/; "
                "give another --out"
            )
        outs.update({p: (f"{p.parent.name}/*",) for p in checks})
    with writing_into(run_dir, outs, [path], "idealssl eval"):
        return _run(args, path, out)


#: what ``eval check`` writes into ``RUN/check/`` and ``RUN/check-projector/``
#: (:func:`idealssl.train.orbit_sets.run_check`)
CHECK_FILES = ("representation.npy", "orbits.json", "report.json", "orbit_set.json")


def output_path(args, path: Path, run_dir: Path | None) -> str:
    """``--out``, or ``RUN/eval-<protocol>.json``, or ``FILE-eval-<protocol>.json`` beside a loose checkpoint."""
    if args.out:
        return str(args.out)
    if run_dir is not None:
        return str(run_dir / f"eval-{args.protocol}.json")
    return str(path.parent / f"{path.stem}-eval-{args.protocol}.json")


def _run(args, path: Path, out: Path) -> int:
    """Load, evaluate and write (the run directory locked and the outputs guarded by :func:`run`)."""
    from . import checkpoint as C
    from .loop import evaluate_model

    ck = C.load(path)
    cfg, backbone, objective, data, views, device = load_for_eval(args, path, ck)
    if args.protocol == "check":
        from .orbit_sets import eval_check

        return eval_check(args, path, ck["step"], cfg, backbone, objective, data, views, device, out)
    which = ["linear", "knn", "fewshot", "anomaly"] if args.protocol == "all" else [args.protocol]
    res = evaluate_model(backbone, objective, data, views, device, cfg, which=which)
    res = {
        "checkpoint": str(path),
        "method": cfg.method,
        "dataset": data.name,
        "step": ck["step"],
        "weights": args.weights,
        **res,
    }
    atomic.write_text(out, json.dumps(res, indent=2), "results file")
    for name in which + (["anomaly_likelihood"] if "anomaly_likelihood" in res else []):
        r = res.get(name, {})
        val = r.get("top1", r.get("auroc_mean"))
        print(f"{name}: {val:.4f}  [{r.get('protocol', '')}]")
    for s in (res.get("knn_grid") or {}).get("settings", []):
        print(f"knn k={s['k']} T={s['temperature']:g}: {s['top1']:.4f}")
    print(f"written to {out}", file=sys.stderr)
    return 0


def load_for_eval(args, path: Path, ck: dict) -> tuple:
    """``(cfg, backbone, objective, data, views, device)`` of the checkpoint ``ck`` read from ``path``: its
    configuration checked whole (:func:`idealssl.train.config.from_run`), with this command's ``--data-dir``,
    ``--knn-k``, ``--knn-t`` and ``--fewshot-k`` (``args`` needs those, ``device`` and ``weights``); the one loader
    of ``idealssl eval`` and of the scripts that evaluate many checkpoints in one process (results/select/run.py)."""
    import torch

    from ..data.datasets import load_dataset
    from ..data.views import ViewGenerator
    from . import checkpoint as C
    from .config import from_run, validate, with_values
    from .loop import build_objective, view_config
    from .model import backbone_from_checkpoint

    cfg = from_run(ck["cfg"], str(path))
    given = {
        "data_dir": args.data_dir,
        "eval.knn_k": _one_or_list(args.knn_k),
        "eval.knn_t": _one_or_list(args.knn_t),
        "eval.fewshot_k": args.fewshot_k,
    }
    cfg = validate(with_values(cfg, {k: v for k, v in given.items() if v is not None}))
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.data)
    if args.weights == "ema" and ck.get("ema") is None:
        raise InputError(f"{path}: this run kept no EMA backbone (method {cfg.method})")
    backbone = backbone_from_checkpoint(ck, path, "ema" if args.weights == "ema" else "backbone", cfg)
    objective = build_objective(cfg, backbone.dim)
    try:
        objective.load_state_dict(
            {k[len("objective.") :]: v for k, v in ck["model"].items() if k.startswith("objective.")}
        )
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"{path}: the objective's state dict does not match {cfg.method!r} ({C.first_line(exc)})"
        ) from None
    backbone.to(device)
    objective.to(device).eval()
    views = ViewGenerator(view_config(cfg.views, data, int(getattr(objective, "n_global", 2))), ck["mean"], ck["std"])
    return cfg, backbone, objective, data, views, device


def _one_or_list(values: list | None):
    """An ``nargs="+"`` option as the configuration holds it: one value, or a list (a grid)."""
    if values is None:
        return None
    return values[0] if len(values) == 1 else values
