"""Scale benchmark for ``idealssl check``: wall time and peak RSS against one NumPy pass.

    python benches/check_scale.py [--n 1000000] [--d 512] [--orbits 10000] [--repeats 3]

Writes (once) ``benches/data/rep_{n}x{d}.npy`` (float32, standard normal; 2 GB at the defaults) and
two orbit files, orbits in random order and orbits stored contiguously (the layout of an augmented
dataset, each image's views side by side). Then, alternating in the same run, each timed as a fresh
process and repeated:

* baseline: ``python -c "np.load(path, mmap_mode='r').sum(axis=0)"``, a single NumPy pass over the
  memory-mapped file;
* ours: ``idealssl check path --augs orbits.json`` (default probe, readable report), with the
  compiled kernels of ``idealssl/_kernels.c``;
* ours without it (``IDEALSSL_PURE_NUMPY=1``: the NumPy fallback), for the record.

Reports medians, the ratio ours / baseline, and peak RSS (``ru_maxrss`` of each child) into
``benches/results/check_scale.json``, with the load average before and after each layout. Targets (issue 28):
ratio ≤ 1.2, peak RSS ≤ 0.5 GiB.

The data are written by a child process: a child's ``ru_maxrss`` also counts its parent's peak
(inherited through exec), so this process must stay small. Before timing, the file is read once
sequentially (buffered reads, as ``cat`` does): how the page cache holds a file (as written through a
memory map, or as read) changes the cost of mapping it, for the baseline and for us alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_data_in_child(n: int, d: int, C: int):
    """Run make_data in a child process (keeps this process's peak RSS, which children inherit, small)."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import check_scale; check_scale.make_data({n}, {d}, {C})"
    subprocess.run([sys.executable, "-c", code], check=True)
    data = HERE / "data"
    return data / f"rep_{n}x{d}.npy", {
        layout: data / f"orbits_{n}_{C}_{layout}.json" for layout in ("random", "contiguous")
    }


def warm(path: Path) -> None:
    """Read the file once sequentially into the page cache (1 MB buffered reads, like ``cat``)."""
    buf = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def make_data(n: int, d: int, C: int, seed: int = 0):
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    rep = data / f"rep_{n}x{d}.npy"
    if not rep.exists():
        rng = np.random.default_rng(seed)
        Z = np.lib.format.open_memmap(rep, mode="w+", dtype=np.float32, shape=(n, d))
        for s in range(0, n, 65536):
            Z[s : s + 65536] = rng.standard_normal((min(65536, n - s), d), dtype=np.float32)
        Z.flush()
        del Z
    files = {}
    for layout in ("random", "contiguous"):
        path = data / f"orbits_{n}_{C}_{layout}.json"
        if not path.exists():
            rng = np.random.default_rng(seed + 1)
            if layout == "random":
                labels = rng.integers(0, C, n)
                labels[:C] = np.arange(C)  # every orbit non-empty
            else:
                labels = np.repeat(np.arange(C), -(-n // C))[:n]
            path.write_text(json.dumps({"labels": labels.tolist()}))
        files[layout] = path
    return rep, files


def timed(cmd, env=None):
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{cmd} failed ({code}): {err}")
    # peak RSS in bytes (Linux reports KiB); CPU seconds of the child, all its threads, user and system
    return wall, ru.ru_maxrss * 1024, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--orbits", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "check_scale.json"))
    args = ap.parse_args()
    rep, orbit_files = make_data_in_child(args.n, args.d, args.orbits)
    kernel = (
        subprocess.run(
            [sys.executable, "-c", "import idealssl.checker.stats as s; print(s.fused_kernel is not None)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        == "True"
    )
    base_cmd = [sys.executable, "-c", f"import numpy as np; np.load({str(rep)!r}, mmap_mode='r').sum(axis=0)"]
    exe = [sys.executable, "-m", "idealssl.cli", "check", str(rep), "--augs"]
    numpy_env = {**os.environ, "IDEALSSL_PURE_NUMPY": "1"}
    # byte-compile the package, as a regular (non-editable) install does: otherwise, with
    # PYTHONDONTWRITEBYTECODE set, every run would compile idealssl's modules again
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(HERE.parent / "idealssl")], check=True, stdout=subprocess.DEVNULL
    )
    warm(rep)
    timed(base_cmd)
    rows = {}
    for layout, path in orbit_files.items():
        base, ours, plain, rss_b, rss_o, cpu_b, cpu_o = [], [], [], [], [], [], []
        load_before = os.getloadavg()
        for _ in range(args.repeats):
            w, r, c = timed(base_cmd)
            base.append(w)
            rss_b.append(r)
            cpu_b.append(c)
            w, r, c = timed(exe + [str(path)])
            ours.append(w)
            rss_o.append(r)
            cpu_o.append(c)
            plain.append(timed(exe + [str(path)], env=numpy_env)[0])
        rows[layout] = {
            "baseline_wall_s": statistics.median(base),
            "check_wall_s": statistics.median(ours),
            "ratio": statistics.median(ours) / statistics.median(base),
            "check_numpy_fallback_wall_s": statistics.median(plain),
            "ratio_numpy_fallback": statistics.median(plain) / statistics.median(base),
            "baseline_peak_rss_bytes": max(rss_b),
            "check_peak_rss_bytes": max(rss_o),
            "all_baseline_s": base,
            "all_check_s": ours,
            "all_check_numpy_fallback_s": plain,
            "all_ratios": [o / b for o, b in zip(ours, base)],
            "baseline_cpu_s": statistics.median(cpu_b),
            "check_cpu_s": statistics.median(cpu_o),
            "cpu_ratio": statistics.median(cpu_o) / statistics.median(cpu_b),
            "all_baseline_cpu_s": cpu_b,
            "all_check_cpu_s": cpu_o,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        }
        r = rows[layout]
        print(
            f"{layout:>10}: numpy pass {r['baseline_wall_s']:.2f} s, idealssl check {r['check_wall_s']:.2f} s, "
            f"ratio {r['ratio']:.2f}, CPU {r['check_cpu_s']:.2f} vs {r['baseline_cpu_s']:.2f} s "
            f"(NumPy fallback: {r['check_numpy_fallback_wall_s']:.2f} s, "
            f"ratio {r['ratio_numpy_fallback']:.2f}), peak RSS {r['check_peak_rss_bytes'] / 2**30:.2f} GiB "
            f"(numpy pass: {r['baseline_peak_rss_bytes'] / 2**30:.2f} GiB); load average "
            f"{r['load_average_before'][0]:.1f} -> {r['load_average_after'][0]:.1f}"
        )
    result = {
        "benchmark": "idealssl check vs one numpy pass over the same memory-mapped file",
        "command": "python benches/check_scale.py " + " ".join(sys.argv[1:]),
        "n": args.n,
        "d": args.d,
        "orbits": args.orbits,
        "dtype": "float32",
        "repeats": args.repeats,
        "file_bytes": rep.stat().st_size,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "page_cache": "warm (the file is read once sequentially, then mapped once by the baseline, before timing)",
        "compiled_kernel": kernel,
        "targets": {"ratio_max": 1.2, "peak_rss_max_bytes": int(0.5 * 2**30)},
        "results": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
