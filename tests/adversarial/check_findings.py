"""Findings of ``idealssl check``, ``derive`` and ``bench export`` (no training), and the theory's fixtures."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from tests.adversarial._util import (
    NO_MATPLOTLIB,
    ROOT,
    Outcome,
    Result,
    centred_simplex,
    env,
    idealssl,
    lying_npz,
    npy_header,
    random_orthogonal,
    save,
)

FINDINGS: dict[str, tuple[str, Callable[[Path], Outcome]]] = {}


def finding(statement: str):
    def register(fn):
        FINDINGS[fn.__name__] = (statement, fn)
        return fn

    return register


def verdicts(results: list[tuple[str, Result, set[int]]]) -> Outcome:
    """Each (variant, result, allowed exit codes): reproduced where a traceback shows, a signal killed it, or the
    exit code is not among the allowed ones (2 must come with a message)."""
    bad = [
        f"{what}: {r.brief()}"
        for what, r, ok in results
        if r.traceback or r.rc not in ok or (r.rc == 2 and not r.clean_refusal)
    ]
    if bad:
        return Outcome(True, "; ".join(bad))
    return Outcome(False, f"{len(results)} variants: " + ", ".join(f"{w} rc={r.rc}" for w, r, _ in results))


def ideal_input(tmp: Path, C: int = 4) -> tuple[Path, Path]:
    """A centred regular simplex, two points per orbit: ideal for every family."""
    Z = np.repeat(centred_simplex(C), 2, axis=0)
    return save(tmp, "ideal.npy", Z), save(tmp, "ideal.json", {"labels": np.repeat(np.arange(C), 2).tolist()})


# ------------------------------------------------------------------------------------------- section 2: inputs
@finding("an .npz whose zip64 directory lies about the member size (header (1, 2^40)), C and Fortran order: exit 2")
def npz_zip64_lying_size(tmp: Path) -> Outcome:
    save(tmp, "o.json", {"labels": [0]})
    runs = []
    for fortran in (False, True):
        p = lying_npz(tmp / f"lie{int(fortran)}.npz", (1, 2**40), fortran)
        runs.append((f"check F={fortran}", idealssl("check", f"{p.name}:x", "--augs", "o.json", cwd=tmp), {2}))
        runs.append(
            (f"check --key F={fortran}", idealssl("check", p.name, "--key", "x", "--augs", "o.json", cwd=tmp), {2})
        )
        runs.append(
            (
                f"derive --exact F={fortran}",
                idealssl("derive", "--exact", p.name, "--key", "x", "--augs", "o.json", cwd=tmp),
                {2},
            )
        )
    p = lying_npz(tmp / "tall.npz", (2**40, 1))
    runs.append(("check (2^40, 1)", idealssl("check", "tall.npz:x", "--augs", "o.json", cwd=tmp), {2}))
    (tmp / "huge.npy").write_bytes(npy_header((1, 2**40)) + b"\0" * 64)  # a plain .npy whose header lies
    runs.append(("check .npy header (1, 2^40)", idealssl("check", "huge.npy", "--augs", "o.json", cwd=tmp), {2}))
    return verdicts(runs)


@finding(
    "values near the bottom of the float range (simplex x 1e-310; [[5e-320], [-5e-320]]): no traceback, the simplex ideal"  # noqa: E501
)
def tiny_values(tmp: Path) -> Outcome:
    C = 4
    save(tmp, "s.npy", centred_simplex(C) * 1e-310)
    save(tmp, "s.json", {"labels": list(range(C))})
    save(tmp, "t.npy", np.array([[5e-320], [-5e-320]]))
    save(tmp, "t.json", {"labels": [0, 1]})
    save(tmp, "h.npy", centred_simplex(C) * 1e300)
    runs = []
    for probe in ("linear", "linear-nobias", "mlp"):
        runs.append(
            (f"1e-310 simplex {probe}", idealssl("check", "s.npy", "--augs", "s.json", "--probe", probe, cwd=tmp), {0})
        )
        runs.append(
            (f"5e-320 pair {probe}", idealssl("check", "t.npy", "--augs", "t.json", "--probe", probe, cwd=tmp), {0, 2})
        )
        runs.append(
            (
                f"1e300 simplex {probe}",
                idealssl("check", "h.npy", "--augs", "s.json", "--probe", probe, cwd=tmp),
                {0, 2},
            )
        )
    runs.append(("derive --exact 1e-310", idealssl("derive", "--exact", "s.npy", "--augs", "s.json", cwd=tmp), {0, 2}))
    runs.append(("derive --exact 5e-320", idealssl("derive", "--exact", "t.npy", "--augs", "t.json", cwd=tmp), {0, 2}))
    return verdicts(runs)


@finding('string labels differing only by a trailing NUL ("a\\u0000" vs "a") are two orbits, not one')
def nul_labels(tmp: Path) -> Outcome:
    save(tmp, "z.npy", np.array([[0.0], [1.0]]))
    runs = []
    for i, labels in enumerate((["a", "a\u0000"], ["a\u0000", "a"], ["", "\u0000"], ["b", "b\u0000\u0000"])):
        save(tmp, f"o{i}.json", {"labels": labels})
        for probe in ("linear", "mlp"):
            runs.append(
                (
                    f"{labels!r} {probe}",
                    idealssl("check", "z.npy", "--augs", f"o{i}.json", "--probe", probe, cwd=tmp),
                    {0},
                )
            )
    r = idealssl("derive", "--exact", "z.npy", "--augs", "o0.json", "--json", cwd=tmp)
    runs.append(("derive --exact", r, {0}))
    if "non_invariant" in r.out:
        return Outcome(True, "derive --exact reports non_invariant for two distinct orbits")
    return verdicts(runs)


@finding(
    "int64 inputs beyond 2^53 ([[2**60], [2**60+1]], --probe mlp): refused (exit 2) or decided exactly, never NOT IDEAL"
)
def int64_beyond_float(tmp: Path) -> Outcome:
    save(tmp, "i.npy", np.array([[2**60], [2**60 + 1]], dtype=np.int64))
    save(tmp, "u.npy", np.array([[2**63], [2**63 + 1]], dtype=np.uint64))
    save(tmp, "i2.npy", np.array([[2**60, 0], [2**60 + 1, 0], [0, 1]], dtype=np.int64))
    save(tmp, "o.json", {"labels": [0, 1]})
    save(tmp, "o3.json", {"labels": [0, 1, 2]})
    np.savez(tmp / "i.npz", x=np.array([[2**60], [2**60 + 1]], dtype=np.int64))
    runs = [
        ("int64 mlp", idealssl("check", "i.npy", "--augs", "o.json", "--probe", "mlp", cwd=tmp), {0, 2}),
        ("int64 linear", idealssl("check", "i.npy", "--augs", "o.json", cwd=tmp), {0, 2}),
        ("uint64 mlp", idealssl("check", "u.npy", "--augs", "o.json", "--probe", "mlp", cwd=tmp), {0, 2}),
        ("int64 3 orbits", idealssl("check", "i2.npy", "--augs", "o3.json", cwd=tmp), {0, 2}),
        ("npz int64 mlp", idealssl("check", "i.npz:x", "--augs", "o.json", "--probe", "mlp", cwd=tmp), {0, 2}),
        ("derive --exact", idealssl("derive", "--exact", "i.npy", "--augs", "o.json", cwd=tmp), {0, 2}),
    ]
    return verdicts(runs)


@finding("one 2,000,000-character label among 20,001 (check and derive --exact): no MemoryError, exit 1 never")
def long_label(tmp: Path) -> Outcome:
    labels = ["a"] * 10000 + ["b"] * 10000 + ["x" * 2_000_000]
    Z = np.array([[0.0, 0.0]] * 10000 + [[1.0, 0.0]] * 10000 + [[0.0, 1.0]])
    save(tmp, "z.npy", Z)
    save(tmp, "o.json", {"labels": labels})
    runs = [
        ("check", idealssl("check", "z.npy", "--augs", "o.json", cwd=tmp), {0, 2}),
        ("check mlp", idealssl("check", "z.npy", "--augs", "o.json", "--probe", "mlp", cwd=tmp), {0, 2}),
        ("derive --exact", idealssl("derive", "--exact", "z.npy", "--augs", "o.json", cwd=tmp), {0, 2}),
    ]
    save(tmp, "t.json", {"orbit_labels": ["y" * 2_000_000, "n", "n"]})
    runs.append(("check --task", idealssl("check", "z.npy", "--augs", "o.json", "--task", "t.json", cwd=tmp), {0, 2}))
    return verdicts(runs)


@finding("stdout to a full device (> /dev/full) of an ideal input: exit 2 with a message, no traceback, never exit 1")
def stdout_full_device(tmp: Path) -> Outcome:
    if not Path("/dev/full").exists():
        return Outcome(None, "no /dev/full on this system")
    Z, O = ideal_input(tmp)
    cases = [
        ("check", ["check", Z.name, "--augs", O.name]),
        ("check --json", ["check", Z.name, "--augs", O.name, "--json"]),
        ("check --exhaustive", ["check", Z.name, "--augs", O.name, "--exhaustive"]),
        ("derive", ["derive", "--classes", "10"]),
        ("derive --exact", ["derive", "--exact", Z.name, "--augs", O.name]),
        ("bench worlds", ["bench", "worlds"]),
        ("completion bash", ["completion", "bash"]),
    ]
    runs = []
    with open("/dev/full", "w") as full:
        for what, argv in cases:
            runs.append((what, idealssl(*argv, cwd=tmp, stdout=full), {2}))
    return verdicts(runs)


def _new_files(tmp: Path, before: set[str]) -> set[str]:
    return {str(p.relative_to(tmp)) for p in tmp.rglob("*")} - before


@finding(
    "--plot out.xyz (exit 2 before any work), --plot DIR (writes what it reports), --plot without matplotlib (verdict's code or refused before)"  # noqa: E501
)
def plot_target(tmp: Path) -> Outcome:
    Z, O = ideal_input(tmp)
    (tmp / "DIR").mkdir()
    (tmp / "afile").write_text("x")
    bad: list[str] = []
    runs: list[tuple[str, Result, set[int]]] = []
    for target in ("out.xyz", "out.png.xyz", "out.", "afile/x.png", "missing_dir/x.png"):
        r = idealssl("check", Z.name, "--augs", O.name, "--plot", target, cwd=tmp)
        runs.append((f"--plot {target}", r, {0, 2} if target.startswith("missing") else {2}))
        if r.rc == 0 and not (tmp / target).is_file():
            bad.append(f"--plot {target}: exit 0 and no figure there")
        if r.rc == 2 and "verdict" in r.out:
            bad.append(f"--plot {target}: the verdict printed before the refusal")
    for target in ("DIR", "DIR/", "noext", "out.svg", "out.pdf", "out.PNG"):
        before = {str(p.relative_to(tmp)) for p in tmp.rglob("*")}
        r = idealssl("check", Z.name, "--augs", O.name, "--plot", target, cwd=tmp)
        runs.append((f"--plot {target}", r, {0, 2}))
        made = _new_files(tmp, before)
        said = r.out + r.err
        if r.rc == 0 and not made:
            bad.append(f"--plot {target}: exit 0 and no file written")
        for m in made:
            if m not in said:
                bad.append(f"--plot {target}: wrote {m} and did not say so")
        if r.rc == 2 and made:
            bad.append(f"--plot {target}: refused but wrote {sorted(made)}")
    for extra in ([], ["--json"]):
        r = idealssl("check", Z.name, "--augs", O.name, "--plot", "nompl.png", *extra, cwd=tmp, prelude=NO_MATPLOTLIB)
        runs.append((f"--plot without matplotlib {extra}", r, {0, 2}))
        if r.rc == 2 and ("verdict" in r.out or '"ideal"' in r.out):
            bad.append(f"without matplotlib {extra}: the report printed, then exit 2 (the verdict's code lost)")
    out = verdicts(runs)
    if bad:
        return Outcome(True, "; ".join(bad) + ("; " + out.detail if out.reproduced else ""))
    return out


TRUNCATE = r"""
import os, sys, mmap, builtins, io
target, mode, keep = os.path.realpath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
del sys.argv[1:4]
state = {"opens": 0, "done": False}
def cut():
    if not state["done"]:
        state["done"] = True
        os.truncate(target, keep)
