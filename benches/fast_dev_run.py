"""``--fast-dev-run`` wall time, idle and under a synthetic load, against the previous smoke-test settings.

    python benches/fast_dev_run.py                    # byol, resnet18, digits; 3 rounds idle and 3 under load 4
    python benches/fast_dev_run.py --busy 0 --rounds 1 --method dissl
    python benches/fast_dev_run.py --table            # the row of benches/README.md, from the recorded JSON
    python benches/fast_dev_run.py --against DIR --busy 0 --rounds 5   # this checkout against another one

Each run is the user's command, ``idealssl train --method M --dataset digits --arch resnet18 --fast-dev-run
--no-progress``, in a FRESH Python process (interpreter start, imports, data, 3 steps, monitors, checkpoint, every
evaluation, the check), timed from start to exit. The baseline is the same command with the smoke test's previous
settings restored by overrides (torch's default threads, the online k-NN on 2000/500 images, the check on 50 images
of 4 views): ``train.threads=0 eval.online_knn_bank=2000 eval.online_knn_queries=500 check.images=50
check.views=4``, and the previous exit (``main`` then Python's normal exit, whose teardown frees every module;
the console script skips it: :func:`idealssl.cli.exit_fast`). Rounds alternate the two, so a shared machine's load
hits both alike. "Under load" starts ``--busy`` processes spinning in pure Python (one core each when free) for the
duration of those rounds; the load average (1 min) is sampled before each run and recorded beside it, since other
users of the machine add to it.
``OMP_NUM_THREADS`` is removed from the children's environment (a user's shell has none). Besides the wall time, the
child's CPU time (user + system, ``RUSAGE_CHILDREN``) is recorded: with one thread it is close to the wall time the
same run takes on an idle machine, whatever the load was. Results go to
``benches/results/fast_dev_run.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the previous console script: ``main`` and the interpreter's own exit (its teardown frees every module)
NORMAL_EXIT = "import sys; from idealssl.cli import main; sys.exit(main())"
PREVIOUS = [
    "train.threads=0",
    "eval.online_knn_bank=2000",
    "eval.online_knn_queries=500",
    "check.images=50",
    "check.views=4",
]


def _spin(stop) -> None:  # a busy process: pure Python, no sleep
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def _one(method: str, extra: list[str], out: Path, normal_exit: bool = False, root: Path = ROOT) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    entry = ["-m", "idealssl.cli"] if not normal_exit else ["-c", NORMAL_EXIT]
    cmd = [sys.executable, *entry, "train", "--method", method, "--dataset", "digits"]
    cmd += ["--arch", "resnet18", "--fast-dev-run", "--no-progress", "--out", str(out), *extra]
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode:
        raise SystemExit(f"fast_dev_run bench: {' '.join(cmd)} exited {r.returncode}: {r.stderr[-1500:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_1min_before": round(load, 2)}


def _rounds(method: str, rounds: int, busy: int, tmp: Path, against: Path | None = None) -> dict:
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        if busy:
            time.sleep(5)  # let the load settle in
        base = "previous_settings" if against is None else "against"
        runs: dict[str, list[dict]] = {"fast_dev_run": [], base: []}
        for i in range(rounds):
            for name in runs:
                out = tmp / f"{name}-{busy}-{i}"
                if name == "against":
                    assert against is not None
                    runs[name].append(_one(method, [], out, root=against))
                else:
                    extra = PREVIOUS if name == "previous_settings" else []
                    runs[name].append(_one(method, extra, out, normal_exit=bool(extra)))
    finally:
        stop.set()
        for p in spinners:
            p.join(5)
    med = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in runs.items()}
    loads = [r["load_1min_before"] for v in runs.values() for r in v]
    return {
        "busy_processes": busy,
        "runs": runs,
        "median_wall_s": med,
        "median_cpu_s": cpu,
        "ratio_previous_over_fast": round(med[base] / med["fast_dev_run"], 2),
        "load_1min_range": [min(loads), max(loads)],
    }


def _commit(root: Path) -> str | None:
    r = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or None


def table(path: Path) -> str:
    res = json.loads(path.read_text())
    rows = []
    for c in res["conditions"]:
        m, cpu = c["median_wall_s"], c["median_cpu_s"]
        base = "against" if "against" in m else "previous_settings"
        lo, hi = c["load_1min_range"]
        rows.append(
            f"| {res['method']}, resnet18, digits; {c['busy_processes']} busy processes, load average {lo:g}-{hi:g} "
            f"| {m['fast_dev_run']:.1f} s ({cpu['fast_dev_run']:.1f} s CPU) "
            f"| {m[base]:.1f} s ({cpu[base]:.1f} s CPU) "
            f"| {c['ratio_previous_over_fast']:.2f}x |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="byol")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", type=int, nargs="*", default=[0, 4], help="busy processes per condition (0: idle)")
    ap.add_argument("--out", type=Path, default=None, help="default benches/results/fast_dev_run[_ab].json")
    ap.add_argument("--table", action="store_true", help="print the README row from --out and exit")
    ap.add_argument("--against", type=Path, default=None, help="a checkout of another commit: the baseline's code")
    args = ap.parse_args(argv)
    name = "fast_dev_run_ab.json" if args.against is not None else "fast_dev_run.json"
    args.out = args.out or ROOT / "benches" / "results" / name
    if args.table:
        print(table(args.out))
        return 0
    with tempfile.TemporaryDirectory() as d:
        conditions = [_rounds(args.method, args.rounds, b, Path(d), args.against) for b in args.busy]
    baseline = (
        f"the same with the previous smoke-test settings ({' '.join(PREVIOUS)}) and the previous exit ({NORMAL_EXIT})"
        if args.against is None
        else f"the same command run from the checkout {args.against} (commit {_commit(args.against)})"
    )
    result = {
        "benchmark": "idealssl train --method M --dataset digits --arch resnet18 --fast-dev-run --no-progress, "
        f"fresh process, wall time from start to exit; baseline: {baseline}; rounds alternated",
        "commit": _commit(ROOT),
        "method": args.method,
        "rounds": args.rounds,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "conditions": conditions,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({c["busy_processes"]: c["median_wall_s"] for c in conditions}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
