"""A long held-out-style run of the checker's invariances: verdicts unchanged by rotation, scaling, translation
(``linear``, ``mlp``) and permutation of the points, on the harness's problems and on ``examples/*.npy``.

    python -m tests.check.heldout [--problems 2000] [--transforms 3] [--seed 0]

Problems are drawn with NumPy (not hypothesis) from the harness's generators (every code kind and every way of
making points, C in 2..7, d in 1..7, 1-3 points per orbit), skipped for a family when a deciding quantity lies
in the tolerance band (``usable``); each usable (problem, family) is compared with ``--transforms`` transformed
and as many permuted copies. Prints the counts and every mismatch; exit 0 iff there is none.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from idealssl.inputs.orbits import load_orbits

from .test_equivalence import (
    EXAMPLE_FILES,
    EXAMPLES_DIR,
    KINDS,
    POINTS,
    PROBES,
    TOL,
    make_codes,
    make_points,
    transformed,
    usable,
    verdict_and_certificate,
)


def compare(Z, orbit, probe, rng, transforms: int, what: str, failures: list[str]) -> int:
    base = verdict_and_certificate(Z, orbit, probe)
    if not base[1]:
        failures.append(f"{what} {probe}: certificate not verified")
    n = 0
    for _ in range(transforms):
        if verdict_and_certificate(transformed(Z, rng, translate=probe != "linear-nobias"), orbit, probe) != base:
            failures.append(f"{what} {probe}: transformed copy differs")
        perm = rng.permutation(len(Z))
        if verdict_and_certificate(Z[perm], orbit[perm], probe) != base:
            failures.append(f"{what} {probe}: permuted copy differs")
        n += 2
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=2000)
    ap.add_argument("--transforms", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    failures: list[str] = []
    counts = {"problems": 0, "problem-families": 0, "skipped (band)": 0, "comparisons": 0, "ideal": 0}
    for _ in range(args.problems):
        kind = str(rng.choice(KINDS))
        C, d, per = int(rng.integers(2, 8)), int(rng.integers(1, 8)), int(rng.integers(1, 4))
        seed, how = int(rng.integers(2**32)), str(rng.choice(POINTS))
        near = float(rng.choice([100 * TOL, TOL / 100]))
        p = make_points(make_codes(kind, C, d, seed, near), per, how, seed)
        counts["problems"] += 1
        for probe in PROBES:
            if not usable(p, probe):
                counts["skipped (band)"] += 1
                continue
            counts["problem-families"] += 1
            counts["ideal"] += verdict_and_certificate(p.Z, p.orbit, probe)[0]
            what = f"{kind}/{how} C={C} d={d} per={per} seed={seed}"
            counts["comparisons"] += compare(p.Z, p.orbit, probe, rng, args.transforms, what, failures)
    for z, orbits in EXAMPLE_FILES:
        Z = np.load(os.path.join(EXAMPLES_DIR, z)).astype(np.float64)
        orbit = load_orbits(os.path.join(EXAMPLES_DIR, orbits), n=len(Z)).labels
        for probe in PROBES:
            counts["comparisons"] += compare(Z, orbit, probe, rng, 10 * args.transforms, f"examples/{z}", failures)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()) + f", mismatches: {len(failures)}")
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
