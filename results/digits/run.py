"""Regenerate the digits results: every registered method, the same budget (the shipped digits preset:
convnet width 32, batch 256, AdamW 2e-3, with 30 epochs x 5 steps instead of the preset's 60: the 30 runs
took about an hour of wall time on a 2-core machine, 2 at a time), 3 seeds, the theory-derived configuration
and, for every method where the theory changes the objective, the original (papers') configuration beside it
(issue 12).

    python results/digits/run.py                 # all methods, seeds 0 1 2, 2 runs in parallel (1 thread each)
    python results/digits/run.py --methods dissl cissl --seeds 0

Each run is ``idealssl train --method M --dataset digits --config-source C --probe linear --seed S`` (the
README command plus a seed); every run ends with its ``check`` block (held-out images x training views, one
orbit per image; ``idealssl/train/orbit_sets.py``). Run directories go to ``runs/digits-table/`` (not
committed: they hold checkpoints); each run's ``results.json`` is copied to ``results/digits/per_run/``
(``M-sS.json`` for the derived configuration, ``M-original-sS.json`` for the original one where it differs);
the summary is written to ``results/digits/results.json`` and the generated part of
``results/digits/README.md`` (between the ``run.py`` markers; the rest of the file is kept). Finished runs are
skipped, so the script can be interrupted and restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUNS = ROOT / "runs" / "digits-table"

METRICS = [  # (key in the table, path in results.json, header)
    ("linear", ("eval", "linear", "top1"), "linear probe"),
    ("knn", ("eval", "knn", "top1"), "k-NN (k=20, T=0.07, cosine)"),
    ("fewshot", ("eval", "fewshot", "top1"), "10-shot (features)"),
    ("fewshot_raw", ("eval", "fewshot", "raw_pixels_top1"), "10-shot (raw pixels)"),
    ("anomaly_knn", ("eval", "anomaly", "auroc_mean"), "anomaly AUROC (k-NN dist.)"),
    ("anomaly_likelihood", ("eval", "anomaly_likelihood", "auroc_mean"), "anomaly AUROC (likelihood)"),
    ("online_linear", ("eval", "online_linear", "top1"), "online linear"),
    ("train_seconds", ("train_seconds",), "train s"),
]
CHECK = [  # (key, path in results.json, header): the check block (issue 12)
    ("invariance", ("check", "invariance_ratio"), "invariance"),
    ("sigma_ratio", ("check", "sigma_ratio"), "σ_(C−1)/σ_1"),
    ("rank", ("check", "rank"), "affine rank"),
    ("fitted", ("check", "fitted_task_fraction"), "fitted_task_fraction"),
    ("ideal_tolerance", ("check", "ideal_tolerance"), "ideal_tolerance"),
]
SOURCES = ("derived", "original")
MARK_START = "<!-- run.py: generated from here -->"
MARK_END = "<!-- run.py: generated up to here -->"


def _get(d, path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def per_run(method: str, source: str, seed: int) -> Path:
    """Where one run's results.json is kept (derived runs keep the historical name ``M-sS.json``)."""
    tag = "" if source == "derived" else f"-{source}"
    return HERE / "per_run" / f"{method}{tag}-s{seed}.json"


def theory_changes_objective(method: str) -> bool:
    """Whether ``--config-source derived`` changes the objective of ``method`` on the digits preset: the
    trainer's own prescriptions (``idealssl.train.theory_config.apply``) applied for C = the number of
    pretraining images, compared with the original configuration."""
    import copy

    from idealssl.data.datasets import load_digits_set
    from idealssl.train import theory_config
    from idealssl.train.catalog import objective_defaults
    from idealssl.train.config import resolve

    base = resolve(method, "digits")
    n = len(load_digits_set().train_x)
    objs = []
    for source in SOURCES:
        cfg = copy.deepcopy(base)
        cfg["theory"] = {**(cfg.get("theory") or {}), "source": source, "probe": "linear"}
        theory_config.apply(cfg, n_orbits=n, batch=int(cfg["optim"]["batch_size"]))
        objs.append({**objective_defaults(method), **cfg["objective"]})
    return objs[0] != objs[1]


