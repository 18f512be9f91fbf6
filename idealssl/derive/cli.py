"""The objective configuration the theory prescribes, and exact objective values on a finite problem.

Usage::

    idealssl derive --probe linear|linear-nobias|mlp --classes C [--dim d] [--json]
    idealssl derive --exact representation.npy --augs orbits.json [--probe ...] [--json]

The first form prints what theory/statements.md prescribes for C orbits (minimal dimension, head
placement, DISSL's categories and the constraint on lambda and beta, CISSL's assumptions, the
optimum of the ideal log loss, and whether ``--dim`` can be ideal). The second prints the exact
population values of the ideal ISSL log loss, its normalised version, the CISSL loss and the DISSL
objective on the given problem, next to their optima. Exit status 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math

from ..errors import InputError
from ..jsonutil import plain
from ..objectives.defaults import DISSL
from ..probes import PROBES


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    return v


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return v


EPILOG = """examples:
  idealssl derive --probe linear --classes 10            # d >= 9, heads, DISSL K and lambda, L* = 1.3769
  idealssl derive --probe linear --classes 5 --dim 3     # cannot be ideal; minimum in R^3 = 0.7906 > L*
  idealssl derive --probe linear-nobias --classes 5      # d >= 4 too: the centred simplex is ideal without bias
  idealssl derive --classes 4 --dissl-categories 8 --dissl-lambda 2.3 --json
  idealssl derive --exact rep.npy --augs orbits.json     # exact objectives on a finite problem

