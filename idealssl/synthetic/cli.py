"""Synthetic benchmarks on finite worlds where M(X) is known: run the claim tests, export worlds, report.

Usage::

    idealssl bench synthetic [--mode quick|full] [--experiments NAME ...] [--seeds S ...] [--steps N]
                             [--batch-regime one-per-orbit|iid] [--out DIR]
    idealssl bench export --world vector|digits|coarse [--level C] [--method NAME --dim D] --out DIR
    idealssl bench loop --world vector|paper [--orbits C] --method dissl|cissl|oracle|... --config derived|original
                        [--sampler iid|epoch|one-per-orbit] [--batch B] [--temperature T] [--hparam KEY=VALUE ...]
                        --seed S --out DIR
    idealssl bench worlds
    idealssl bench report [--results DIR] [--readme README.md] [--rejudge]

``synthetic`` writes ``DIR/<mode>/<experiment>.json`` (default DIR: synthetic/results);
``export`` writes ``representation.npy`` + ``orbits.json`` (+ ``world.json``) for ``idealssl check``:
the raw inputs by default, or the representation of an encoder trained on the world with ``--method``;
``report`` prints the claims table built from the result files (and rewrites the table between the
``<!-- claims:begin -->`` / ``<!-- claims:end -->`` markers of ``--readme``); ``--rejudge`` first recomputes the
verdicts that are functions of the recorded rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..errors import InputError
from .loop import DEFAULT_BATCH, DEFAULT_STEPS, GOAL_TOL, record
from .loop import run as run_loop
from .protocol import EXPERIMENTS
from .sampling import BATCH_REGIMES, DEFAULT_REGIME
from .worlds import (
    NAMED_WORLDS,
    OVERWRITE_HELP,
    PAPER_HELD_OUT,
    PAPER_ORBITS,
    claim_out,
    export,
    hold_out,
    named_world,
)

EXAMPLES = """examples:
  idealssl bench worlds                                  # the suite's finite worlds (C orbits, dimensions)
  idealssl bench synthetic                               # every claim test, quick settings (minutes on a CPU)
  idealssl bench synthetic --experiments dimension --seeds 0 1 --steps 300 --out /tmp/bench
  idealssl bench report --results /tmp/bench --mode quick        # the claims table from those result files
  idealssl bench export --world vector --out w && idealssl check w/representation.npy --augs w/orbits.json
  idealssl bench export --world digits --method dissl --dim 19 --out d   # a trained encoder's representation
