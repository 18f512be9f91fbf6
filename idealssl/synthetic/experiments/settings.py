"""The suite's settings: its modes, the small heads of every objective, the matched pairs' hyperparameters, the
regime of the claims about the paper and its labelled ablation, and the experiments that keep the iid batch regime
whatever the mode says (with the reason each records)."""

from __future__ import annotations

from typing import TypedDict

from ...objectives import available
from ...objectives.base import UnknownObjectiveError
from ...objectives.presets import compact
from ..protocol import MATCHED_HEADS, temperature_hparams
from ..sampling import DEFAULT_REGIME, ORACLE_REGIME, ORBIT_BLIND

__all__ = [
    "Mode",
    "MODES",
    "IID_EXPERIMENTS",
    "METHOD_HPARAMS",
    "method_hparams",
    "pair_hparams",
    "methods_list",
    "ablation_regime",
]


class Mode(TypedDict):
    """The settings of one mode (recorded as ``mode_settings`` in every result file).

    ``steps``, ``batch``, ``seeds``: the training budget, the requested batch and the test seeds; ``n_tasks``:
    random invariant tasks per label count; ``lambdas`` / ``lambdas_trained``, ``free_restarts``,
    ``free_steps``: the DISSL-threshold grid (free logits / trained encoders); ``dims_rel``: the dimensions of
    the dimension experiment relative to C - 1; ``digits``: whether it adds the digits world; ``loss_models``:
    the extra budgets of the loss-vs-accuracy sweep; ``batch_regime``: the regime of the claims about the paper
    (methods, loss_vs_accuracy), ``iid`` (orbit-blind, as every trainer on real data) in both modes;
    ``grids``: the temperature grids of the matched pairs, chosen on the validation world
    (``validation_world_seed``) with the training seed ``validation_seed`` in ``batch_regime``; ``ablation``:
    rerun the pairs with the chosen values in the other regime (:func:`ablation_regime`: the oracle regime
    ``one-per-orbit`` when ``batch_regime`` is orbit-blind, ``iid`` otherwise), labelled as an ablation.
    """

    steps: int
    seeds: tuple[int, ...]
    n_tasks: int
    batch: int
    lambdas: tuple[float, ...]
    lambdas_trained: tuple[float, ...]
    free_restarts: int
    free_steps: int
    dims_rel: tuple[str, ...]
    digits: bool
    loss_models: tuple[int, ...]
    batch_regime: str
    grids: dict[str, tuple[float, ...]]
    validation_world_seed: int
    validation_seed: int
    ablation: bool


#: quick: CI, a few minutes on two cores, verdicts identical on rerun; full: the recorded tables (seeds 0, 1, 2)
MODES: dict[str, Mode] = {
    "quick": Mode(
        steps=250,
        seeds=(0,),
        n_tasks=8,
        batch=128,
        lambdas=(1.0, 2.3),
        lambdas_trained=(1.0, 2.3),
        free_restarts=2,
        free_steps=600,
        dims_rel=("quarter", "at", "double"),
        digits=False,
        loss_models=(60,),
        batch_regime=DEFAULT_REGIME,
        grids={"contrastive": (0.1, 0.5), "distillation": (0.3, 1.0)},
        validation_world_seed=1,
        validation_seed=1000,
        ablation=True,
    ),
    "full": Mode(
        steps=1000,
        seeds=(0, 1, 2),
        n_tasks=20,
        batch=128,
        lambdas=(1.0, 1.5, 1.7, 1.9, 2.3, 3.0),
        lambdas_trained=(1.0, 1.5, 2.3, 3.0),
        free_restarts=3,
        free_steps=1000,
        dims_rel=("quarter", "half", "at", "double"),
        digits=True,
        loss_models=(30, 100, 300),
        batch_regime=DEFAULT_REGIME,
        grids={"contrastive": (0.05, 0.1, 0.2, 0.5), "distillation": (0.1, 0.3, 1.0)},
        validation_world_seed=1,
        validation_seed=1000,
        ablation=True,
    ),
}


def ablation_regime(mode: Mode) -> str | None:
    """The regime in which ``methods`` reruns the pairs as an ablation: the oracle regime (``one-per-orbit``, the
    sampler reads M) when the mode's regime is orbit-blind, ``iid`` when it is the oracle regime; None when the
    mode runs no ablation."""
    if not mode.get("ablation"):
        return None
    return ORACLE_REGIME if mode["batch_regime"] in ORBIT_BLIND else DEFAULT_REGIME


#: experiments that keep the iid regime, and why (recorded in their protocol)
IID_EXPERIMENTS = {
    "coarseness": "iid: the batch stays 128 anchors at every coarseness level, so that only the orbits change between "
    "levels (one-per-orbit would shrink the batch to C = 32, 16, 8, 4 and, with DISSL's 64 categories, "
    "change its batch marginal with the level, S7.3); neither compared method has a self target",
    "dimension": "iid: the claims compare dimensions within one regime, not methods; the recorded full run is in "
    "this regime",
    "dissl_threshold": "iid: the batch sizes (4 and 128 anchors) are the object of the experiment",
}

#: small heads for every objective: presets.compact (width 256, 64 categories / prototypes sized to the
#: worlds, projections of 64) with these per-method differences
METHOD_HPARAMS: dict[str, dict] = {
    "dissl": dict(bottleneck=None),
    "dino": dict(bottleneck_dim=32, use_bn=False),
    "swav": dict(queue_length=0, freeze_prototypes_steps=0),
    "vicreg": dict(out_dim=128),
    "barlow": dict(out_dim=128),
    "vje": dict(hidden_dim=None),  # its own default inference-network width, max(d // 4, 8)
}


def method_hparams(method: str) -> dict:
    """The hyperparameters the suite passes to ``method`` (small heads; see :data:`METHOD_HPARAMS`); the
    oracle's and those of an objective registered from outside (no compact preset) are its defaults."""
    if method == "oracle":
        return {}
    try:
        small = compact(method, width=256, categories=64, out_dim=64)
    except UnknownObjectiveError:
        return {}
    return {**small, **METHOD_HPARAMS.get(method, {})}


def pair_hparams(method: str, temperature: float | None = None) -> dict:
    """The suite's hyperparameters for ``method`` with the matched heads of its pair (:data:`.protocol.MATCHED_HEADS`)
    and, for the pair methods, the grid value ``temperature`` (None: the published default)."""
    hp = {**method_hparams(method), **MATCHED_HEADS.get(method, {})}
    if temperature is not None:
        hp.update(temperature_hparams(method, temperature))
    return hp


def methods_list() -> list[str]:
    """The oracle and every registered objective."""
    return ["oracle"] + available()