theory: theory/statements.md (S1-S8); python -m theory prints every derivation."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--probe",
        choices=PROBES,
        default="linear",
        help="downstream probe family (default: linear, i.e. affine probes)",
    )
    parser.add_argument(
        "--classes", type=_positive_int, metavar="C", help="number of augmentation orbits (equivalence classes)"
    )
    parser.add_argument("--dim", type=_positive_int, metavar="d", help="a representation dimension to judge")
    parser.add_argument(
        "--exact", metavar="REPRESENTATION", help="N x d representation (.npy/.npz) of a finite problem"
    )
    parser.add_argument(
        "--augs", metavar="ORBITS_JSON", help="orbits of the finite problem (JSON: orbits, labels or pairs)"
    )
    parser.add_argument("--key", help="array name inside an .npz representation")
    parser.add_argument(
        "--temperature", type=_float, default=1.0, help="temperature of the ideal log loss and CISSL (default 1)"
    )
    parser.add_argument(
        "--dissl-categories", type=_positive_int, metavar="K", help="DISSL teacher categories (default C)"
    )
    parser.add_argument(
        "--dissl-lambda",
        type=_float,
        default=DISSL.lambda_maximality,
        help=f"DISSL maximality weight lambda (default {DISSL.lambda_maximality:g}, the released code's)",
    )
    parser.add_argument(
        "--dissl-beta",
        type=_float,
        default=DISSL.beta_det_inv,
        help=f"DISSL teacher cross-view weight beta (default {DISSL.beta_det_inv:g}, the released code's)",
    )
    parser.add_argument("--tol", type=_float, default=1e-6, help="tolerance for 'reaches its optimum' (default 1e-6)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.10g}" if math.isfinite(v) else str(v)
    return str(v)


def _print_config(c: dict) -> None:
    io = c["ideal_objective"]
    print(f"probe family        {c['probe']}")
    print(f"orbits C            {c['classes']}")
    print(f"minimal dimension   {c['minimal_dimension']}   [{c['statements']['dimension']}]")
    if c["dim"] is not None:
        verdict = "can be ideal" if c["dim_can_be_ideal"] else "cannot be ideal"
        print(f"--dim {c['dim']:<13} {verdict}: {c['dim_reason']}")
    if io.get("defined", True):
        print(
            f"ideal log loss      optimum L* = {_fmt(io['optimum'])} at tau = {_fmt(io['temperature'])}   "
            f"[{c['statements']['ideal_objective']}]"
        )
        print(f"                    {io['optimum_formula']}")
        print(f"                    minimiser: {io['minimiser']} (cosine {_fmt(io['simplex_cosine'])})")
    else:
        print(f"ideal log loss      {io['note']}   [{c['statements']['ideal_objective']}]")
        print(
            f"                    (for linear probes its optimum would be L* = {_fmt(io['optimum_for_linear_probes'])})"
        )
    if "minimum_in_dim" in io:
        print(f"                    in R^{c['dim']}: {_fmt(io['minimum_in_dim'])} ({io['minimum_in_dim_note']})")
    cs = c["cissl"]
    print(f"CISSL               student head: {cs['student_head']}   [{c['statements']['cissl']}]")
    print(f"                    teacher head: {cs['teacher_head']}")
    print(f"                    assumes: {cs['assumptions']}")
    print(
        f"                    population optimum {_fmt(cs['population_optimum'])} = {cs['population_optimum_formula']}"
    )
    ds = c["dissl"]
    t = ds["teacher_optimum"]
    print(f"DISSL               student head: {ds['student_head']}   [{c['statements']['dissl']}]")
    print(f"                    teacher head: {ds['teacher_head']}")
    print(f"                    categories K = {ds['categories']}: {ds['categories_rule']}")
    print(f"                    lambda, beta = {_fmt(ds['lambda'])}, {_fmt(ds['beta'])}: {ds['lambda_constraint']}")
    print(
        f"                    teacher optimum {_fmt(t['value'])} "
        f"({'exact' if t['exact'] else 'lower bound ' + _fmt(t['lower_bound'])}; "
        f"deterministic: {_fmt(t['deterministic'])}) -- {t['regime']}"
    )
    if "warning" in ds:
        print(f"                    WARNING: {ds['warning']}")
    se = c["sample_efficiency"]
    pairs = ", ".join(f"W_{n} = {w:.4g}" for n, w in zip(se["n"], se["W_n"]))
    print(f"sample efficiency   {pairs}   [{c['statements']['sample_efficiency']}]")


def _print_exact(r: dict) -> None:
    print(
        f"problem             N = {r['n']}, d = {r['d']}, C = {r['classes']}, probe = {r['probe']}, tau = "
        f"{_fmt(r['temperature'])}"
    )

    def row(name, v, extra=""):
        status = "exact" if v.get("exact", True) else f"upper bound; relaxation {_fmt(v['lower_bound'])}"
        opt = v.get("optimum", v.get("teacher_optimum"))
        reach = v.get("reaches_optimum")
        tail = "" if reach is None else ("  reaches optimum" if reach else f"  gap {_fmt(v['gap'])}")
        print(f"{name:<20}{_fmt(v['value'])}  ({status})   optimum {_fmt(opt)}{tail}{extra}")

    row("ideal log loss", r["ideal_log_loss"], f"   [mean squared norm {_fmt(r['ideal_log_loss']['mean_sq_norm'])}]")
    row("  unit-norm rows", r["ideal_log_loss_unit"])
    if r["normalised_ideal_log_loss"] is not None:
        row("  normalised", r["normalised_ideal_log_loss"], f"   [rank {r['normalised_ideal_log_loss']['rank']}]")
    row("CISSL population", r["cissl"])
    d = r["dissl"]
    row(
        "DISSL population",
        {
            "value": d["value"],
            "teacher_optimum": d["teacher_optimum"],
            "gap": d["gap"],
            "reaches_optimum": d["reaches_optimum"],
        },
        f"   [K = {d['categories']}, student excess {_fmt(d['student_excess'])}]",
    )
    se = r["sample_efficiency"]
    print("W_n (if ideal)      " + ", ".join(f"W_{n} = {w:.4g}" for n, w in zip(se["n"], se["W_n_data_marginal"])))


def run(args: argparse.Namespace) -> int:
    from . import configure, exact

    if args.exact is not None:
        if args.classes is not None:
            raise InputError("give either --classes (configuration) or --exact with --augs (finite problem), not both")
        if args.augs is None:
            raise InputError("--exact needs --augs ORBITS_JSON (the orbits of the points)")
        from ..inputs.orbits import load_orbits
        from ..inputs.representation import load_representation

        rep = load_representation(args.exact, key=args.key)
        orb = load_orbits(args.augs, n=rep.n)
        res = exact(
            rep,
            orb,
            probe=args.probe,
            temperature=args.temperature,
            dissl_categories=args.dissl_categories,
            dissl_lambda=args.dissl_lambda,
            dissl_beta=args.dissl_beta,
            tol=args.tol,
        ).to_dict()
        if args.json:
            print(json.dumps(plain(res), indent=2))
        else:
            _print_exact(res)
        return 0
    if args.augs is not None:
        raise InputError("--augs is only used with --exact REPRESENTATION")
    if args.classes is None:
        raise InputError("give --classes C (configuration) or --exact REPRESENTATION --augs ORBITS_JSON")
    res = configure(
        args.probe,
        args.classes,
        dim=args.dim,
        dissl_categories=args.dissl_categories,
        dissl_lambda=args.dissl_lambda,
        dissl_beta=args.dissl_beta,
        temperature=args.temperature,
    ).to_dict()
    if args.json:
        print(json.dumps(plain(res), indent=2))
    else:
        _print_config(res)
    return 0
