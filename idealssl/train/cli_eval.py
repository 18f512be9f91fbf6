"""Evaluate a checkpoint: linear probe, k-NN, few-shot and one-class anomaly detection.

Examples
--------
  idealssl eval linear runs/digits-dissl/20260101-120000-s0        # a run directory or a .pt file
  idealssl eval knn RUN --knn-k 20 --knn-t 0.07
  idealssl eval all RUN --out eval.json
  idealssl eval check RUN --images 50 --views 4 [--class-orbits]   # RUN/check/: orbit set + idealssl check

Every number is written with its protocol (features, split, hyperparameters and how they were
chosen). The linear probe's weight decay is chosen on a validation split carved from train.
"""
from __future__ import annotations

import argparse
import json
import sys

PROTOCOLS = ("linear", "knn", "fewshot", "anomaly", "all", "check")


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument("protocol", choices=PROTOCOLS)
    p.add_argument("checkpoint", help="checkpoint file or run directory (uses checkpoints/last.pt)")
    p.add_argument("--data-dir", help="dataset folder (default: the one the run used)")
    p.add_argument("--knn-k", type=int)
    p.add_argument("--knn-t", type=float)
    p.add_argument("--fewshot-k", type=int)
    p.add_argument("--device", default="auto")
    p.add_argument("--weights", choices=["online", "ema"], default="online",
                   help="which backbone to evaluate when the run kept an EMA copy (default online)")
    p.add_argument("--out", help="write the results JSON here (default RUN/eval-<protocol>.json)")
    g = p.add_argument_group("check (train/orbit_sets.py)")
    g.add_argument("--images", type=int, help="held-out images M (default: the run's check.images)")
    g.add_argument("--views", type=int, help="augmented views V per image (default: the run's check.views)")
    g.add_argument("--class-orbits", action="store_true", help="one orbit per class (all views of its images)")
    g.add_argument("--probe", choices=["linear", "linear-nobias", "mlp"], help="probe family (default: the run's)")
    g.add_argument("--tol", type=float, help="tolerance of the verdict (default: the run's check.tol)")


def run(args) -> int:
    import torch

    from ..data.datasets import load_dataset
    from ..data.views import ViewGenerator
    from ..errors import InputError
    from ..models import build_encoder
    from . import checkpoint as C
    from .loop import build_objective, evaluate_model, view_config

    path = C.resolve_checkpoint(args.checkpoint)
    ck = C.load(path)
    cfg = ck["cfg"]
    if args.data_dir:
        cfg["data_dir"] = args.data_dir
    for key, val in (("knn_k", args.knn_k), ("knn_t", args.knn_t), ("fewshot_k", args.fewshot_k)):
        if val is not None:
            cfg["eval"][key] = val
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    data = load_dataset(cfg["dataset"], cfg.get("data_dir"), cfg["data"])
    m = cfg["model"]
    backbone = build_encoder(m["arch"], int(ck["in_channels"]), int(ck["image_size"]), m["expand_dim"],
                             m["small_stem"], int(m["width"]))
    sd = ck["backbone"]
    if args.weights == "ema":
        if ck.get("ema") is None:
            raise InputError(f"{path}: this run kept no EMA backbone (method {cfg['method']})")
        sd = ck["ema"]
    backbone.load_state_dict(sd)
    objective = build_objective(cfg, backbone.dim)
    objective.load_state_dict({k[len("objective."):]: v for k, v in ck["model"].items() if k.startswith("objective.")})
    backbone.to(device)
    objective.to(device).eval()
    vcfg = view_config(cfg, data, int(getattr(objective, "n_global", 2)))
    views = ViewGenerator(vcfg, ck["mean"], ck["std"])
    if args.protocol == "check":
        from .orbit_sets import eval_check

        return eval_check(args, path, ck, backbone, data, views, int(vcfg.size), device)
    which = ["linear", "knn", "fewshot", "anomaly"] if args.protocol == "all" else [args.protocol]
    res = evaluate_model(backbone, objective, data, views, device, cfg, which=which)
    res = {"checkpoint": str(path), "method": cfg["method"], "dataset": data.name, "step": ck["step"],
           "weights": args.weights, **res}
    out = args.out or str(path.parent.parent / f"eval-{args.protocol}.json")
    with open(out, "w") as fh:
        json.dump(res, fh, indent=2)
    for name in which + (["anomaly_likelihood"] if "anomaly_likelihood" in res else []):
        r = res.get(name, {})
        val = r.get("top1", r.get("auroc_mean"))
        print(f"{name}: {val:.4f}  [{r.get('protocol', '')}]")
    print(f"written to {out}", file=sys.stderr)
    return 0
