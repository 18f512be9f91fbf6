"""The objective configuration the theory prescribes, and exact objective values on a finite problem.

Usage::

    idealssl derive --probe linear|linear-nobias|mlp --classes C [--dim d] [--json]
    idealssl derive --exact representation.npy --augs orbits.json [--probe ...] [--json]

The first form prints what theory/statements.md prescribes for C orbits (minimal dimension, head
placement, DISSL's categories and the constraint on lambda and beta, CISSL's assumptions, the
optimum of the ideal log loss, and whether ``--dim`` can be ideal). The second leads with
``idealssl check``'s verdict on the same problem at the same tolerance (``--check-tol``), then prints the
exact population values of the scale-free objectives (the whitened and the unit-row ideal log loss, CISSL,
DISSL) next to their optima, saying for each one that disagrees with the verdict why (DISSL's optimum, for
one, does not need idealness), and last the raw ideal log loss, which depends on the norms of Z.
Exit status 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import shlex
import textwrap

from ..errors import InputError
from ..jsonutil import plain
from ..objectives.defaults import DISSL
from ..probes import PROBES


def _int(text: str) -> int:
    """An integer's syntax; its range is checked by :mod:`.params` (one table for the CLI and the API)."""
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
  idealssl derive --exact rep.npy --augs orbits.json     # check's verdict, then exact objectives vs optima

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
    parser.add_argument("--classes", type=_int, metavar="C", help="number of augmentation orbits (equivalence classes)")
    parser.add_argument("--dim", type=_int, metavar="d", help="a representation dimension to judge")
    parser.add_argument(
        "--exact", metavar="REPRESENTATION", help="N x d representation (.npy/.npz) of a finite problem"
    )
    parser.add_argument(
        "--augs", metavar="ORBITS_JSON", help="orbits of the finite problem (JSON: orbits, labels or pairs)"
    )
    parser.add_argument("--key", help="array name inside an .npz representation")
    parser.add_argument(
        "--temperature",
        type=_float,
        default=1.0,
        help="temperature of the ideal log loss and CISSL, in [0.001, 1000] (default 1)",
    )
    parser.add_argument("--dissl-categories", type=_int, metavar="K", help="DISSL teacher categories (default C)")
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
    parser.add_argument(
        "--tol",
        type=_float,
        default=None,
        help="with --exact: absolute tolerance on the losses for 'reaches optimum', in [0, 1) (default 1e-6)",
    )
    parser.add_argument(
        "--check-tol",
        type=_float,
        default=None,
        help="with --exact: relative tolerance of the verdict, which is idealssl check's (default: check's, 1e-4)",
    )
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
    print(f"                    {cs['head_output_rule']}")
    print(f"                    teacher head: {cs['teacher_head']}")
    print(f"                    assumes: {cs['assumptions']}")
    print(
        f"                    population optimum {_fmt(cs['population_optimum'])} = {cs['population_optimum_formula']}"
    )
    ds = c["dissl"]
    t = ds["teacher_optimum"]
    print(f"DISSL               student head: {ds['student_head']}   [{c['statements']['dissl']}]")
    print(f"                    {ds['head_output_rule']}")
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


def _row(name: str, v: dict, meaning: str = "") -> None:
    """One objective: value (exact or an upper bound), its optimum, reached or the gap, what reaching it means."""
    status = "exact" if v.get("exact", True) else f"upper bound; relaxation {_fmt(v['lower_bound'])}"
    opt = v.get("optimum", v.get("teacher_optimum"))
    reach = v.get("reaches_optimum")
    tail = "" if reach is None else ("  reaches optimum" if reach else f"  gap {_fmt(v['gap'])}")
    print(f"  {name:<26}{_fmt(v['value'])}  ({status})   optimum {_fmt(opt)}{tail}")
    if meaning:
        print(f"  {'':<26}{meaning}")


def _print_verdict(r: dict, check_cmd: str) -> None:
    """The checker's verdict first (so derive and check agree), then each disagreeing objective and why."""
    v = r["verdict"]
    head = "IDEAL" if v["ideal"] else "NOT IDEAL"
    print(f"verdict             {head} for {r['probe']} probes (idealssl check's conditions at tolerance {v['tol']:g})")
    for f in v["failed"]:
        print(f"                    fails {f['name']}: {_fmt(f['value'])} (needs {f['needs']})")
    t = v["ideal_tolerance"]
    if not v["ideal"]:
        print(
            "                    "
            + (f"ideal at every tolerance >= {t:.3g}" if t is not None else "ideal at no tolerance")
            + f" (check's ideal_tolerance); the certificate: {check_cmd}"
        )
    pad = " " * 20
    for a in v["agreement"]:
        name = "the whitened log loss" if a["quantity"] == "normalised_ideal_log_loss" else "DISSL"
        said = "reaches its optimum" if a["reaches_optimum"] else "misses its optimum"
        if a["agrees"]:
            print(f"{pad}{name} agrees ({said})")
        else:
            text = f"{name} {said}, unlike the verdict: {a['why']}"
            print(textwrap.fill(text, 118, initial_indent=pad, subsequent_indent=pad + "  "))


