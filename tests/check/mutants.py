"""Mutation test of the checker's conditions: every hand-written mutant must be killed by a default-run test.

    python -m tests.check.mutants            # every mutant; exit 0 iff all are killed
    python -m tests.check.mutants --list     # the mutants, one line each
    python -m tests.check.mutants NAME ...   # only these
    python -m tests.check.mutants --tests tests/check/test_equivalence.py   # what one test file kills

Each mutant changes one condition of one family (theory/statements.md S1.3, S1.4, S2.1, and invariance for
all three) in the checker's source: a condition dropped (always holds), a comparison made non-strict, a
tolerance scaled by 1000 either way, the affine rank replaced by the span rank, zero dependency coefficients
or zero codes allowed, the order-free codes of ``linear-nobias`` replaced by the first points. For each, the
tree's ``idealssl/``, ``theory/``, ``examples/``, ``tests/check`` and ``tests/theory`` are copied to a
temporary folder, the mutation is applied there (its text must occur exactly once, so a mutant cannot
silently stop applying when the source changes), and the default run of those tests (derandomised, ``-m "not
slow"``, ``-x``) runs against the copy: the files most likely to kill (``FIRST``) in a first pytest process,
the others in a second one only when the first passes. The mutant is killed when a test fails (pytest's exit
status 1; any other non-zero status means the mutant broke the code rather than a condition, and counts as a
failure of this script). ``tests/check/test_mutants.py`` runs this script (marked slow: CI's slow step).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAM = "idealssl/checker/families.py"
DEC = "idealssl/checker/decision.py"
GEO = "idealssl/checker/geometry.py"
COPIED = ["idealssl", "theory", "examples", "tests/check", "tests/theory"]
COPIED_FILES = ["pyproject.toml", "tests/conftest.py"]
FIRST = [
    "tests/check/test_conditions.py",
    "tests/check/test_order_free.py",
    "tests/check/test_equivalence.py",
    "tests/check/test_theorems.py",
]


@dataclass(frozen=True)
class Mutant:
    name: str
    family: str
    condition: str
    edits: tuple[tuple[str, str, str], ...]  # (file, text occurring exactly once in it, its replacement)


def _m(name, family, condition, path, *edits):
    """A mutant whose edits (old, new) all apply to ``path``."""
    return Mutant(name, family, condition, tuple((path, old, new) for old, new in edits))


MUTANTS = [
    # ---- invariance (every family)
    _m("invariance-dropped", "all", "invariance", DEC, ("holds=value <= g.tol,", "holds=True,")),
    _m("invariance-strict", "all", "invariance", DEC, ("holds=value <= g.tol,", "holds=value < g.tol,")),
    _m("invariance-tol-x1000", "all", "invariance", DEC, ("holds=value <= g.tol,", "holds=value <= g.tol * 1e3,")),
    _m("invariance-tol-/1000", "all", "invariance", DEC, ("holds=value <= g.tol,", "holds=value <= g.tol / 1e3,")),
    # ---- linear (affine probes)
    _m(
        "affine-rank-is-span-rank",
        "linear",
        "affine_independence, effective_dimension",
        FAM,
        ("independent = g.aff_rank == C - 1", "independent = g.lin_rank >= C - 1"),
        ("holds=g.aff_rank >= C - 1,", "holds=g.lin_rank >= C - 1,"),
    ),
    _m("affine-independence-dropped", "linear", "affine_independence", FAM, ("holds=independent,", "holds=True,")),
    _m(
        "affine-effective-dimension-dropped",
        "linear",
        "effective_dimension",
        FAM,
        ("holds=g.aff_rank >= C - 1,", "holds=True,"),
    ),
    _m(
        "affine-rank-tol-x1000",
        "linear",
        "affine_independence",
        GEO,
        (
            "numerical_rank(sv_aff, tol), numerical_rank(sv_lin, tol)",
            "numerical_rank(sv_aff, tol * 1e3), numerical_rank(sv_lin, tol)",
        ),
    ),
    _m(
        "affine-rank-tol-/1000",
        "linear",
        "affine_independence",
        GEO,
        (
            "numerical_rank(sv_aff, tol), numerical_rank(sv_lin, tol)",
            "numerical_rank(sv_aff, tol / 1e3), numerical_rank(sv_lin, tol)",
        ),
    ),
    _m(
        "margin-dropped",
        "linear, linear-nobias",
        "worst_case_margin",
        FAM,
        ("        holds=holds,\n", "        holds=True,\n"),
    ),
    # ---- linear-nobias (homogeneous probes)
    _m(
        "nobias-zero-coefficients-allowed",
        "linear-nobias",
        "positive_dependency",
        FAM,
        ("(C == 1 or alpha_value > tol))", "(C == 1 or alpha_value > -tol))"),
    ),
    _m(
        "nobias-positive-non-strict",
        "linear-nobias",
        "positive_dependency",
        FAM,
        ("(C == 1 or alpha_value > tol))", "(C == 1 or alpha_value >= tol))"),
    ),
    _m(
        "nobias-positive-tol-x1000",
        "linear-nobias",
        "positive_dependency",
        FAM,
        ("(C == 1 or alpha_value > tol))", "(C == 1 or alpha_value > tol * 1e3))"),
    ),
    Mutant(  # both alignments: either alone is enough (the other makes it an equivalent mutant)
        "nobias-sign-not-aligned",
        "linear-nobias",
        "positive_dependency",
        (
            (FAM, "a = a / a[int(np.argmax(np.abs(a)))]", "a = a / np.abs(a).max()"),
            (
                GEO,
                "lam /= lam[int(np.argmax(np.abs(lam)))]\n    return lam",
                "lam /= np.abs(lam).max()\n    return lam",
            ),
        ),
    ),
    _m(
        "nobias-positive-dropped",
        "linear-nobias",
        "positive_dependency",
        FAM,
        ("            holds=positive,", "            holds=True,"),
    ),
    _m(
        "nobias-zero-codes-ignored",
        "linear-nobias",
        "nonzero_codes",
        FAM,
        ("nonzero = zero_value > tol", "nonzero = True"),
    ),
    _m(
        "nobias-nonzero-non-strict",
        "linear-nobias",
        "nonzero_codes",
        FAM,
        ("nonzero = zero_value > tol", "nonzero = zero_value >= tol"),
    ),
    _m(
        "nobias-nonzero-tol-x1000",
        "linear-nobias",
        "nonzero_codes",
        FAM,
        ("nonzero = zero_value > tol", "nonzero = zero_value > tol * 1e3"),
    ),
    _m(
        "nobias-nonzero-tol-/1000",
        "linear-nobias",
        "nonzero_codes",
        FAM,
        ("nonzero = zero_value > tol", "nonzero = zero_value > tol / 1e3"),
    ),
    _m(
        "nobias-linear-rank-dropped",
        "linear-nobias",
        "linear_rank",
        FAM,
        ('"linear_rank": Condition(\n            holds=rank_ok,', '"linear_rank": Condition(\n            holds=True,'),
    ),
    _m(
        "nobias-effective-dimension-dropped",
        "linear-nobias",
        "effective_dimension",
        FAM,
        (
            '"effective_dimension": Condition(\n            holds=rank_ok,',
            '"effective_dimension": Condition(\n            holds=True,',
        ),
    ),
    _m(
        "nobias-linear-rank-tol-x1000",
        "linear-nobias",
        "linear_rank",
        GEO,
        (
            "numerical_rank(sv_aff, tol), numerical_rank(sv_lin, tol)",
            "numerical_rank(sv_aff, tol), numerical_rank(sv_lin, tol * 1e3)",
        ),
    ),
    _m(
        "nobias-no-relaxation",
        "linear-nobias",
        "invariance (up to positive scaling)",
        FAM,
        ("(homogeneous_witness,), scaled_invariance", "(homogeneous_witness,), None"),
    ),
    _m(
        "nobias-relaxation-tol-x1000",
        "linear-nobias",
        "invariance (up to positive scaling)",
        FAM,
        ("        if self.chord <= tol:", "        if self.chord <= tol * 1e3:"),
    ),
    _m(
        "nobias-codes-first-points",
        "linear-nobias",
        "every condition (order-free codes)",
        FAM,
        ("    points = largest_norm_points(rep, orb)", "    points = orb.first_points()"),
    ),
    # ---- mlp (universal probes)
    _m(
        "mlp-distinct-dropped", "mlp", "distinct_codes", FAM, ("distinct = C == 1 or rel_dist > tol", "distinct = True")
    ),
    _m(
        "mlp-distinct-non-strict",
        "mlp",
        "distinct_codes",
        FAM,
        ("distinct = C == 1 or rel_dist > tol", "distinct = C == 1 or rel_dist >= tol"),
    ),
    _m(
        "mlp-distinct-tol-x1000",
        "mlp",
        "distinct_codes",
        FAM,
        ("distinct = C == 1 or rel_dist > tol", "distinct = C == 1 or rel_dist > tol * 1e3"),
    ),
    _m(
        "mlp-distinct-tol-/1000",
        "mlp",
        "distinct_codes",
        FAM,
        ("distinct = C == 1 or rel_dist > tol", "distinct = C == 1 or rel_dist > tol / 1e3"),
    ),
    _m(
        "mlp-effective-dimension-dropped",
        "mlp",
        "effective_dimension",
        FAM,
        ("holds=g.aff_rank >= min(1, C - 1),", "holds=True,"),
    ),
    _m(
        "mlp-margin-dropped",
        "mlp",
        "worst_case_margin",
        FAM,
        (
            '"worst_case_margin": Condition(\n            holds=distinct,',
            '"worst_case_margin": Condition(\n            holds=True,',
        ),
    ),
]


def copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for rel in COPIED:
        shutil.copytree(ROOT / rel, dest / rel, ignore=ignore)
    for rel in COPIED_FILES:
        shutil.copy2(ROOT / rel, dest / rel)


def apply(m: Mutant, dest: Path) -> dict[str, str]:
    """Apply ``m`` to the copy under ``dest``; return the original text of each file it changed."""
    originals: dict[str, str] = {}
    for rel, old, new in m.edits:
        path = dest / rel
        originals.setdefault(rel, path.read_text())
        text = path.read_text()
        n = text.count(old)
        if n != 1:
            raise SystemExit(f"mutant {m.name}: {old!r} occurs {n} times in {rel} (must be exactly once)")
        path.write_text(text.replace(old, new))
    return originals


def other_test_files(dest: Path) -> list[str]:
    """The default-run test files of tests/check and tests/theory not in ``FIRST``."""
    found = sorted(
        str(p.relative_to(dest)) for d in ("tests/check", "tests/theory") for p in (dest / d).glob("test_*.py")
    )
    return [f for f in found if f not in FIRST and not f.endswith("test_mutants.py")]


def run_tests(dest: Path, files: list[str]) -> tuple[int, str]:
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(dest), "OMP_NUM_THREADS": "1"}
    env.pop("HYPOTHESIS_PROFILE", None)
    env.pop("HARNESS_EXAMPLES", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist", *files]
    proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED") or ln.startswith("ERROR")]
    return proc.returncode, (lines[0] if lines else proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--tests", nargs="+", metavar="FILE", help="run only these test files (what does each kill?)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:40s} {m.family:22s} {m.condition}")
        return 0
    survivors: list[str] = []
    broken: list[str] = []
    with tempfile.TemporaryDirectory(prefix="idealssl-mutants-") as tmp:
        dest = Path(tmp)
        copy_tree(dest)
        first, rest = (args.tests, []) if args.tests else (FIRST, other_test_files(dest))
        rc, _ = run_tests(dest, FIRST[:1])
        if rc != 0:
            print("the unmutated copy fails its tests: nothing to measure", file=sys.stderr)
            return 2
        for m in chosen:
            t0 = time.perf_counter()
            originals = apply(m, dest)
            try:
                rc, why = run_tests(dest, first)  # most mutants die here; the rest of the files only if not
                if rc == 0 and rest:
                    rc, why = run_tests(dest, rest)
            finally:
                for rel, text in originals.items():
                    (dest / rel).write_text(text)
            if rc not in (0, 1):  # collection error, usage error: the mutant broke the code, it tested nothing
                broken.append(m.name)
            elif rc == 0:
                survivors.append(m.name)
            tag = {0: "SURVIVED", 1: "killed  "}.get(rc, "BROKEN  ")
            print(f"{tag} {m.name:40s} {time.perf_counter() - t0:5.1f} s  {why}", flush=True)
    killed = len(chosen) - len(survivors) - len(broken)
    print(
        f"{killed}/{len(chosen)} mutants killed"
        + (f"; survivors: {survivors}" if survivors else "")
        + (f"; broken (not run): {broken}" if broken else "")
    )
    return 1 if survivors or broken else 0


if __name__ == "__main__":
    sys.exit(main())
