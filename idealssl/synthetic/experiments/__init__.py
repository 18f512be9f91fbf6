"""The experiments that test the paper's claims on finite worlds, one module each, and the suite that runs them.

Each experiment trains small encoders on a world (:mod:`idealssl.synthetic.train`), measures the representations
(:mod:`idealssl.synthetic.evaluate`), and states its prediction, the criterion it is judged by and whether it
held, computed from the numbers (never written by hand). :func:`run_suite` runs a selection and writes one JSON
file per experiment (protocol, seeds, versions, wall time, rows, verdict).

Every training experiment records its batch regime (:mod:`idealssl.synthetic.sampling`) and its temperatures in
``protocol``: ``iid`` (orbit-blind anchors, as every trainer on real data) by default, for the claims about the
paper's objectives too; ``one-per-orbit`` is the **oracle regime** (the sampler reads the orbit partition M, which
the method is meant to discover), run only as a labelled ablation (``ablation_regime``, ``oracle: true`` in its
rows), or as the main regime when ``--batch-regime one-per-orbit`` asks for it (``protocol.oracle: true``); the
Table 1 pairs are matched and their temperatures chosen on a validation world (:mod:`idealssl.synthetic.protocol`,
:mod:`.temperatures`). Verdicts are True, False, "cannot discriminate" (the data allow both outcomes, or the test
cannot fail here) or None (a measurement).

Experiments (statements of ``theory/statements.md`` in brackets), in the order :data:`EXPERIMENTS` runs them:

:mod:`.dimension`
    d below, at and above C-1; linear and MLP probes (Theorem 1, Sec. 5, Fig. 7c) [S1.3, S1.5, S2.1].
:mod:`.methods`
    every registered objective (and the supervised oracle) on one world at equal budget in the iid
    regime: the matched head comparisons SimCLR vs CISSL and DINO vs DISSL (Table 1, Sec. 4.1)
    [S6.2, S6.3], again in the oracle regime as a labelled ablation (CISSL's self target vs the invariant bound),
    and VJE against the others; its models also feed ``loss_vs_accuracy`` [S6].
:mod:`.self_target`
    CISSL's self target against the invariant bound at the published default temperatures, in both regimes
    (iid, the default, and the oracle regime) [S6.1].
:mod:`.coarseness`
    a coarseness family (orbits merged within classes) vs few-shot error, against W_n (Prop. 2,
    Fig. 7a) [S3.1, S3.2].
:mod:`.loss_vs_accuracy`
    ideal ISSL log loss vs probe accuracy across models on one world (Fig. 7b), controlled for training
    length, with the objectives' own batch losses beside it [S4.2].
:mod:`.dissl_threshold`
    the DISSL teacher's determinism vs lambda and 1 + beta, with the full-data and the batch
    marginal (free logits, population objective; then trained encoders) [S7.2, S7.3].

The shared pieces: :mod:`.settings` (modes, small heads, matched-pair hyperparameters), :mod:`.runs` (one model:
train, measure, read the row), :mod:`.temperatures` (the validation grid); the suite's worlds are
:func:`idealssl.synthetic.worlds.main_world`, ``coarse_world`` and ``image_world``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ... import atomic
from ...errors import InputError
from ...jsonutil import plain
from ..protocol import EXPERIMENTS
from ..sampling import BATCH_REGIMES
from ..worlds import coarse_world, image_world, main_world
from . import coarseness, dimension, dissl_threshold, loss_vs_accuracy, methods, self_target
from .runs import Measures, train_and_assess
from .settings import MODES, Mode, method_hparams

__all__ = [
    "EXPERIMENTS",
    "RUNNERS",
    "MODES",
    "Mode",
    "run_suite",
    "rejudge",
    "JUDGES",
    "versions",
    "method_hparams",
    "Measures",
    "train_and_assess",
    "main_world",
    "coarse_world",
    "image_world",
]

#: one runner per experiment of :data:`EXPERIMENTS` (:mod:`idealssl.synthetic.protocol`, torch-free, in the
#: suite's order): ``run(mode, store)`` returns the experiment's rows, summary, verdict and protocol (``store``
#: carries what the experiments of one suite share: the chosen temperatures, the methods' models)
RUNNERS: dict[str, Callable[[Mode, dict], dict]] = {
    "dimension": dimension.run,
    "methods": methods.run,
    "self_target": self_target.run,
    "coarseness": coarseness.run,
    "loss_vs_accuracy": loss_vs_accuracy.run,
    "dissl_threshold": dissl_threshold.run,
}


#: the experiments whose summary and verdict are functions of their recorded rows (and protocol): ``judge(result)``
#: returns the keys it recomputes; :func:`rejudge` applies it to a result file without training
JUDGES: dict[str, Callable[[dict], dict]] = {
    "methods": methods.judge,
    "self_target": self_target.judge,
    "coarseness": coarseness.judge,
    "loss_vs_accuracy": loss_vs_accuracy.judge,
    "dissl_threshold": dissl_threshold.judge,
}


def rejudge(path: Path | str) -> list[str]:
    """Recompute the summary and verdict of one result file from its recorded rows (:data:`JUDGES`) and, when they
    differ from the recorded ones, rewrite it, recording the code that judged (``verdict_recomputed``: the git
    revision); returns the ids of the claims whose verdict changed. A result file of another experiment raises
    :class:`InputError`."""
    path = Path(path)
    try:
        res = json.loads(path.read_text())
        name = res["experiment"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{path}: not a result file of idealssl bench synthetic") from None
    if name not in JUDGES:
        raise InputError(f"{path}: the verdict of {name!r} is not recomputed from its rows ({', '.join(JUDGES)} are)")
    before = {c["id"]: c.get("held") for c in res["verdict"]["claims"]}
    judged = plain(JUDGES[name](res))
    if all(res.get(k) == v for k, v in judged.items()):
        return []  # the file already holds what this code computes: left as it is
    res.update(judged)
    res["verdict_recomputed"] = {"git": versions()["git"], "from": "the recorded rows, without training"}
    atomic.write_text(path, json.dumps(plain(res), indent=1, allow_nan=False), "results file")
    return [c["id"] for c in res["verdict"]["claims"] if before.get(c["id"], "new") != c.get("held")]


def versions() -> dict[str, str]:
    """Versions of Python, the libraries and the git revision (recorded with every result)."""
    import scipy
    import sklearn

    import idealssl

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except Exception:  # pragma: no cover - no git
        rev = ""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "torch": torch.__version__,
        "idealssl": idealssl.__version__,
        "git": rev or "unknown",
        "platform": platform.platform(),
    }


def _mode(mode_name: str, seeds: Sequence[int] | None, steps: int | None, batch_regime: str | None) -> Mode:
    """The settings of a known mode with the overrides, validated (one-line :class:`InputError`)."""
    mode = Mode(**MODES[mode_name])
    if seeds is not None:
        mode["seeds"] = tuple(seeds)
    if steps is not None:
        mode["steps"] = int(steps)
    if batch_regime is not None:
        if batch_regime not in BATCH_REGIMES:
            raise InputError(f"unknown batch regime {batch_regime!r}; use one of {', '.join(BATCH_REGIMES)}")
        mode["batch_regime"] = batch_regime
    return mode


def _command(
    mode_name: str, experiments: Sequence[str], seeds: Sequence[int] | None, steps: int | None, batch_regime: str | None
) -> str:
    """The ``idealssl bench synthetic`` command line that reruns this suite (recorded in every result file)."""
    command = f"idealssl bench synthetic --mode {mode_name} --experiments {' '.join(experiments)}"
    if seeds is not None:
        command += " --seeds " + " ".join(str(x) for x in seeds)
    if steps is not None:
        command += f" --steps {steps}"
    if batch_regime is not None:
        command += f" --batch-regime {batch_regime}"
    return command


def run_suite(
    mode_name: str = "quick",
    experiments: Sequence[str] | None = None,
    out_dir=None,
    seeds: Sequence[int] | None = None,
    steps: int | None = None,
    log: Callable[[str], None] = print,
    batch_regime: str | None = None,
) -> dict[str, dict]:
    """Run experiments and write ``<out_dir>/<mode>/<experiment>.json``.

    Parameters
    ----------
    mode_name : {"quick", "full"}
    experiments : names from :data:`EXPERIMENTS` (default: all, in that order)
    out_dir : path or None (None: write nothing)
    seeds, steps : override the mode's seeds / training steps
    batch_regime : override the mode's regime for the claims about the paper (methods, loss_vs_accuracy; default
        iid); ``one-per-orbit`` runs them in the oracle regime (and the methods' ablation in iid)
    log : called with one line per experiment
    """
    if mode_name not in MODES:
        raise InputError(f"unknown mode {mode_name!r}; use quick or full")
    names = list(experiments or EXPERIMENTS)
    bad = [e for e in names if e not in RUNNERS]
    if bad:
        raise InputError(f"unknown experiment {bad[0]!r}; available: {', '.join(EXPERIMENTS)}")
    if "loss_vs_accuracy" in names and "methods" in names:
        names.sort(key=lambda e: e == "loss_vs_accuracy")  # reuse the methods' models
    mode = _mode(mode_name, seeds, steps, batch_regime)
    vers = versions()
    command = _command(mode_name, names, seeds, steps, batch_regime)
    store: dict = {}
    results = {}
    for name in names:
        t0 = time.perf_counter()
        torch.manual_seed(0)
        res = RUNNERS[name](mode, store)
        res = {
            "experiment": name,
            "mode": mode_name,
            "seeds": list(mode["seeds"]),
            "mode_settings": plain(mode),
            "versions": vers,
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "command": command,
            **res,
        }
        results[name] = res
        held = [c.get("held") for c in res["verdict"]["claims"]]
        log(f"{name}: {res['wall_seconds']:.1f} s; claims held: {held}")
        if out_dir is not None:
            d = Path(out_dir) / mode_name
            atomic.write_text(d / f"{name}.json", json.dumps(plain(res), indent=1, allow_nan=False), "results file")
    return results
