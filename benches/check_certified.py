"""What the ``certified`` block costs ``idealssl check``: wall time with ``--certified auto`` (the default) against
``--certified off``, on the scale benchmark's input and on two smaller ones.

    python benches/check_certified.py [--repeats 5] [--skip-scale]

Inputs (standard normal float32 ``.npy`` files with ``{"labels": [...]}`` orbits in random order, written once
under ``benches/data/`` by ``check_scale.make_data``):

* ``scale``: N = 1,000,000, d = 512, C = 10,000 (``benches/check_scale.py``'s input): the block's ``orbits`` path,
  γ = 0 exactly (C − 1 > d), no pair table (C > 2048);
* ``mid``: N = 100,000, d = 256, C = 200: the ``orbits`` path with the cheap γ and the pair table;
* ``small``: N = 4,000, d = 64, C = 40: the ``points`` path (orbit means, exact diameters, pair table).

Each command runs as a fresh process (start-up and imports included), the two settings alternated, ``repeats``
times; medians and the ratio auto / off go to ``benches/results/check_certified.json``. The file is read once
before timing (page cache warm).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_scale  # noqa: E402  (the sibling script: data, warm-up, timing)

CONFIGS = {"scale": (1_000_000, 512, 10_000), "mid": (100_000, 256, 200), "small": (4_000, 64, 40)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-scale", action="store_true", help="leave out the 2 GB input")
    ap.add_argument("--out", default=str(HERE / "results" / "check_certified.json"))
    args = ap.parse_args()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(HERE.parent / "idealssl")], check=True, stdout=subprocess.DEVNULL
    )
    rows = {}
    for name, (n, d, C) in CONFIGS.items():
        if name == "scale" and args.skip_scale:
            continue
        rep, files = check_scale.make_data_in_child(n, d, C)
        check_scale.warm(rep)
        exe = [sys.executable, "-m", "idealssl.cli", "check", str(rep), "--augs", str(files["random"])]
        times: dict[str, list[float]] = {"off": [], "auto": []}
        check_scale.timed(exe + ["--certified", "off"])  # untimed: imports into the page cache
        for _ in range(args.repeats):
            for mode in ("off", "auto"):
                times[mode].append(check_scale.timed(exe + ["--certified", mode])[0])
        path = json.loads(subprocess.run(exe + ["--json"], capture_output=True, text=True).stdout)["certified"]
        off, auto = statistics.median(times["off"]), statistics.median(times["auto"])
        rows[name] = {
            "n": n,
            "d": d,
            "orbits": C,
            "path": path["path"],
            "gamma_exact": path["gamma"]["exact"],
            "pairs_computed": path["orbits"]["pairs_computed"],
            "off_wall_s": off,
            "auto_wall_s": auto,
            "ratio": auto / off,
            "all_off_s": times["off"],
            "all_auto_s": times["auto"],
        }
        print(
            f"{name:>6} N={n} d={d} C={C} ({path['path']} path): off {off:.2f} s, auto {auto:.2f} s, "
            f"ratio {auto / off:.2f}"
        )
    result = {
        "benchmark": "idealssl check --certified auto vs --certified off, fresh processes, alternated",
        "command": "python benches/check_certified.py " + " ".join(sys.argv[1:]),
        "repeats": args.repeats,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average_at_end": os.getloadavg(),
        },
        "results": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
