"""``idealssl check`` at scale against another checkout of idealssl, and both against one NumPy pass.

    git worktree add --detach /tmp/prev COMMIT && (cd /tmp/prev && python setup.py build_ext --inplace -q)
    python benches/check_scale_ab.py --against /tmp/prev [--repeats 7]

The same data as ``benches/check_scale.py`` (run it first: it writes ``benches/data/``). Each round runs, as fresh
processes in turn, the NumPy pass (``np.load(path, mmap_mode='r').sum(axis=0)``), ``python -m idealssl.cli check``
from the other checkout (``PYTHONPATH``) and from this one, so a shared machine's load hits the three alike; medians
per orbit layout, and the ratios to the NumPy pass. For a change whose effect is smaller than the machine's drift
between runs of ``check_scale.py``. Results: ``benches/results/check_scale_ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _git(cwd: Path) -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=cwd)
    return r.stdout.strip() or "unknown"


def _timed(cmd: list[str], pythonpath: Path | None) -> float:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode()[-800:]}")
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, required=True, help="another checkout of idealssl (its C kernel built)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--orbits", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "check_scale_ab.json")
    args = ap.parse_args(argv)
    rep = HERE / "data" / f"rep_{args.n}x{args.d}.npy"
    if not rep.is_file():
        raise SystemExit(f"{rep} is missing: run benches/check_scale.py first")
    base = [sys.executable, "-c", f"import numpy as np; np.load({str(rep)!r}, mmap_mode='r').sum(axis=0)"]
    rows = {}
    for layout in ("random", "contiguous"):
        orbits = HERE / "data" / f"orbits_{args.n}_{args.orbits}_{layout}.json"
        check = [sys.executable, "-m", "idealssl.cli", "check", str(rep), "--augs", str(orbits)]
        times: dict[str, list[float]] = {"numpy_pass": [], "other": [], "this": []}
        load = os.getloadavg()[0]
        for _ in range(args.repeats):
            times["numpy_pass"].append(_timed(base, None))
            times["other"].append(_timed(check, args.against.resolve()))
            times["this"].append(_timed(check, ROOT))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows[layout] = {
            "median_s": {k: round(v, 3) for k, v in med.items()},
            "ratio_to_numpy_pass": {k: round(med[k] / med["numpy_pass"], 2) for k in ("other", "this")},
            "this_over_other": round(med["this"] / med["other"], 3),
            "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
            "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        }
        r = rows[layout]
        print(f"{layout:>10}: {r['median_s']} ratios {r['ratio_to_numpy_pass']} load {r['load_average']}")
    result = {
        "benchmark": "idealssl check (this checkout and another) vs one NumPy pass, fresh processes in turn",
        "command": "python benches/check_scale_ab.py --against DIR --repeats " + str(args.repeats),
        "this": _git(ROOT),
        "other": _git(args.against),
        "n": args.n,
        "d": args.d,
        "orbits": args.orbits,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