"""


def _configure_loop(p: argparse.ArgumentParser) -> None:
    """``idealssl bench loop`` arguments (:mod:`.loop`)."""
    p.add_argument(
        "--world",
        choices=("vector", "coarse", "digits", "paper"),
        default="vector",
        help="the suite's world (default vector, C = 16); paper: many orbits (--orbits, default "
        f"{PAPER_ORBITS}), {PAPER_HELD_OUT} inputs of every orbit held out and checked",
    )
    p.add_argument("--orbits", type=int, help=f"C of --world paper (default {PAPER_ORBITS})")
    p.add_argument(
        "--evaluate-at",
        type=int,
        nargs="+",
        default=(),
        metavar="STEP",
        help="also check the encoder after these steps",
    )
    p.add_argument("--method", required=True, help="a registered objective (dissl, cissl, simclr, ...) or 'oracle'")
    p.add_argument(
        "--config",
        choices=("derived", "original"),
        default="derived",
        help="derived: idealssl derive's prescriptions (CISSL/DISSL: K = C, lambda inside its bound, student head "
        "output width >= C - 1); original: the published hyperparameters with the suite's small heads (64)",
    )
    p.add_argument("--probe", choices=("linear", "linear-nobias", "mlp"), default="linear")
    p.add_argument(
        "--sampler",
        choices=BATCH_REGIMES,
        default=DEFAULT_REGIME,
        help="how the anchors of a batch are drawn: iid (default) or epoch, orbit-blind; one-per-orbit: the oracle "
        "regime (the sampler reads the orbits; C anchors), labelled so in the row",
    )
    p.add_argument(
        "--temperature",
        type=float,
        help="the objective's temperature (the suite's grid meaning: contrastive tau; distillation student "
        "temperature, teacher half of it); default: the suite's published value",
    )
    p.add_argument(
        "--hparam",
        nargs="+",
        default=(),
        metavar="KEY=VALUE",
        help="an objective's keyword argument (VALUE read as JSON, else a string), applied after --config and "
        "--temperature and recorded in the row; e.g. DINO's published schedule: teacher_temp=0.07 "
        "warmup_teacher_temp=0.04 warmup_teacher_temp_frac=0.3 center_momentum=0.9",
    )
    p.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help=f"anchors per orbit-blind batch (default {DEFAULT_BATCH})"
    )
    p.add_argument("--seed", type=int, default=0, help="training seed (the world is the suite's, seed 0)")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"training steps (default {DEFAULT_STEPS})")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 3e-3, cosine-decayed to 1%%)")
    p.add_argument(
        "--dim", type=int, help="representation dimension (default: the minimal one, C - 1 for linear probes)"
    )
    p.add_argument(
        "--out",
        required=True,
        help="run directory (new or empty): representation.npy, orbits.json, report.json, row.json",
    )
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument(
        "--record",
        help="also add the row to this JSON file (e.g. synthetic/results/full/loop.json), "
        "replacing the row with the same method, config and seed",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


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
        help=f"{', '.join(EXPERIMENTS)} (default: all)",
    )
    p.add_argument("--seeds", nargs="+", type=int, metavar="S", help="override the mode's seeds")
    p.add_argument("--steps", type=int, help="override the mode's training steps")
    p.add_argument(
        "--batch-regime",
        choices=("one-per-orbit", "iid"),
        help="the regime of the claims about the paper (methods, loss_vs_accuracy): iid (default; orbit-blind "
        "anchors i.i.d. over the inputs, the pairs rerun in the oracle regime as a labelled ablation) or "
        "one-per-orbit (the oracle regime: each batch draws min(batch, C) distinct orbits, the sampler reads the "
        "orbit partition; recorded as oracle, the ablation then in iid)",
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

    _configure_loop(
        sub.add_parser("loop", help="derive, train (orbit-blind batches by default), export, check one encoder")
    )

    sub.add_parser("worlds", help="describe the suite's worlds")

    r = sub.add_parser("report", help="print the claims table from the result files")
    r.add_argument("--results", default="synthetic/results", help="results directory (default: synthetic/results)")
    r.add_argument("--mode", choices=("quick", "full"), default="full")
    r.add_argument("--readme", help="rewrite the table between the claims markers of this markdown file")
    r.add_argument(
        "--rejudge",
        action="store_true",
        help="first recompute the summary and verdict of the result files whose verdict is a function of their "
        "recorded rows (methods, self_target, coarseness, loss_vs_accuracy, dissl_threshold) with this code, and "
        "rewrite them (no training)",
    )
    parser.set_defaults(_bench_parser=parser)


def _worlds(args) -> int:
    """``idealssl bench worlds``: each suite world's size, classes, input shape and coarseness levels."""
    for name in ("vector", "coarse", "digits"):
        builder = NAMED_WORLDS[name]
        w = builder(0)
        fam = " -> ".join(str(x.C) for x in w.coarseness_family())
        print(
            f"{name:7s} {w.name}: N={w.N}, C={w.C}, classes={w.n_classes}, input {tuple(w.input_shape)}, "
            f"coarseness levels C = {fam}"
        )
        print(f"        {(builder.__doc__ or '').split(chr(10))[0]}")
    return 0


def _loop(args) -> int:
    """``idealssl bench loop``: configure, train, export and check one encoder (:func:`.loop.run`); print the row's
    summary and the independent check's command."""
    import torch

    if args.steps < 1:
        raise InputError(f"--steps must be >= 1, got {args.steps}")
    if args.batch < 2:
        raise InputError(f"--batch must be >= 2, got {args.batch}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out}: exists and is not a directory")
    claim_out(Path(args.out), args.overwrite)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.orbits is not None and args.orbits < 2:
        raise InputError(f"--orbits must be >= 2, got {args.orbits}")
    w, held = named_world(args.world, 0, size=args.orbits), None
    if args.world == "paper":
        w, held = hold_out(w, PAPER_HELD_OUT, seed=0)
    row = run_loop(
        w,
        args.method.lower(),
        args.config,
        args.seed,
        args.steps,
        out=Path(args.out),
        probe=args.probe,
        dim=args.dim,
        lr=args.lr,
        batch=args.batch,
        sampler=args.sampler,
        heldout=held,
        evaluate_at=tuple(args.evaluate_at),
        hparams={**_temperature(args.method.lower(), args.temperature), **_hparams(args.hparam)},
    )
    if args.record:
        record(Path(args.record), row)
    keys = ("method", "config", "seed", "steps", "train_seconds")
    print(json.dumps({k: row.get(k) for k in keys}))
    split_keys = ("ideal", "ideal_tolerance", "invariance_ratio", "affine_rank", "sigma_ratio", "certified_fraction")
    for split, label in (("train", "training points"), ("heldout", "held-out points")):
        if row.get(split):
            print(f"{label}: " + json.dumps({k: row[split].get(k) for k in split_keys}))
    for sub in (Path(args.out), Path(args.out) / "heldout") if held is not None else (Path(args.out),):
        print(
            f"then: idealssl check {sub / 'representation.npy'} --augs {sub / 'orbits.json'} "
            f"--probe {args.probe} --tol {GOAL_TOL:g}"
        )
    return 0


