"""One-class anomaly detection on digits with the standard protocol: for each class c, pretrain on the
train images of class c only (``data.only_class=c``), then score every test image; AUROC for "not c".

    python results/digits/one_class.py                       # vje, dissl, simclr; seed 0; classes 0..9
    python results/digits/one_class.py --methods vje byol --seeds 0 1

Budget per class: the digits preset with batch 64 and 60 epochs (about 2 steps per epoch on the ~144
images of a class). Scores: mean cosine distance to the 5 nearest normal train features (every method)
and, for objectives with a likelihood (VJE), the objective's negative ELBO. Writes
``results/digits/one_class.json`` and a table in ``results/digits/ONE_CLASS.md``; rows of methods not in
``--methods`` are kept from the existing ``one_class.json`` (and say so in the recorded command).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent.parent / "runs" / "digits-one-class"
sys.path.insert(0, str(HERE.parent))
import launch  # noqa: E402  (results/ is not a package: results/launch.py, the writers' one launcher)

OVERRIDES = ["optim.batch_size=64", "optim.epochs=60", "eval.at_end=[anomaly]"]


def run_one(method, seed, c):
    out = RUNS / f"{method}-s{seed}-c{c}"
    if (out / "results.json").exists():
        return json.loads((out / "results.json").read_text())
    # --config-source original: as the recorded tables (the presets' settings)
    r = launch.train(method, "digits", seed, out, ["--config-source", "original", f"data.only_class={c}", *OVERRIDES])
    if not r.ok:
        print(f"FAILED {method} s{seed} c{c}: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr, flush=True)
        return None
    print(f"done {method} s{seed} c{c}", file=sys.stderr, flush=True)
    return json.loads((out / "results.json").read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="*", default=["vje", "dissl", "simclr"])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--parallel", type=int, default=2)
    args = ap.parse_args(argv)
    jobs = [(m, s, c) for m in args.methods for s in args.seeds for c in range(10)]
    with ThreadPoolExecutor(args.parallel) as ex:
        res = list(ex.map(lambda j: run_one(*j), jobs))
    table = {}
    protocols = {}
    for (m, _s, c), r in zip(jobs, res):
        if r is None:
            continue
        for key in ("anomaly", "anomaly_likelihood"):
            if key in r["eval"]:
                table.setdefault(m, {}).setdefault(key, {}).setdefault(str(c), []).append(
                    r["eval"][key]["auroc_per_class"][str(c)]
                )
                protocols[key] = (
                    r["eval"][key]["protocol"]
                    .replace(f"class {c} only", "class c only")
                    .replace(f"data.only_class={c}", "data.only_class=c")
                )
    summary = {
        m: {
            k: {
                "per_class": {c: statistics.mean(v) for c, v in d.items()},
                "mean": statistics.mean(statistics.mean(v) for v in d.values()),
            }
            for k, d in row.items()
        }
        for m, row in table.items()
    }
    cmd = (
        "python results/digits/one_class.py"
        + (" --methods " + " ".join(args.methods))
        + (" --seeds " + " ".join(map(str, args.seeds)))
    )
    old = json.loads((HERE / "one_class.json").read_text()) if (HERE / "one_class.json").exists() else {}
    kept = {m: row for m, row in old.get("results", {}).items() if m not in summary}  # rows of methods not rerun
    if kept:
        cmd += "; rows " + ", ".join(kept) + " kept from earlier runs (" + old.get("command", "?") + ")"
    summary = {**summary, **kept}
    protocols = {**old.get("protocols", {}), **protocols}
    (HERE / "one_class.json").write_text(
        json.dumps(
            {
                "command": cmd,
                "overrides": OVERRIDES,
                "seeds": args.seeds,
                "results": summary,
                "protocols": protocols,
                "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
            indent=2,
        )
    )
    lines = ["| method | score | " + " | ".join(f"c={c}" for c in range(10)) + " | mean |", "|---" * 13 + "|"]
    for m, row in summary.items():
        for k, d in row.items():
            name = "k-NN distance" if k == "anomaly" else "likelihood (neg. ELBO)"
            lines.append(
                f"| {m} | {name} | "
                + " | ".join(f"{100 * d['per_class'].get(str(c), float('nan')):.1f}" for c in range(10))
                + f" | **{100 * d['mean']:.1f}** |"
            )
    text = (
        f"# digits one-class anomaly detection (pretrain on one class), AUROC %\n\nRegenerate: `{cmd}`; "
        f"each cell is `idealssl train --method M --dataset digits --seed S data.only_class=c "
        f"{' '.join(OVERRIDES)}`, mean over seeds {args.seeds}.\n\n"
        + "\n".join(lines)
        + "\n\nProtocols:\n\n"
        + "\n".join(f"* **{k}**: {v}" for k, v in protocols.items())
        + "\n"
    )
    (HERE / "ONE_CLASS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
