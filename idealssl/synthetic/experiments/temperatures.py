"""The temperatures of the matched pairs (Table 1), chosen on a validation world, never on the test seeds.

The same grid serves both methods of a pair (:data:`.protocol.PAIR_FAMILIES`; the grids are the mode's
``grids``); each grid value trains one encoder on :func:`.worlds.main_world` with the mode's validation world
seed and validation training seed, and the value with the lowest 16-shot linear-probe error is chosen (ties:
the smaller value). The validation runs use the mode's batch regime, the regime in which the claims are judged
(``iid`` by default). ``methods`` and ``loss_vs_accuracy`` share one choice per suite run.
"""

from __future__ import annotations

import math

from ...objectives import available
from ..protocol import PAIR_FAMILIES
from ..worlds import World, main_world
from .runs import Measures, few, train_and_assess
from .settings import Mode, pair_hparams

__all__ = ["select_temperatures"]


def _scores(mode: Mode, vw: World) -> dict[str, dict[str, float | None]]:
    """The 16-shot error of every grid value of every pair method on the validation world (None: failed)."""
    measures = Measures(probes=("linear",), shots=(16,), check=False, log_loss=False)
    scores: dict[str, dict[str, float | None]] = {}
    for fam, pair in PAIR_FAMILIES.items():
        for m in [x for x in pair if x in available()]:
            scores[m] = {}
            for t in mode["grids"][fam]:
                r = train_and_assess(
                    vw, m, vw.C - 1, mode["validation_seed"], mode, hparams=pair_hparams(m, t), measures=measures
                )
                scores[m][str(t)] = None if "error" in r else few(r, 16)
    return scores


def select_temperatures(mode: Mode, store: dict | None = None) -> dict:
    """Choose the temperature of each pair method on the validation world by the same grid for both methods
    of a pair (criterion: 16-shot linear-probe error, lower is better; ties go to the smaller value).
    Cached in ``store`` so that the experiments of one suite share the choice."""
    if store is not None and "temperatures" in store:
        return store["temperatures"]
    vw = main_world(seed=mode["validation_world_seed"])
    scores = _scores(mode, vw)
    chosen = {}
    for m, sc in scores.items():
        ok = [(v, float(t)) for t, v in sc.items() if v is not None and math.isfinite(v)]
        chosen[m] = min(ok)[1] if ok else None
    sel = {
        "grids": {f: list(v) for f, v in mode["grids"].items()},
        "scores_fewshot16_error": scores,
        "chosen": chosen,
        "validation": {
            "world": vw.describe()["name"],
            "world_seed": mode["validation_world_seed"],
            "train_seed": mode["validation_seed"],
            "steps": mode["steps"],
            "batch_regime": mode["batch_regime"],
            "criterion": "16-shot linear-probe error on random invariant tasks of the validation world (lower is "
            "better)",
        },
        "meaning": {
            "contrastive": "temperature tau",
            "distillation": "student temperature; teacher temperature = 0.5 x student",
        },
    }
    if store is not None:
        store["temperatures"] = sel
    return sel