def _hparams(pairs) -> dict:
    """``--hparam KEY=VALUE ...`` as keyword arguments: VALUE parsed as JSON (numbers, true/false, null), else kept
    as a string; the objective's constructor refuses a key it does not take (:func:`idealssl.objectives.build`)."""
    out = {}
    for pair in pairs:
        key, sep, raw = str(pair).partition("=")
        if not sep or not key.isidentifier():
            raise InputError(f"--hparam {pair!r}: expected KEY=VALUE with KEY an objective's keyword")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _temperature(method: str, value: float | None) -> dict:
    """``--temperature`` as the objective's keyword arguments (:func:`.protocol.temperature_hparams`)."""
    from .protocol import temperature_hparams

    if value is None:
        return {}
    if value <= 0:
        raise InputError(f"--temperature must be > 0, got {value}")
    try:
        return temperature_hparams(method, value)
    except ValueError:
        raise InputError(f"--temperature: {method} has no temperature in the suite's grids") from None


def _report(args) -> int:
    """``idealssl bench report``: the claims table and the result tables (and the README's copies of them)."""
    from .loop import paper_tables
    from .report import (
        LBEGIN,
        LEND,
        TBEGIN,
        claims_table,
        replace_between,
        result_tables,
        update_readme,
        update_readme_tables,
    )

    if args.rejudge:
        from .experiments import JUDGES, rejudge

        for name in JUDGES:
            path = Path(args.results) / args.mode / f"{name}.json"
            if path.is_file():
                changed = rejudge(path)
                print(f"rejudged {path}: " + (f"verdict changed for {', '.join(changed)}" if changed else "no change"))
    table = claims_table(Path(args.results), args.mode)
    tables = result_tables(Path(args.results), args.mode)
    paper = Path(args.results) / args.mode / "loop_paper.json"
    loop_tables = paper_tables(paper) if paper.is_file() else ""
    if args.readme:
        readme = Path(args.readme)
        if not readme.is_file():
            raise InputError(f"--readme {readme}: no such file")
        update_readme(readme, table)
        if TBEGIN in readme.read_text():
            update_readme_tables(readme, tables)
        if loop_tables and LBEGIN in readme.read_text():
            replace_between(readme, LBEGIN, LEND, loop_tables)
        print(f"updated {readme}")
    print(table)
    print()
    print(tables)
    if loop_tables:
        print()
        print(loop_tables)
    return 0


def _synthetic(args) -> int:
    """``idealssl bench synthetic``: run the suite and say how many claims held."""
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


def run(args) -> int:
    cmd = getattr(args, "bench_command", None)
    if cmd is None:
        args._bench_parser.print_help()
        return 2
    commands = {"worlds": _worlds, "export": _export, "loop": _loop, "report": _report, "synthetic": _synthetic}
    try:
        return commands[cmd](args)
    except FloatingPointError as exc:  # a diverged training run: one line, as for bad input
        raise InputError(f"training diverged ({exc}); try a smaller learning rate or another seed") from None


def _export(args) -> int:
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
        from .experiments.settings import method_hparams
        from .train import TrainConfig, embed, train

        dim = args.dim or w.C - 1
        hp = {} if args.method == "oracle" else method_hparams(args.method.lower())
        res = train(w, TrainConfig(method=args.method, dim=dim, steps=args.steps, hparams=hp, seed=args.seed))
        Z = embed(res["encoder"], w)
        info.update(method=args.method, dim=dim, steps=args.steps, train_seconds=round(res["seconds"], 2))
    paths = export(w, args.out, Z)
    print(json.dumps({**info, "files": paths}))
    return 0