def is_target_fd(fd):
    try:
        return os.path.realpath(f"/proc/self/fd/{fd}") == target
    except OSError:
        return False
real_open, real_mmap = builtins.open, mmap.mmap
def opened(file, *a, **k):
    if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(file) == target:
        state["opens"] += 1
        if mode == "between" and state["opens"] == 2:
            cut()
    return real_open(file, *a, **k)
builtins.open = io.open = opened
class Map(real_mmap):
    def __new__(cls, fileno, *a, **k):
        if is_target_fd(fileno) and mode == "between":
            cut()
        m = real_mmap.__new__(cls, fileno, *a, **k)
        if is_target_fd(fileno) and mode == "during":
            cut()
        return m
mmap.mmap = Map
for name in ("pread", "preadv", "readv", "read"):
    real = getattr(os, name)
    def wrap(fd, *a, _real=real, **k):
        got = _real(fd, *a, **k)
        if mode == "during" and is_target_fd(fd):
            cut()
        return got
    setattr(os, name, wrap)
from idealssl.cli import main
sys.exit(main())
"""


@finding(
    "the .npy truncated during the streaming pass (no SIGBUS) or between header read and mapping: exit 2 with a message"
)
def npy_truncated_under_the_pass(tmp: Path) -> Outcome:
    n, d = 250_000, 4  # several 2 MB chunks
    Z = np.repeat(centred_simplex(d), n // d, axis=0)
    runs = []
    for order in ("C", "F"):
        path = tmp / f"big{order}.npy"
        save(tmp, "o.json", {"labels": np.repeat(np.arange(d), n // d).tolist()})
        for mode in ("during", "between"):
            np.save(path, np.asarray(Z, order=order))
            keep = 128 + 8 * d * 1000
            p = subprocess.run(
                [sys.executable, "-c", TRUNCATE, str(path), mode, str(keep), "check", path.name, "--augs", "o.json"],
                cwd=tmp,
                env=env(),
                capture_output=True,
                text=True,
                timeout=300,
            )
            r = Result([mode, order], p.returncode, p.stdout, p.stderr)
            cut = path.stat().st_size == keep
            runs.append((f"{mode} ({order} order{'' if cut else ', never cut'})", r, {2} if cut else {0}))
    return verdicts(runs)


@finding(
    "derive --classes 100000000000, --temperature 1e308, --tol -1 and their kin: exit 2 (or 0), one line, no traceback"
)
def derive_and_tolerance_ranges(tmp: Path) -> Outcome:
    Z, O = ideal_input(tmp)
    ex = ["--exact", Z.name, "--augs", O.name]
    cases: list[tuple[list[str], set[int]]] = [
        (["derive", "--classes", "100000000000"], {0, 2}),
        (["derive", "--classes", "100000000000", "--probe", "linear-nobias", "--json"], {0, 2}),
        (["derive", "--classes", str(10**30)], {0, 2}),
        (["derive", "--classes", "0"], {2}),
        (["derive", "--classes", "-3"], {2}),
        (["derive", "--classes", "5", "--dim", str(10**30)], {0, 2}),
        (["derive", "--classes", "5", "--dissl-categories", "100000000000"], {0, 2}),
        (["derive", *ex, "--temperature", "1e308"], {2}),
        (["derive", "--classes", "5", "--temperature", "1e308"], {2}),
        (["derive", *ex, "--temperature", "nan"], {2}),
        (["derive", *ex, "--temperature", "inf"], {2}),
        (["derive", *ex, "--temperature", "1e-308"], {2}),
        (["derive", *ex, "--dissl-lambda", "1e308"], {0, 2}),
        (["derive", *ex, "--dissl-lambda", "nan"], {2}),
        (["derive", *ex, "--dissl-beta", "nan"], {2}),
        (["derive", *ex, "--tol", "-1"], {2}),
        (["derive", *ex, "--tol", "nan"], {2}),
        (["derive", *ex, "--check-tol", "-1"], {2}),
        (["derive", *ex, "--check-tol", "nan"], {2}),
        (["check", Z.name, "--augs", O.name, "--tol", "-1"], {2}),
        (["check", Z.name, "--augs", O.name, "--tol", "nan"], {2}),
        (["check", Z.name, "--augs", O.name, "--tol", "inf"], {2}),
        (["check", Z.name, "--augs", O.name, "--tol", "-0.0"], {0, 2}),
        (["check", Z.name, "--augs", O.name, "--threads", "0"], {2}),
        (["check", Z.name, "--augs", O.name, "--threads", "-1"], {2}),
    ]
    return verdicts([(" ".join(a[:1] + a[-2:]), idealssl(*a, cwd=tmp), ok) for a, ok in cases])


@finding("the bias-free verdict does not depend on point order (orbit 0 = {S0, 1e-6 S0}, centred simplex elsewhere)")
def order_free_verdict(tmp: Path) -> Outcome:
    rng = np.random.default_rng(23)
    S = centred_simplex(4)
    bad, seen = [], []
    for tiny in (1e-6, 1e-3, 0.5):
        for probe in ("linear-nobias", "linear", "mlp"):
            base = [S[0], tiny * S[0], S[1], S[2], S[3]]
            labels = [0, 0, 1, 2, 3]
            orders = [list(range(5)), [1, 0, 2, 3, 4]] + [list(rng.permutation(5)) for _ in range(2)]
            rcs = []
            for k, order in enumerate(orders):
                save(tmp, f"z{k}.npy", np.array([base[i] for i in order]))
                save(tmp, f"o{k}.json", {"labels": [labels[i] for i in order]})
                r = idealssl("check", f"z{k}.npy", "--augs", f"o{k}.json", "--probe", probe, cwd=tmp)
                rcs.append(r.rc)
                if r.traceback or r.rc not in (0, 1):
                    bad.append(f"{probe} {tiny}: {r.brief()}")
            seen.append(f"{probe}/{tiny}: {rcs[0]}")
            if len(set(rcs)) > 1:
                bad.append(f"{probe} scale {tiny}: exit codes {rcs} over the orders {orders}")
    if bad:
        return Outcome(True, "; ".join(bad))
    return Outcome(False, "same verdict in every order: " + ", ".join(seen))


@finding("bench export --out DIR holding a user's files: refused (exit 2), nothing overwritten")
def bench_export_nonempty(tmp: Path) -> Outcome:
    bad, runs = [], []
    for i, files in enumerate((["representation.npy"], ["orbits.json"], ["notes.txt"])):
        d = tmp / f"d{i}"
        d.mkdir()
        for f in files:
            (d / f).write_text("mine")
        r = idealssl("bench", "export", "--world", "vector", "--out", d.name, cwd=tmp)
        runs.append((f"DIR with {files}", r, {2}))
        if any((d / f).read_text() != "mine" for f in files):
            bad.append(f"{files} overwritten (rc={r.rc})")
    (tmp / "afile").write_text("mine")
    runs.append(("--out FILE", idealssl("bench", "export", "--world", "vector", "--out", "afile", cwd=tmp), {2}))
    runs.append(
        ("--out FILE/sub", idealssl("bench", "export", "--world", "vector", "--out", "afile/sub", cwd=tmp), {2})
    )
    if (tmp / "afile").read_text() != "mine":
        bad.append("a file given as --out was replaced")
    out = verdicts(runs)
    if bad:
        return Outcome(True, "; ".join(bad))
    return out


# ------------------------------------------------------------------------------ section 1: the theory's fixtures
@finding("regular_simplex is a closed form (no LAPACK call), the same bits whatever the basis routines")
def simplex_closed_form(tmp: Path) -> Outcome:
    code = (
        "import numpy as np, sys\n"
        "def refuse(*a, **k): raise RuntimeError('LAPACK')\n"
        "for n in ('svd', 'eigh', 'eig', 'qr', 'eigvalsh', 'lstsq', 'pinv'): setattr(np.linalg, n, refuse)\n"
        "from idealssl.theory_math import regular_simplex\n"
        "for C in range(2, 13):\n"
        "    V = regular_simplex(C)\n"
        "    G = V @ V.T\n"
        "    assert np.allclose(np.diag(G), 1) and np.allclose(V.sum(0), 0), C\n"
        "    assert np.allclose(G[~np.eye(C, dtype=bool)], -1 / (C - 1)), C\n"
        "print(regular_simplex(6).tobytes().hex())\n"
    )
    outs = []
    for threads in ("1", "2"):
        p = subprocess.run(
            [sys.executable, "-c", code],
            env=env(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if p.returncode != 0:
            return Outcome(
                True, "regular_simplex needs a basis routine or is not a regular simplex: " + p.stderr.strip()[-200:]
            )
        outs.append(p.stdout)
    if outs[0] != outs[1]:
        return Outcome(True, "regular_simplex differs between thread counts")
    return Outcome(False, "closed form, a regular simplex for C = 2..12, identical bits at 1 and 2 threads")


def origin_inside(codes: np.ndarray) -> bool:
    """An independent LP: is there λ > 0 (all at least t > 0), Σ λ = 1, Σ λ_m μ_m = 0? Maximise t."""
    C, d = codes.shape
    c = np.zeros(C + 1)
    c[-1] = -1.0
    A_eq = np.zeros((d + 1, C + 1))
    A_eq[:d, :C] = codes.T
    A_eq[d, :C] = 1.0
    b_eq = np.zeros(d + 1)
    b_eq[d] = 1.0
    A_ub = np.hstack([-np.eye(C), np.ones((C, 1))])  # t <= λ_m
    r = linprog(c, A_ub=A_ub, b_ub=np.zeros(C), A_eq=A_eq, b_eq=b_eq, bounds=[(0, None)] * C + [(None, 1)])
    return bool(r.status == 0 and -r.fun > 1e-9)


def nobias_truth(codes: np.ndarray) -> bool:
    """Ideal for homogeneous probes (distinct, one point per orbit): rank C, or rank C - 1 with the origin inside."""
    C = len(codes)
    rank = np.linalg.matrix_rank(codes, tol=1e-9)
    return bool(rank == C or (rank == C - 1 and origin_inside(codes)))


@finding("regular_simplex(6) * 3 + 0.5 and its rotations: the bias-free verdict is the independent LP's")
def shifted_simplex_truth(tmp: Path) -> Outcome:
    from idealssl.theory_math import regular_simplex

    rng = np.random.default_rng(6)
    cases = [("regular_simplex(6)*3+0.5", regular_simplex(6) * 3 + 0.5)]
    for k in range(4):
        V = centred_simplex(6)[:, :5] - centred_simplex(6)[:, :5].mean(0)
        cases.append((f"rotated #{k}", (V @ random_orthogonal(5, rng)) * 3 + 0.5))
    bad, seen = [], []
    for name, codes in cases:
        truth = nobias_truth(codes)
        save(tmp, "z.npy", codes)
        save(tmp, "o.json", {"labels": list(range(len(codes)))})
        r = idealssl("check", "z.npy", "--augs", "o.json", "--probe", "linear-nobias", cwd=tmp)
        seen.append(f"{name}: {'in' if truth else 'out'} rc={r.rc}")
        if r.rc != (0 if truth else 1):
            bad.append(f"{name}: origin {'inside' if truth else 'outside'} by LP, checker rc={r.rc} {r.brief()}")
    return Outcome(bool(bad), "; ".join(bad or seen))


def _boundary_problems() -> list[tuple[str, np.ndarray, dict[str, int]]]:
    """(name, codes, expected exit code per family) with the truth by construction."""
    S = centred_simplex(4)
    beta_out = np.array([1.5, -1 / 6, -1 / 6, -1 / 6])  # barycentric, vertex 0 side, outside
    beta_face = np.array([0.5, 0.5, 0.0, 0.0])  # on an edge
    return [
        (
            "paper counterexample (1,0),(1,1),(1,2)",
            np.array([[1.0, 0], [1, 1], [1, 2]]),
            {"linear": 1, "linear-nobias": 1, "mlp": 0},
        ),
        ("centred simplex", S, {"linear": 0, "linear-nobias": 0, "mlp": 0}),
        ("simplex, origin outside", S - beta_out @ S, {"linear": 0, "linear-nobias": 1, "mlp": 0}),
        ("simplex, origin on an edge", S - beta_face @ S, {"linear": 0, "linear-nobias": 1, "mlp": 0}),
        ("two equal codes", np.array([[1.0, 0], [0, 1], [0, 1]]), {"linear": 1, "linear-nobias": 1, "mlp": 1}),
        ("independent codes", np.eye(3), {"linear": 0, "linear-nobias": 0, "mlp": 0}),
    ]


@finding("verdicts under random rotations, scalings and (affine, mlp) shifts equal the truth by construction")
def transformed_verdicts(tmp: Path) -> Outcome:
    rng = np.random.default_rng(2323)
    bad, n = [], 0
    for name, codes, expect in _boundary_problems():
        d = codes.shape[1]
        for probe, rc in expect.items():
            Q = random_orthogonal(d, rng)
            s = float(np.exp(rng.uniform(-6, 6)))
            shift = rng.standard_normal(d) * 10 if probe != "linear-nobias" else np.zeros(d)
            Z = np.repeat(codes @ Q * s + shift, 2, axis=0)
            save(tmp, "z.npy", Z)
            save(tmp, "o.json", {"labels": np.repeat(np.arange(len(codes)), 2).tolist()})
            r = idealssl("check", "z.npy", "--augs", "o.json", "--probe", probe, cwd=tmp)
            n += 1
            if r.rc != rc:
                bad.append(f"{name} {probe} (scale {s:.3g}): rc={r.rc}, expected {rc}")
    return Outcome(bool(bad), "; ".join(bad) or f"{n} transformed problems, every verdict as constructed")


@finding(
    "statements S1.4's worked example places the origin by construction; S1.4 treats a constant task; S3.3's 5/8 is ours"  # noqa: E501
)
def statements_text(tmp: Path) -> Outcome:
    text = (ROOT / "theory" / "statements.md").read_text()
    bad = []
    if re.search(r"regular_simplex\(6\)\s*\*\s*3\s*\+\s*0\.5", text):
        bad.append("S1.4 still states regular_simplex(6) * 3 + 0.5")
    s33 = [ln for ln in text.splitlines() if "5/8" in ln]
    if any("the paper's value" in ln for ln in s33):
        bad.append("S3.3 calls 5/8 the paper's value")
    s14 = text[text.find("**S1.4") : text.find("**S1.5")] if "**S1.5" in text else text[text.find("**S1.4") :]
    if "constant" not in s14:
        bad.append("S1.4's proof does not treat the constant task")
    return Outcome(bool(bad), "; ".join(bad) or "no coordinate-offset example; constant task treated; 5/8 attributed")