def _print_exact(r: dict, check_cmd: str) -> None:
    """Verdict, then the scale-free values (what the theory's optima are stated for), then the raw one;
    ``check_cmd`` is the ``idealssl check`` command that gives the same verdict with its certificate."""
    print(
        f"problem             N = {r['n']}, d = {r['d']}, C = {r['classes']}, probe = {r['probe']}, tau = "
        f"{_fmt(r['temperature'])}"
    )
    _print_verdict(r, check_cmd)
    print("scale-free values (unchanged by rescaling Z; each beside its optimum)")
    n = r["normalised_ideal_log_loss"]
    if n is not None:
        _row("ideal log loss, whitened", n, f"reaches L* iff ideal for {r['probe']} probes (S5.1); rank {n['rank']}")
    _row("ideal log loss, unit rows", r["ideal_log_loss_unit"], "reaches L* iff invariant regular-simplex codes (S4.2)")
    _row("CISSL population", r["cissl"], "= unit-rows value - log C (S6.1)")
    d = r["dissl"]
    _row(
        "DISSL population",
        {k: d[k] for k in ("value", "teacher_optimum", "gap", "reaches_optimum")},
        f"K = {d['categories']}, student excess {_fmt(d['student_excess'])}; reached when the student realises "
        f"the teacher's partition (S7.4): does not need idealness",
    )
    raw = r["ideal_log_loss"]
    print("raw value (depends on the scale of Z; not a verdict)")
    _row("ideal log loss, as given", {k: raw[k] for k in ("value", "lower_bound", "exact", "optimum")})
    msq = raw["mean_sq_norm"]
    if raw["bound_holds"]:
        why = f"orbit-weighted mean squared norm {_fmt(msq)} <= 1, so L* is a lower bound here (S4.2)"
    else:
        below = raw["value"] < raw["optimum"]
        why = (
            f"orbit-weighted mean squared norm {_fmt(msq)} > 1: L* bounds this value only at norms <= 1 (S4.2); "
            f"larger features sharpen the softmax (the value tends to 0 as separable codes are scaled up), so "
            + ("its being below L* reflects the norms, not idealness" if below else "the value moves with the norms")
            + "; read the whitened value"
        )
    print(textwrap.fill(why, 118, initial_indent=" " * 28, subsequent_indent=" " * 28))
    se = r["sample_efficiency"]
    print("W_n (if ideal)      " + ", ".join(f"W_{n} = {w:.4g}" for n, w in zip(se["n"], se["W_n_data_marginal"])))


def _emit(write) -> None:
    """What ``write()`` prints, written to standard output at once (a write that fails is exit 2, one line)."""
    from ..cli import emit

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        write()
    emit(text.getvalue())


#: flags that only one form uses (the other form would ignore them silently)
_EXACT_ONLY = {"augs": "--augs", "key": "--key", "tol": "--tol", "check_tol": "--check-tol"}
_CLASSES_ONLY = {"dim": "--dim"}


def _check_flags(args: argparse.Namespace) -> None:
    """Before any file is read: the form's flags only, each number in its range (:mod:`.params`)."""
    from .params import validated

    if args.exact is not None and args.classes is not None:
        raise InputError("give either --classes (configuration) or --exact with --augs (finite problem), not both")
    if args.exact is None and args.classes is None and args.augs is None:
        raise InputError("give --classes C (configuration) or --exact REPRESENTATION --augs ORBITS_JSON")
    unused = _CLASSES_ONLY if args.exact is not None else _EXACT_ONLY
    for dest, flag in unused.items():
        if getattr(args, dest) is not None:
            form = "--classes" if unused is _CLASSES_ONLY else "--exact"
            raise InputError(f"{flag} is only used with {form}")
    names = ("classes", "dim", "dissl_categories", "temperature", "dissl_lambda", "dissl_beta", "tol", "check_tol")
    validated(**{k: getattr(args, k) for k in names})


def run(args: argparse.Namespace) -> int:
    from . import configure, exact

    _check_flags(args)
    if args.exact is not None:
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
            tol=1e-6 if args.tol is None else args.tol,
            check_tol=args.check_tol,
        ).to_dict()
        if args.json:
            _emit(lambda: print(json.dumps(plain(res), indent=2)))
        else:
            key = f" --key {shlex.quote(args.key)}" if args.key else ""
            cmd = (
                f"idealssl check {shlex.quote(args.exact)}{key} --augs {shlex.quote(args.augs)} --probe {args.probe} "
                f"--tol {res['verdict']['tol']:g}"
            )
            _emit(lambda: _print_exact(res, cmd))
        return 0
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
        _emit(lambda: print(json.dumps(plain(res), indent=2)))
    else:
        _emit(lambda: _print_config(res))
    return 0
