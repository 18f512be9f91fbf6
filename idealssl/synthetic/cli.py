"""Synthetic benchmarks on finite worlds where M(X) is known: run the claim tests, export worlds, report.

Usage::

    idealssl bench synthetic [--mode quick|full] [--experiments NAME ...] [--seeds S ...] [--steps N]
                             [--batch-regime one-per-orbit|iid] [--out DIR]
    idealssl bench export --world vector|digits|coarse [--level C] [--method NAME --dim D] --out DIR
    idealssl bench loop --world vector --method dissl|cissl|oracle|... --config derived|original --seed S --out DIR
    idealssl bench worlds
    idealssl bench report [--results DIR] [--readme README.md]

``synthetic`` writes ``DIR/<mode>/<experiment>.json`` (default DIR: synthetic/results);
``export`` writes ``representation.npy`` + ``orbits.json`` (+ ``world.json``) for ``idealssl check``:
the raw inputs by default, or the representation of an encoder trained on the world with ``--method``;
``report`` prints the claims table built from the result files (and rewrites the table between the
``<!-- claims:begin -->`` / ``<!-- claims:end -->`` markers of ``--readme``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..errors import InputError
from .worlds import OVERWRITE_HELP, claim_out, named_world

EXAMPLES = """examples:
  idealssl bench worlds                                  # the suite's finite worlds (C orbits, dimensions)
  idealssl bench synthetic                               # every claim test, quick settings (minutes on a CPU)
  idealssl bench synthetic --experiments dimension --seeds 0 1 --steps 300 --out /tmp/bench
  idealssl bench report --results /tmp/bench --mode quick        # the claims table from those result files
  idealssl bench export --world vector --out w && idealssl check w/representation.npy --augs w/orbits.json
  idealssl bench export --world digits --method dissl --dim 19 --out d   # a trained encoder's representation
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    sub = parser.add_subparsers(dest="bench_command", metavar="SUITE")
    p = sub.add_parser("synthetic", help="train objectives on finite worlds and test the theory's claims")
    p.add_argument(
        "--mode",
        choices=("quick", "full"),
        default="quick",
        help="quick: CI settings (a few minutes, one seed); full: the recorded tables (3 seeds, 1000 steps)",
    )
    p.add_argument(
        "--experiments",
        nargs="+",
        metavar="NAME",
        help="dimension, methods, coarseness, loss_vs_accuracy, dissl_threshold (default: all)",
    )
    p.add_argument("--seeds", nargs="+", type=int, metavar="S", help="override the mode's seeds")
    p.add_argument("--steps", type=int, help="override the mode's training steps")
    p.add_argument(
        "--batch-regime",
        choices=("one-per-orbit", "iid"),
        help="override the regime of the claims about the paper (default one-per-orbit: each batch draws "
        "min(batch, C) distinct orbits; iid: anchors i.i.d. over the inputs)",
    )
    p.add_argument("--out", default="synthetic/results", help="results directory (default: synthetic/results)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")

    e = sub.add_parser("export", help="write representation.npy + orbits.json of a world for idealssl check")
    e.add_argument(
        "--world",
        choices=("vector", "digits", "coarse"),
        default="vector",
        help="vector: the suite's shift world (C=16); coarse: the coarseness world (C=32); digits: 8x8 digits (C=20)",
    )
    e.add_argument("--level", type=int, help="coarsen to the level with this many orbits (coarseness family)")
    e.add_argument("--seed", type=int, default=0, help="world and training seed")
    e.add_argument(
        "--method", help="train this objective (or 'oracle') and export its representation instead of the raw inputs"
    )
    e.add_argument("--dim", type=int, help="representation dimension when training (default C-1)")
    e.add_argument("--steps", type=int, default=1000, help="training steps (default 1000)")
    e.add_argument("--out", required=True, help="output directory (new or empty)")
    e.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)

    from .loop import configure_cli as _loop_cli

    _loop_cli(sub.add_parser("loop", help="derive, train (one sample per orbit per batch), export, check one encoder"))

    sub.add_parser("worlds", help="describe the suite's worlds")

    r = sub.add_parser("report", help="print the claims table from the result files")
    r.add_argument("--results", default="synthetic/results", help="results directory (default: synthetic/results)")
    r.add_argument("--mode", choices=("quick", "full"), default="full")
    r.add_argument("--readme", help="rewrite the table between the claims markers of this markdown file")
    parser.set_defaults(_bench_parser=parser)


