"""Streaming benchmark: images/s and peak resident memory, in-memory vs streamed, at two dataset sizes.

    python benches/stream.py                  # 2,000 and 20,000 JPEGs (a few minutes on 2 cores)
    python benches/stream.py --smoke          # tiny, seconds (CI runs it through tests/train/test_stream.py)
    python benches/stream.py --table          # the table of benches/README.md, from benches/results/stream.json

Writes (once, reused) ImageFolder trees of generated JPEGs under ``benches/data/stream_jpeg_<N>/`` (git-ignored):
``train/c<k>/<i>.jpg`` (N images, 10 classes, 64 x 64 px) and ``val/c<k>/`` (10 per class). Then, for each
size and each way of reading (``data.stream=false``: decoded once into one uint8 array; ``data.stream=true``:
decoded per batch by DataLoader workers), runs ``idealssl train`` in a FRESH Python process for a fixed number of
steps, three rounds alternating the two ways (the load of a shared machine hits both), and records:

* images/s: the trainer's own ``results.json`` throughput (pretraining images per second over the session's
  steps: data, views, forward, backward, optimiser; set-up, i.e. decoding everything or computing the channel
  statistics, not included and recorded separately as ``setup_seconds``); the summary keeps the best round (the
  least disturbed);
* peak RSS: ``ru_maxrss`` of the training process (``RUSAGE_SELF`` in that process);
* peak anonymous memory of the whole process tree (training process + DataLoader workers): the summed
  ``Pss_Anon`` of ``/proc/<pid>/smaps_rollup``, sampled every 0.1 s. The workers are forked, and their RSS counts the
  pages they share with the training process (``RUSAGE_CHILDREN``'s ``ru_maxrss`` is recorded as
  ``rss_children_mib``, but it is the largest child's RSS including those pages, not memory added); the
  proportional anonymous size counts each such page once in total, and leaves out the libraries (libtorch), whose
  proportional share depends on how many other processes on the machine map them (the summed ``Pss`` is recorded
  too, as ``pss_tree_peak_mib``).

Peak RSS must not grow with the dataset when streaming (issue 17). The child processes are started from this
small process: on Linux a child's ``ru_maxrss`` starts from its parent's at ``exec``, so the JPEGs are written by
a child too. Results go to ``benches/results/stream.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def make_folder(root: Path, n_train: int, classes: int, size: int, n_val_per_class: int = 10, seed: int = 0) -> Path:
    """An ImageFolder of ``n_train`` JPEGs (+ ``n_val_per_class`` per class in val/): smooth random images (a
    4x4 random grid upsampled) tinted by class. Written once: a ``.complete`` marker says it is whole."""
    if (root / ".complete").exists():
        return root
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    tints = rng.integers(0, 256, (classes, 3))
    for split, per_class in (("train", n_train // classes), ("val", n_val_per_class)):
        for c in range(classes):
            d = root / split / f"c{c}"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                small = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
                im = Image.fromarray(small).resize((size, size), Image.BILINEAR)
                a = (np.asarray(im, dtype=np.uint16) + tints[c]) // 2
                Image.fromarray(a.astype(np.uint8)).save(d / f"{i}.jpg", quality=90)
    (root / ".complete").write_text("ok\n")
    return root


#: runs ``idealssl train`` in this fresh process, then prints the run's numbers and this process's peak RSS
_CHILD = """
import json, resource, sys
from idealssl.cli import main
code = main(sys.argv[2:])
res = json.load(open(sys.argv[1] + "/results.json")) if code == 0 else {}
print(json.dumps({
    "exit": code,
    "images_per_s": res.get("throughput", {}).get("images_per_s"),
    "setup_seconds": res.get("setup_seconds"),
    "train_seconds": res.get("train_seconds"),
    "steps": res.get("steps"),
    "data_stream": res.get("data_stream"),
    "rss_train_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_children_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def train_args(data: Path, out: Path, stream: bool, p: dict) -> list[str]:
    """The ``idealssl train`` command line of one measurement."""
    return [
        "train",
        "--method",
        "simclr",
        "--dataset",
        "folder",
        "--data-dir",
        str(data),
        "--arch",
        "convnet",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--num-workers",
        str(p["workers"]),
        "--no-progress",
        f"data.stream={'true' if stream else 'false'}",
        f"data.image_size={p['size']}",
        f"views.size={p['view']}",
        f"model.width={p['width']}",
        f"optim.batch_size={p['batch']}",
        f"train.limit_steps={p['steps']}",
        "optim.warmup_epochs=0",
        "eval.at_end=[]",
        "check.enabled=false",
    ]


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    parent: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parent.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        out.append(q)
        todo.extend(parent.get(q, []))
    return out


def _pss_mib(pids: list[int]) -> tuple[float, float]:
    """Summed proportional set size of ``pids``: all of it, and its anonymous part (``Pss_Anon``: heap, tensors,
    decoded images; pages shared copy-on-write by forked workers counted once in total)."""
    kib = {"Pss:": 0, "Pss_Anon:": 0}
    for q in pids:
        try:
            for line in Path(f"/proc/{q}/smaps_rollup").read_text().splitlines():
                key = line.split(" ", 1)[0]
                if key in kib:
                    kib[key] += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return kib["Pss:"] / 1024, kib["Pss_Anon:"] / 1024


def measure(data: Path, work: Path, stream: bool, p: dict) -> dict:
    """One fresh-process training run; its numbers (see :data:`_CHILD`) and the peak summed PSS of its process
    tree (training process + DataLoader workers), sampled every 0.1 s."""
    out = work / f"{data.name}-{'stream' if stream else 'memory'}"
    env = dict(os.environ, OMP_NUM_THREADS=str(p["threads"]), PYTHONPATH=str(ROOT))
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(out), *train_args(data, out, stream, p)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak, anon = 0.0, 0.0
    while proc.poll() is None:
        pss = _pss_mib(_tree(proc.pid))
        peak, anon = max(peak, pss[0]), max(anon, pss[1])
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"training run failed ({proc.returncode}):\n{stderr[-3000:]}")
    rec = json.loads(stdout.strip().splitlines()[-1])
    rec["wall_seconds"] = time.time() - t0
    rec["pss_tree_peak_mib"] = peak
    rec["anon_tree_peak_mib"] = anon
    return rec


PRESETS = {
    "full": {
        "sizes": [2000, 20000],
        "classes": 10,
        "size": 64,
        "view": 32,
        "width": 16,
        "batch": 64,
        "steps": 20,
        "rounds": 3,
    },
    "smoke": {"sizes": [48], "classes": 3, "size": 16, "view": 16, "width": 4, "batch": 12, "steps": 2, "rounds": 1},
}


def run_all(p: dict, data_root: Path, work: Path, smoke: bool) -> list[dict]:
    """Every measurement: per size, ``p["rounds"]`` rounds of (in memory, streamed), alternated so that the load
    of a shared machine hits both ways alike."""
    rows = []
    for n in p["sizes"]:
        folder = data_root / f"stream_jpeg_{n}{'_smoke' if smoke else ''}"
        code = (
            f"import pathlib, sys; sys.path.insert(0, {str(HERE)!r}); import stream; "
            f"stream.make_folder(pathlib.Path({str(folder)!r}), {n}, {p['classes']}, {p['size']})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)  # a child: this process stays small
        for r in range(p["rounds"]):
            for stream in (False, True):
                rec = measure(folder, work / f"round{r}", stream, p)
                rec.update(n_train=n, streamed=stream, round=r)
                rows.append(rec)
                print(
                    f"{n:>6} images, {'streamed' if stream else 'in memory'}, round {r}: {rec['images_per_s']:.0f} "
                    f"img/s, peak RSS {rec['rss_train_mib']:.0f} MiB, peak anonymous memory of the process tree "
                    f"{rec['anon_tree_peak_mib']:.0f} MiB, setup {rec['setup_seconds']:.1f} s",
                    flush=True,
                )
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per (size, way): the best images/s over rounds (the least disturbed on a shared machine), the largest peak
    RSS and PSS, the smallest set-up time."""
    out = []
    for key in dict.fromkeys((r["n_train"], r["streamed"]) for r in rows):
        rs = [r for r in rows if (r["n_train"], r["streamed"]) == key]
        out.append(
            {
                "n_train": key[0],
                "streamed": key[1],
                "workers": rs[0]["data_stream"]["workers"],
                "images_per_s_best": max(r["images_per_s"] for r in rs),
                "images_per_s_rounds": [r["images_per_s"] for r in rs],
                "rss_train_mib_max": max(r["rss_train_mib"] for r in rs),
                "pss_tree_peak_mib_max": max(r["pss_tree_peak_mib"] for r in rs),
                "anon_tree_peak_mib_max": max(r["anon_tree_peak_mib"] for r in rs),
                "setup_seconds_min": min(r["setup_seconds"] for r in rs),
            }
        )
    return out


def table(result: dict) -> str:
    """The markdown table of benches/README.md from a results file."""
    lines = [
        "| training images | way | images/s, best (each round) | peak RSS, training process | peak anonymous memory, "
        "process tree | set-up |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["summary"]:
        way = f"streamed ({r['workers']} workers)" if r["streamed"] else "in memory"
        rounds = ", ".join(f"{v:.0f}" for v in r["images_per_s_rounds"])
        lines.append(
            f"| {r['n_train']:,} | {way} | {r['images_per_s_best']:.1f} ({rounds}) | {r['rss_train_mib_max']:.0f} "
            f"MiB | {r['anon_tree_peak_mib_max']:.0f} MiB | {r['setup_seconds_min']:.1f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="one tiny folder, 2 steps each way: keeps the script working")
    ap.add_argument("--data", type=Path, help="where the JPEG folders go (default benches/data)")
    ap.add_argument("--out", type=Path, help="results JSON (default benches/results/stream.json; smoke: none)")
    ap.add_argument("--work", type=Path, help="run directories (default: a temporary folder)")
    ap.add_argument("--workers", type=int, default=2, help="data.num_workers (decode threads / DataLoader workers)")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the training processes")
    ap.add_argument("--table", action="store_true", help="print the README table of the results file and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table(json.loads((args.out or HERE / "results" / "stream.json").read_text())))
        return 0
    p = dict(PRESETS["smoke" if args.smoke else "full"], workers=args.workers, threads=args.threads)
    data_root = args.data or HERE / "data"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = run_all(p, data_root, args.work or Path(tmp), args.smoke)
    result = {
        "benchmark": "streaming vs in-memory image data (issue 17)",
        "command": "python benches/stream.py" + (" --smoke" if args.smoke else ""),
        "settings": p,
        "protocol": (
            f"ImageFolder of generated {p['size']}px JPEGs ({p['classes']} classes); idealssl train --method simclr "
            f"--arch convnet (width {p['width']}), views {p['view']}px, batch {p['batch']}, {p['steps']} steps, "
            f"data.num_workers={p['workers']}, OMP_NUM_THREADS={p['threads']}; each run a fresh process; images/s "
            f"= results.json throughput (set-up excluded), best of the rounds; peak RSS = ru_maxrss of the training "
            f"process; peak anonymous memory = summed Pss_Anon of the training process and its workers, sampled "
            f"every 0.1 s"
        ),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": list(os.getloadavg()),
        },
        "summary": summarise(rows),
        "rows": rows,
    }
    out = args.out or (None if args.smoke else HERE / "results" / "stream.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
