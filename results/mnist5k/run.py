"""Regenerate the mnist5k preset's numbers with the digits table's machinery (``results/digits/run.py``): the shipped
mnist5k preset (``idealssl/configs/mnist5k.yaml``: convnet width 32, batch 256, AdamW 2e-3), the methods and seeds
asked for, the theory-derived configuration and, where the theory changes the objective, the original one beside it.

    python results/mnist5k/run.py --methods cissl --epochs 10 --parallel 1     # what results/mnist5k/README.md holds
    python results/mnist5k/run.py --summarise-only --methods cissl             # README and results.json from per_run/

Each run is ``idealssl train --method M --dataset mnist5k --config-source C --probe linear --seed S`` with
``optim.epochs=E``; run directories go to ``runs/mnist5k-table/``, each run's ``results.json`` to
``results/mnist5k/per_run/``, the summary to ``results/mnist5k/results.json`` and the generated part of
``results/mnist5k/README.md``. Finished runs are skipped. mnist5k needs ``pip install 'idealssl[mnist5k]'``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("digits_table", HERE.parent / "digits" / "run.py")
assert _spec and _spec.loader
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)
table.use("mnist5k", HERE, "results/mnist5k/run.py")


STEPS_PER_EPOCH = 15  # 4,000 train images in batches of 256, the last partial one dropped


def render(summary: dict, seeds, command: str, epochs: int, same: list[str]) -> str:
    """The generated part of README.md: the digits table's sections, with mnist5k's budget and split."""
    prot = "\n".join(f"* **{k}**: {v}" for k, v in sorted(summary["protocols"].items()))
    secs = [r["train_seconds"]["mean"] for r in summary["rows"].values() if r.get("train_seconds")]
    from idealssl.train.presets import preset

    preset_methods = list(preset("mnist5k")["methods"])  # the methods the preset configures
    mean_s = sum(secs) / max(len(secs), 1)
    per_step = mean_s / (epochs * STEPS_PER_EPOCH)
    return f"""{table.MARK_START}
# mnist5k results (methods {", ".join(summary["methods"])}, seeds {", ".join(map(str, seeds))})

Regenerate: `{command}` (each run is `idealssl train --method M --dataset mnist5k --config-source C --probe linear
--seed S optim.epochs={epochs}`; finished runs are skipped). From the committed per-run files alone:
`python results/mnist5k/run.py --summarise-only --methods {" ".join(summary["methods"])} --seeds
{" ".join(map(str, seeds))}`.

Budget: the shipped mnist5k preset (`idealssl/configs/mnist5k.yaml`: convnet width 32, d = 64, batch 256, AdamW lr
2e-3 with 3 warmup epochs and cosine decay, weight decay 1e-6, grad-norm clip 2) with **{epochs} epochs** (the
preset's own default is 30) of 15 steps on the 4,000 train images (the last partial batch dropped); test split:
1,000 images (stratified 20 %, seed 0). CPU, 1 thread per run, one run at a time, on a 2-core machine shared with
another job: mean pretraining wall time {mean_s:.0f} s per run, {per_step:.2f} s per step, so the preset's 30
epochs would take about {per_step * 450 / 60:.0f} min per run and its {len(preset_methods)} methods x 3 seeds about
{per_step * 450 * len(preset_methods) * 3 / 3600:.1f} h. Not run: the preset's other methods
({", ".join(m for m in preset_methods if m not in summary["methods"])}) and its 30 epochs.

{chr(10).join(table._table(summary, table.METRICS))}

**The check block** (held-out test images x the run's training views, one orbit per image; mean ± std over seeds):

{chr(10).join(table._table(summary, table.CHECK))}

{table._comparison_section(summary.get("derived_vs_original", {}))}{table._correlation_section(summary["correlations"])}

Protocols (as written in every run's results.json):

{prot}
{table.MARK_END}
"""


if __name__ == "__main__":
    sys.exit(table.main(render_readme=render, description=__doc__.splitlines()[0]))
