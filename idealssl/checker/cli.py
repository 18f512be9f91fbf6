"""Decide and certify whether a representation is ideal for a probe family.

    idealssl check representation.npy --augs orbits.json [--probe linear|linear-nobias|mlp]
                   [--json] [--task task.json] [--tol T] [--exhaustive] [--key KEY] [--plot FILE.png]

Exit status: 0 ideal, 1 not ideal (nothing else), 2 bad input or cannot run (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InputError
from ..probes import PROBES
from .report import MIN_TOL

EXAMPLES = """examples:
  idealssl bench export --world vector --out w        # inputs to try: w/representation.npy, w/orbits.json
  idealssl check w/representation.npy --augs w/orbits.json
        # conditions (value vs threshold), the verdict, and when not ideal a verified certificate: a labelling
        # of the orbits no affine probe fits (exit 1; exit 0 when ideal)
  idealssl check w/representation.npy --augs w/orbits.json --probe linear-nobias --json > report.json
  echo '{"labels": [0, 0, 1, 1]}' > o.json; idealssl check Z.npy --augs o.json   # 4 points in 2 orbits
  idealssl check feats.npz:train --augs orbits.json --task task.json   # a witness probe fitting the task
  idealssl check Z.npy --augs orbits.json --exhaustive          # every binary labelling decided by LP (C <= 12)
  idealssl check Z.npy --augs orbits.json --plot check.png      # singular values and per-orbit deviations vs tol
"""


def _tol(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (MIN_TOL <= v < 1):
        raise argparse.ArgumentTypeError(f"must be in [{MIN_TOL:g}, 1), got {text}")
    return v


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EXAMPLES
    p.add_argument("representation", help="N x d matrix: .npy, or .npz with --key (or file.npz:KEY)")
    p.add_argument(
        "--augs",
        required=True,
        metavar="ORBITS.json",
        help='orbit structure: {"orbits": [[...], ...]}, '
        '{"labels": [...]} or {"pairs": [[i, j], ...], '
        '"n": N}; optional "p"',
    )
    p.add_argument(
        "--probe", choices=PROBES, default="linear", help="probe family (default: linear, i.e. affine W z + b)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the readable report")
    p.add_argument(
        "--task",
        metavar="TASK.json",
        help='a task {"orbit_labels": [...]} or {"point_labels": [...]}: '
        "print a witness probe fitting it, checked on all N points",
    )
    p.add_argument("--tol", type=_tol, default=None, help="relative tolerance (default 1e-4)")
    p.add_argument("--exhaustive", action="store_true", help="also decide every binary labelling by LP (C <= 12)")
    p.add_argument("--key", help="array name inside a .npz archive")
    p.add_argument("--threads", type=int, default=2, help="threads for the streaming pass (default 2)")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also draw the codes' singular values and each orbit's deviation against the tolerance (needs matplotlib)",
    )
    p.add_argument(
        "--certified",
        choices=("auto", "full", "off"),
        default="auto",
        help="the certified block (theory/statements.md S10: margin, radii, certified n-shot error, the orbits that "
        "break it): auto (default: every point for small inputs, per-orbit summaries for large ones), full (every "
        "point, exact margin up to C = 12), off",
    )
    p.add_argument(
        "--no-graded",
        action="store_true",
        help="skip the graded verdict (ideal_tolerance, fitted_task_fraction, diagnostics, hints)",
    )


def run(args: argparse.Namespace) -> int:
    from ..cli import emit
    from ..inputs.representation import load_representation
    from .api import DEFAULT_TOL, check

    if args.threads < 1:
        raise InputError(f"--threads must be >= 1, got {args.threads}")
    figure = None
    if args.plot:  # before the computation: a figure that cannot be written must not cost the verdict's code
        from ..figfile import figure_target

        figure = figure_target(args.plot)
    rep = load_representation(args.representation, key=args.key)
    report = check(
        rep,
        args.augs,
        probe=args.probe,
        tol=args.tol if args.tol is not None else DEFAULT_TOL,
        task=args.task,
        exhaustive=args.exhaustive,
        threads=args.threads,
        graded=not args.no_graded,
        certified=args.certified,
    )
    emit((report.to_json() if args.json else str(report)) + "\n")
    if figure is not None:
        from .figure import check_figure

        print(f"figure written to {check_figure(report.to_dict(), figure)}", file=sys.stderr)
    return 0 if report.ideal else 1  # the verdict alone; a witness that does not fit is reported in the notes
