"""VJE reconstruction study: the experiments that decide the open choices of the v1 reconstruction.

    python results/digits/vje_study.py digits --seeds 0            # screening on digits (one run at a time)
    python results/digits/vje_study.py synthetic --seeds 0 1 2     # the synthetic vector world (d = 15)
    python results/digits/vje_study.py report                      # the tables of results/digits/README.md (VJE)

``digits``: each row is ``idealssl train --method vje --dataset digits --seed S optim.epochs=30
eval.at_end=[linear,knn] objective.K=V ...`` (the digits table's budget, linear and k-NN only), with the
last logged collapse monitors (``metrics.jsonl``) and RankMe of the test features. ``synthetic``: the
``methods`` experiment's protocol of ``idealssl.synthetic`` (main vector world, d = C - 1 = 15, its small
heads, 1000 steps, linear probes, 4/16/64-shot) for VJE variants. Writes ``results/digits/vje_study.json``
(rows are merged into it, keyed by name and seed) and prints a table.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUNS = ROOT / "runs" / "vje-study"
OUT = HERE / "vje_study.json"
sys.path.insert(0, str(HERE.parent))
import launch  # noqa: E402  (results/ is not a package: results/launch.py, the writers' one launcher)

#: digits screening: name -> objective overrides (v1 defaults otherwise)
DIGITS = {
    "v1 beta=1 (the plain ELBO)": {"beta": 1.0},
    "v1 beta=1, prior N(0, I)": {"beta": 1.0, "prior_var": 1.0},
    "v1 beta=0.1": {"beta": 0.1},
    "v1 beta=0.01": {"beta": 0.01},
    "v1 (defaults: beta=0.001)": {},
    "v1 beta=0 (no KL: not an ELBO)": {"beta": 0.0},
    "v1, target shared (no EMA)": {"target": "shared"},
    "v1, inference hidden 16 (v0's bottleneck)": {"hidden_dim": 16},
    "v1, no projector": {"projector_hidden_dim": 0},
    "v1, nu=1e4 (Gaussian limit)": {"nu": 10000.0},
    "v1, scale s on the sphere (not s/||z||)": {"polar_scale": False},
}
#: synthetic vector world: name -> objective hyperparameters on top of the suite's small heads
SYNTHETIC = {
    "v1 (defaults)": {},
    "v1 beta=1": {"beta": 1.0},
    "v0": {"variant": "v0"},
}
#: VJE's heads on the vector world for these rows (recorded 2026-12-02 with i.i.d. batches of 128): projector
#: d -> 256 -> 64, the inference network at VJE's own default width
SYNTHETIC_HEADS = dict(projector_hidden_dim=256, out_dim=64)
MONITORS = (
    "eff_rank",
    "eff_rank_embedding",
    "mean_logvar",
    "mu_norm",
    "noise_norm",
    "cos_sample",
    "cos_mean",
    "kl",
    "log_dir",
)


def _store(rows: list) -> None:
    old = json.loads(OUT.read_text()) if OUT.exists() else {"rows": []}
    new = {(x["study"], x["name"], x["seed"]) for x in rows}
    keep = [r for r in old["rows"] if (r["study"], r["name"], r["seed"]) not in new]
    OUT.write_text(
        json.dumps(
            {"command": "python results/digits/vje_study.py {digits,synthetic} --seeds ...", "rows": keep + rows},
            indent=2,
        )
    )


def digits_row(name: str, over: dict, seed: int) -> dict:
    out = RUNS / f"{re.sub('[^a-z0-9]+', '-', name.lower()).strip('-')}-s{seed}"
    ov = [f"objective.{k}={v}" for k, v in over.items()]
    r = launch.train("vje", "digits", seed, out, ["optim.epochs=30", "eval.at_end=[linear,knn]", *ov])
    row = {"study": "digits", "name": name, "seed": seed, "overrides": ov}
    if not r.ok:
        row["error"] = r.last_error_line or "?"
        return row
    return read_digits_run(out, row)


def read_digits_run(out: Path, row: dict) -> dict:
    """Linear, k-NN, RankMe of the test features and the last logged monitors of a finished run directory."""
    res = json.loads((out / "results.json").read_text())
    logs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "mu_norm" in x]
    row.update(
        linear=res["eval"]["linear"]["top1"],
        knn=res["eval"]["knn"]["top1"],
        rankme_test=res["eval"]["monitors"]["rankme_test"],
        rankme_by_epoch=[
            round(json.loads(x)["rankme"], 2)
            for x in (out / "metrics.jsonl").read_text().splitlines()
            if "end_of_epoch" in x
        ],
        monitors={k: logs[-1].get(k) for k in MONITORS} if logs else {},
    )
    return row


def synthetic_row(name: str, over: dict, seed: int) -> dict:
    from idealssl.synthetic.experiments import MODES, Measures, main_world, train_and_assess

    w = main_world()
    hp = {**SYNTHETIC_HEADS, **over}
    measures = Measures(probes=("linear",), shots=(4, 16, 64), check=False)
    r = train_and_assess(w, "vje", w.C - 1, seed, MODES["full"], hparams=hp, measures=measures)
    row = {"study": "synthetic", "name": name, "seed": seed, "hparams": {k: v for k, v in over.items()}}
    if "error" in r:
        row["error"] = r["error"]
        return row
    few = {n: r["probes"]["linear"]["fewshot"][n]["error"] for n in ("4", "16", "64")}
    row.update(
        fewshot_error=few,
        linear_acc_binary=r["probes"]["linear"]["full"]["2"]["mean_acc"],
        affine_rank=r["geometry"]["affine_rank"],
        invariance_ratio=r["geometry"]["invariance_ratio"],
        monitors={k: r["logs"].get(k) for k in MONITORS},
    )
    return row


def _ms(v, scale=100.0, nd=1):
    import statistics as st

    v = [x for x in v if x is not None]
    if not v:
        return "n/a"
    sd = st.stdev(v) if len(v) > 1 else 0.0
    return f"{scale * st.mean(v):.{nd}f} ± {scale * sd:.{nd}f}"


def report() -> str:
    """Markdown tables: digits 3 seeds (VJE v1, v0, BYOL, VICReg, Barlow), the screening, the synthetic world."""

    def per_run(path):
        out = {}
        for s in (0, 1, 2):
            p = path(s)
            if p.exists():
                out[s] = json.loads(p.read_text())["eval"]
        return out

    keys = [
        ("linear", "top1"),
        ("knn", "top1"),
        ("fewshot", "top1"),
        ("anomaly", "auroc_mean"),
        ("anomaly_likelihood", "auroc_mean"),
    ]
    lines = [
        "| method | linear | k-NN | 10-shot | RankMe (test) | anomaly AUROC, k-NN | anomaly AUROC, likelihood |",
        "|---|---|---|---|---|---|---|",
    ]
    srcs = {
        "vje (v1)": lambda s: HERE / "per_run" / f"vje-s{s}.json",
        "vje (v0)": lambda s: HERE / "vje_v0_per_run" / f"vje-s{s}.json",
    }
    for m in ("byol", "vicreg", "barlow"):
        srcs[m] = functools.partial(lambda m, s: HERE / "per_run" / f"{m}-s{s}.json", m)
    for name, path in srcs.items():
        ev = per_run(path)
        cells = [_ms([e.get(k, {}).get(f) for e in ev.values()]) for k, f in keys]
        rank = _ms([e["monitors"]["rankme_test"] for e in ev.values()], 1.0)
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {cells[2]} | {rank} | {cells[3]} | {cells[4]} |")
    rows = json.loads(OUT.read_text())["rows"] if OUT.exists() else []
    lines += [
        "",
        "| digits screening (seed 0, 30 epochs) | linear | k-NN | RankMe (test) | last logs: eff_rank, "
        "mean log s², ‖μ‖, ‖s‖, cos(z, y), KL |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if r["study"] != "digits" or "error" in r:
            continue
        mo = r.get("monitors", {})
        lg = ", ".join(
            f"{mo.get(k, float('nan')):.2f}"
            for k in ("eff_rank", "mean_logvar", "mu_norm", "noise_norm", "cos_sample", "kl")
        )
        lines.append(
            f"| {r['name']} | {100 * r['linear']:.1f} | {100 * r['knn']:.1f} | {r['rankme_test']:.1f} | {lg} |"
        )
    syn = json.loads((ROOT / "synthetic" / "results" / "full" / "methods.json").read_text())["summary"]
    lines += [
        "",
        "| vector world (d = 15, 1000 steps) | 4-shot error | 16-shot error | 64-shot error | affine rank |",
        "|---|---|---|---|---|",
    ]
    v1 = [r for r in rows if r["study"] == "synthetic" and r["name"] == "v1 (defaults)" and "error" not in r]
    if v1:
        lines.append(
            f"| vje (v1), seeds {', '.join(str(r['seed']) for r in v1)} | "
            + " | ".join(_ms([r["fewshot_error"][n] for r in v1], 1.0, 3) for n in ("4", "16", "64"))
            + f" | {_ms([r['affine_rank'] for r in v1], 1.0)} |"
        )
    for m in ("vje", "byol", "vicreg", "barlow", "oracle"):
        if m in syn and "error" not in syn[m]:
            sm = syn[m]
            cells = [
                f"{sm[f'fewshot_error_n{n}']['mean']:.3f} ± {sm[f'fewshot_error_n{n}']['sd']:.3f}" for n in (4, 16, 64)
            ]
            lines.append(
                f"| {'vje (v0)' if m == 'vje' else m} (recorded) | "
                + " | ".join(cells)
                + f" | {sm['affine_rank']['mean']:.1f} ± {sm['affine_rank']['sd']:.1f} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", choices=("digits", "synthetic", "report"))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--only", nargs="*", help="names (or prefixes) of the rows to run")
    args = ap.parse_args(argv)
    if args.study == "report":
        print(report())
        return 0
    table = DIGITS if args.study == "digits" else SYNTHETIC
    names = [n for n in table if not args.only or any(n.startswith(o) for o in args.only)]
    fn = digits_row if args.study == "digits" else synthetic_row
    rows = []
    for s in args.seeds:
        for n in names:
            rows.append(fn(n, table[n], s))
            print(json.dumps(rows[-1]), flush=True)
            _store([rows[-1]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