def run_one(method: str, source: str, seed: int, threads: int, epochs: int) -> Path:
    out = RUNS / (per_run(method, source, seed).stem)
    dest = per_run(method, source, seed)
    if dest.exists():
        return dest
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [
        sys.executable,
        "-m",
        "idealssl.cli",
        "train",
        "--method",
        method,
        "--dataset",
        "digits",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--no-progress",
        "--config-source",
        source,
        "--probe",
        "linear",
        f"optim.epochs={epochs}",
    ]
    t0 = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(
            f"FAILED {method} {source} seed {seed}: "
            f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}",
            file=sys.stderr,
            flush=True,
        )
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "results.json", dest)
    print(f"done {method} {source} seed {seed} in {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return dest


def _row_values(runs: list[dict], protocols: dict) -> dict:
    keys = METRICS + CHECK
    vals: dict[str, list] = {k: [] for k, _, _ in keys}
    for r in runs:
        for k, path, _ in keys:
            v = _get(r, path)
            vals[k].append(None if v is None else float(v))
        for name in ("linear", "knn", "fewshot", "anomaly", "anomaly_likelihood", "online_linear"):
            pr = _get(r, ("eval", name, "protocol"))
            if pr:
                protocols[name] = re.sub(
                    r"\(seed \d+\)|seed \d+\)",
                    lambda mt, s=r["seed"]: mt.group(0).replace(str(s), "S = the run's seed"),
                    pr,
                )
        if "check" in r:
            c = r["check"]
            protocols["check"] = (
                f"check block: {c['M']} held-out test images x {c['V']} views made by the run's training "
                f"augmentations (seeded), one orbit per image (C = {c['C']}), {c['probe']} probes, tol {c['tol']}; "
                "invariance = largest within-orbit deviation / spread of the orbit means; affine rank of the "
                "orbit means at tol (C - 1 needed); fitted_task_fraction = share of sampled invariant binary "
                "tasks a linear probe fits exactly on these points; ideal_tolerance = smallest tol at which the "
                "encoder would be ideal (none: the views of an image lie further apart than the images)"
            )
    row = {}
    for k, v in vals.items():
        got = [x for x in v if x is not None]
        if got:
            row[k] = {"mean": statistics.mean(got), "std": statistics.stdev(got) if len(got) > 1 else 0.0, "values": v}
        elif v:
            row[k] = {"mean": None, "std": None, "values": v}
    return row


def summarise(methods, seeds) -> dict:
    """Mean, std and every value per (method, configuration); the original configuration only where it differs."""
    rows: dict[str, dict] = {}
    protocols: dict[str, str] = {}
    groups = []
    for m in methods:
        for source in SOURCES:
            runs = [json.loads(p.read_text()) for s in seeds if (p := per_run(m, source, s)).exists()]
            if runs:
                rows[f"{m} ({source})"] = {"method": m, "source": source, **_row_values(runs, protocols)}
                groups.append(runs)
    return {"rows": rows, "protocols": protocols, "correlations": correlations(groups)}


def correlations(groups: list[list[dict]]) -> dict:
    """Spearman's rank correlation between each check quantity and each probe accuracy (does an encoder
    closer to ideal on its image orbits get better probes?), two ways: ``pooled`` over every run, and
    ``within`` on the values minus their (method, configuration) mean, so that only seed-to-seed variation
    inside one method is compared (the pooled figure can be driven by which method a run belongs to).
    ``groups``: the loaded results of each (method, configuration), one list of runs per group."""
    from scipy.stats import spearmanr

    out: dict = {"n_runs": sum(len(g) for g in groups), "n_groups": len(groups)}
    probes = dict((k, path) for k, path, _ in METRICS)
    for ck, cpath, _ in CHECK:
        for pk in ("linear", "knn", "fewshot"):
            pooled, within = [], []
            for runs in groups:
                pairs = [(_get(r, cpath), _get(r, probes[pk])) for r in runs]
                pairs = [(float(a), float(b)) for a, b in pairs if a is not None and b is not None]
                pooled += pairs
                if len(pairs) > 1:
                    ma = sum(a for a, _ in pairs) / len(pairs)
                    mb = sum(b for _, b in pairs) / len(pairs)
                    within += [(a - ma, b - mb) for a, b in pairs]
            entry = {}
            for name, pairs in (("pooled", pooled), ("within", within)):
                if len(pairs) >= 5 and len({round(a, 12) for a, _ in pairs}) > 1:
                    rho, pval = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
                    entry[name] = {"rho": float(rho), "p": float(pval), "n": len(pairs)}
                else:
                    entry[name] = {"rho": None, "p": None, "n": len(pairs), "why": "constant or too few values"}
            out[f"{ck}~{pk}"] = entry
    return out


def _cell(row: dict, k: str) -> str:
    if k not in row or row[k]["mean"] is None:
        return "none" if k == "ideal_tolerance" and k in row else "n/a"
    mean, std = row[k]["mean"], row[k]["std"]
    if k == "train_seconds":
        return f"{mean:.0f}"
    if k == "rank":
        return f"{mean:.1f} ± {std:.1f}"
    if k in ("invariance", "sigma_ratio", "ideal_tolerance"):
        return f"{mean:.3g} ± {std:.2g}"
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _table(summary: dict, keys) -> list[str]:
    lines = ["| method | config | " + " | ".join(h for _, _, h in keys) + " |", "|---" * (len(keys) + 2) + "|"]
    order = sorted(summary["rows"].values(), key=lambda r: (-(r.get("linear", {}).get("mean") or 0)))
    for row in order:
        cells = [_cell(row, k) for k, _, _ in keys]
        lines.append(f"| {row['method']} | {row['source']} | " + " | ".join(cells) + " |")
    return lines


def write_table(summary: dict, seeds, command: str, epochs: int, same: list[str]) -> None:
    prot = "\n".join(f"* **{k}**: {v}" for k, v in sorted(summary["protocols"].items()))
    corr = summary["correlations"]
    corr_lines = ["| check quantity | linear | k-NN | 10-shot |", "|---|---|---|---|"]
    for ck, _, head in CHECK:
        cells = []
        for pk in ("linear", "knn", "fewshot"):
            c = corr[f"{ck}~{pk}"]
            cells.append(
                " / ".join(
                    "n/a" if c[w]["rho"] is None else f"{c[w]['rho']:+.2f} (p = {c[w]['p']:.2g})"
                    for w in ("pooled", "within")
                )
            )
        corr_lines.append(f"| {head} | " + " | ".join(cells) + " |")
    text = f"""{MARK_START}
# digits results (every registered method, same budget, seeds {", ".join(map(str, seeds))})

Regenerate: `{command}` (each run is `idealssl train --method M --dataset digits --config-source C --probe linear
--seed S`, C = derived, and C = original where the theory changes the objective).

Budget, the same for every method: the shipped digits preset (`idealssl/configs/digits.yaml`):
convnet (width 32, d = 64), with `optim.epochs={epochs}` for every method ({epochs} epochs x 5 steps of batch 256
on the 1,437 train images; the preset's own default is 60), AdamW lr 2e-3 with 5 warmup epochs and cosine decay,
weight decay 1e-6, grad-norm clip 2; heads scaled to d = 64 as listed in the preset.
Test split: 360 images (stratified 20 %, seed 0). CPU, 1 thread per run.

**Configurations** (`--config-source`, `idealssl/train/theory_config.py`): *derived* applies the theory's
prescriptions for linear probes (student head in the probe family; DISSL: K = C = 1,437 teacher categories and
λ = 1 + β − 0.3 = 1.5 < 1 + β); *original* keeps the presets' (papers') settings. For
{", ".join(same)} the derived prescriptions leave the objective as the preset has it, so there the two
configurations are the same run (one row, "derived").

Accuracies and AUROCs in %, mean ± std over seeds; "train s" is the mean wall time of pretraining
(2 runs in parallel, 1 thread each, on a 2-core machine shared with other jobs: an upper bound).
"anomaly AUROC (likelihood)" exists only for objectives with a likelihood score (VJE).
The anomaly columns here use the encoder pretrained on all train images (all classes, no labels) and
only the *detector* is one-class; the standard protocol that pretrains on class c alone is in
[ONE_CLASS.md](ONE_CLASS.md) (`results/digits/one_class.py`). Raw-pixel 10-shot accuracy is the same
for every method (same labels, same draws per seed): it is the baseline the features must beat.

{chr(10).join(_table(summary, METRICS))}

**The check block** (issue 12: `idealssl check` on what was trained; numbers mean ± std over seeds; every run's
files are in its run directory's `check/`, and `idealssl eval check RUN` redoes it):

{chr(10).join(_table(summary, CHECK))}

**Does an encoder closer to ideal get better probes?** Spearman's rank correlation between each check quantity
and each probe's accuracy (`results.json`, key `correlations`), as "pooled / within": pooled over all
{corr["n_runs"]} runs (every method, configuration and seed), then within methods (each value minus its
(method, configuration) mean over seeds, {corr["n_groups"]} groups: only seed-to-seed variation is compared,
so a method's identity cannot drive it). p-values are not corrected for the {3 * len(CHECK)} tests.
A smaller invariance ratio or a larger σ ratio, rank or fitted fraction means closer to ideal, so "closer
to ideal goes with better probes" reads as a negative ρ in the first row and positive ρ in the others:

{chr(10).join(corr_lines)}

Protocols (as written in every run's results.json):

{prot}
{MARK_END}
"""
    readme = HERE / "README.md"
    old = readme.read_text() if readme.exists() else ""
    if MARK_START in old and MARK_END in old:
        text = old[: old.index(MARK_START)] + text + old[old.index(MARK_END) + len(MARK_END) + 1 :]
    elif old:
        raise SystemExit(f"{readme}: the run.py markers are missing; add them around the generated part first")
    readme.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="*")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=30, help="pretraining epochs for every method (preset: 60)")
    args = ap.parse_args(argv)
    from idealssl.objectives import available

    methods = args.methods or [m for m in available()]
    differs = {m: theory_changes_objective(m) for m in methods}
    jobs = [(m, src, s) for s in args.seeds for m in methods for src in SOURCES if src == "derived" or differs[m]]
    t0 = time.time()
    with ThreadPoolExecutor(args.parallel) as ex:
        list(ex.map(lambda j: run_one(j[0], j[1], j[2], args.threads, args.epochs), jobs))
    command = (
        "python results/digits/run.py"
        + ("" if args.epochs == 30 else f" --epochs {args.epochs}")
        + (f" --methods {' '.join(args.methods)}" if args.methods else "")
        + ("" if args.seeds == [0, 1, 2] else f" --seeds {' '.join(map(str, args.seeds))}")
    )
    summary = summarise(methods, args.seeds)
    same = [m for m in methods if not differs[m]]
    summary.update(
        {
            "command": command,
            "seeds": args.seeds,
            "epochs": args.epochs,
            "methods": methods,
            "theory_changes_objective": differs,
            "wall_seconds_this_invocation": time.time() - t0,
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
    (HERE / "results.json").write_text(json.dumps(summary, indent=2))
    write_table(summary, args.seeds, command, args.epochs, same)
    print((HERE / "README.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
