"""The checker's streaming pass against the size of its table of orbit codes, orbits in random and contiguous order.

    python benches/check_pass_tables.py [--repeats 5]

On the file of ``benches/check_scale.py`` (``benches/data/rep_1000000x512.npy``, float32, written by that bench), in
one process: ``idealssl.checker.stats.orbit_stats(rep, orbits, threads=2)`` (the codes read, the compiled pass, the
per-orbit reductions) for C = 100, 1,000, 4,000 and 10,000 orbits, each in random order (every row's orbit drawn
uniformly) and stored contiguously. Each row's deviation reads the row and its orbit's code (d floats): in random order
the code comes from a C x d table, 0.2 MB at C = 100, 19.5 MB at C = 10,000. Medians over ``--repeats`` into
``benches/results/check_pass_tables.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--orbits", type=int, nargs="*", default=[100, 1000, 4000, 10000])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "check_pass_tables.json")
    args = ap.parse_args(argv)
    path = HERE / "data" / "rep_1000000x512.npy"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run benches/check_scale.py once (it writes the file)")
    from idealssl.checker.stats import orbit_stats
    from idealssl.inputs.orbits import load_orbits
    from idealssl.inputs.representation import load_representation

    rep = load_representation(str(path))
    rng = np.random.default_rng(0)
    rows = []
    for C in args.orbits:
        for layout in ("random", "contiguous"):
            if layout == "random":
                lab = rng.integers(0, C, rep.n)
                lab[:C] = np.arange(C)
            else:
                lab = np.repeat(np.arange(C), -(-rep.n // C))[: rep.n]
            orb = load_orbits(lab.tolist(), n=rep.n)
            ts = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                orbit_stats(rep, orb, threads=2)
                ts.append(time.perf_counter() - t)
            rows.append(
                {
                    "orbits": C,
                    "layout": layout,
                    "table_mib": round(C * rep.d * 4 / 2**20, 2),
                    "median_s": round(statistics.median(ts), 3),
                    "all_s": [round(t, 3) for t in ts],
                }
            )
            print(f"C={C:6d} {layout:10s} table {rows[-1]['table_mib']:5.1f} MiB  {rows[-1]['median_s']:.3f} s")
    doc = {
        "benchmark": "orbit_stats(rep, orbits, threads=2) on benches/data/rep_1000000x512.npy (warm page cache)",
        "command": "python benches/check_pass_tables.py --repeats " + str(args.repeats),
        "load_average_end": os.getloadavg()[0],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "numpy": np.__version__},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