def run(args) -> int:
    cmd = getattr(args, "bench_command", None)
    if cmd is None:
        args._bench_parser.print_help()
        return 2
    if cmd == "worlds":
        from . import experiments as E

        for name in ("vector", "coarse", "digits"):
            w = named_world(name, 0)
            fam = " -> ".join(str(x.C) for x in w.coarseness_family())
            print(
                f"{name:7s} {w.name}: N={w.N}, C={w.C}, classes={w.n_classes}, input {tuple(w.input_shape)}, "
                f"coarseness levels C = {fam}"
            )
            builder = getattr(E, {"vector": "main_world", "coarse": "coarse_world", "digits": "image_world"}[name])
            print(f"        {(builder.__doc__ or '').split(chr(10))[0]}")
        return 0
    if cmd == "export":
        return _export(args)
    if cmd == "loop":
        from .loop import run_cli

        return run_cli(args)
    if cmd == "report":
        from .report import TBEGIN, claims_table, result_tables, update_readme, update_readme_tables

        table = claims_table(Path(args.results), args.mode)
        tables = result_tables(Path(args.results), args.mode)
        if args.readme:
            readme = Path(args.readme)
            if not readme.is_file():
                raise InputError(f"--readme {readme}: no such file")
            update_readme(readme, table)
            if TBEGIN in readme.read_text():
                update_readme_tables(readme, tables)
            print(f"updated {readme}")
        print(table)
        print()
        print(tables)
        return 0
    # synthetic
    if args.steps is not None and args.steps < 1:
        raise InputError(f"--steps must be >= 1, got {args.steps}")
    if args.seeds is not None and any(s < 0 for s in args.seeds):
        raise InputError("--seeds must be non-negative integers")
    if args.threads < 0:
        raise InputError(f"--threads must be >= 0, got {args.threads}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out}: exists and is not a directory")
    import torch

    from .experiments import run_suite

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    res = run_suite(
        args.mode, args.experiments, args.out, seeds=args.seeds, steps=args.steps, batch_regime=args.batch_regime
    )
    n_claims = [c for r in res.values() for c in r["verdict"]["claims"]]
    held = sum(c.get("held") is True for c in n_claims)
    failed = sum(c.get("held") is False for c in n_claims)
    print(
        f"{len(res)} experiments in {time.perf_counter() - t0:.1f} s; claims held {held}, failed {failed}, "
        f"other {len(n_claims) - held - failed}; results in {Path(args.out) / args.mode}"
    )
    return 0


def _export(args) -> int:
    from .worlds import export

    if args.steps < 1:
        raise InputError(f"--steps must be >= 1, got {args.steps}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out}: exists and is not a directory")
    w = named_world(args.world, args.seed)
    if args.level is not None:
        levels = {x.C: x for x in w.coarseness_family()}
        if args.level not in levels:
            raise InputError(
                f"--level {args.level}: the {args.world} world's coarseness levels are "
                f"{', '.join(map(str, sorted(levels)))}"
            )
        w = levels[args.level]
    claim_out(Path(args.out), args.overwrite)
    Z = None
    info = {"world": w.name, "N": w.N, "C": w.C}
    if args.method:
        if args.dim is not None and args.dim < 1:
            raise InputError(f"--dim must be >= 1, got {args.dim}")
        from .experiments import method_hparams
        from .train import TrainConfig, embed, train

        dim = args.dim or w.C - 1
        hp = {} if args.method == "oracle" else method_hparams(args.method.lower())
        res = train(w, TrainConfig(method=args.method, dim=dim, steps=args.steps, hparams=hp, seed=args.seed))
        Z = embed(res["encoder"], w)
        info.update(method=args.method, dim=dim, steps=args.steps, train_seconds=round(res["seconds"], 2))
    paths = export(w, args.out, Z)
    print(json.dumps({**info, "files": paths}))
    return 0
