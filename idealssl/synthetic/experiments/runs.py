"""One model of an experiment: train an encoder, measure its representation, and read the row back.

:func:`train_and_assess` trains with the synthetic trainer (:func:`idealssl.synthetic.train.train`) and measures
with :mod:`idealssl.synthetic.evaluate` what a :class:`Measures` asks for; a run that fails is recorded in its
row (``error``), not raised. The accessors (:func:`acc`, :func:`perfect`, :func:`few`) read a row's probe
numbers, :func:`mean_sd` aggregates them over seeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError
from ..evaluate import geometry, ideal_log_loss, probe_tasks, run_check
from ..protocol import loss_tail
from ..sampling import describe_regime
from ..train import TrainConfig, embed, train
from ..worlds import World
from .settings import Mode, method_hparams

__all__ = ["Measures", "train_and_assess", "assess", "strip", "acc", "perfect", "few", "mean_sd"]


@dataclass(frozen=True)
class Measures:
    """What is measured on a trained representation.

    Attributes
    ----------
    probes : tuple of str
        Probe families on random invariant tasks (linear: 2 and 5 labels and the few-shot sizes; MLP: 2 labels).
    shots : tuple of int
        Few-shot training-set sizes of the linear probe (empty: full data only).
    task_groups : numpy.ndarray or None
        The groups of orbits the tasks label (default: the orbits).
    check : bool
        Record the checker's verdict (:func:`idealssl.check`, linear probes).
    log_loss : bool
        Record the ideal ISSL log loss.
    """

    probes: tuple[str, ...] = ("linear", "mlp")
    shots: tuple[int, ...] = ()
    task_groups: np.ndarray | None = field(default=None, compare=False)
    check: bool = True
    log_loss: bool = True


def train_and_assess(
    world: World,
    method: str,
    dim: int,
    seed: int,
    mode: Mode,
    *,
    hparams: dict | None = None,
    steps: int | None = None,
    batch: int | None = None,
    batch_regime: str | None = None,
    measures: Measures = Measures(),
) -> dict:
    """Train one encoder and measure its representation; a failed run is recorded, not raised.

    ``hparams`` (default :func:`.settings.method_hparams`), ``steps``, ``batch`` and ``batch_regime`` default to
    the mode's. The row records the regime with the effective batch, the invariant bound of CISSL / SimCLR in
    that regime (:func:`.sampling.describe_regime`) and the last 10% of the loss curve
    (:func:`.protocol.loss_tail`); ``_encoder`` and ``_objective`` hold the trained modules (:func:`strip`
    removes them before a row is written).
    """
    regime = batch_regime or mode.get("batch_regime", "iid")
    cfg = TrainConfig(
        method=method,
        dim=dim,
        steps=steps or mode["steps"],
        batch=batch or mode["batch"],
        hparams=method_hparams(method) if hparams is None else hparams,
        seed=seed,
        batch_regime=regime,
    )
    row = {
        "world": world.name,
        "method": method,
        "dim": dim,
        "seed": seed,
        "steps": cfg.steps,
        "batch": cfg.batch,
        **describe_regime(world, cfg.batch, regime),
    }
    try:
        res = train(world, cfg)
    except InputError:
        raise
    except Exception as exc:  # a method that cannot train here is a finding, recorded
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    Z = embed(res["encoder"], world)
    row.update(
        train_seconds=round(res["seconds"], 3),
        final_loss=res["losses"][-1],
        **loss_tail(res["losses"]),
        hparams_used=res["hparams_used"],
        logs=res["last_logs"],
    )
    row.update(assess(world, Z, measures, n_tasks=mode["n_tasks"], seed=seed))
    row["_encoder"] = res["encoder"]
    row["_objective"] = res["objective"]
    return row


def assess(world: World, Z: np.ndarray, measures: Measures = Measures(), n_tasks: int = 20, seed: int = 0) -> dict:
    """Geometry, ideal log loss, probes on random invariant tasks, and the checker's verdict (as ``measures``
    asks); linear probes on tasks of 2 and 5 labels (and the few-shot sizes), MLP probes on tasks of 2 labels
    (they cost more)."""
    if not np.all(np.isfinite(Z)):
        return {"error": "representation has NaN/inf"}
    out: dict = {"geometry": geometry(Z, world.orbits)}
    if measures.log_loss:
        out["ideal_log_loss"] = ideal_log_loss(Z, world.orbits)
    out["probes"] = {
        p: probe_tasks(
            Z,
            world.orbits,
            p,
            n_tasks=n_tasks,
            shots=measures.shots if p == "linear" else (),
            n_labels=(2, 5) if p == "linear" else (2,),
            task_groups=measures.task_groups,
            seed=seed,
        )
        for p in measures.probes
    }
    if measures.check:
        out["check"] = run_check(Z, world.orbits, probe="linear")
    return out


def strip(rows: list[dict]) -> list[dict]:
    """The rows without their in-memory entries (keys starting with ``_``: the trained modules)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def acc(row: dict, probe: str = "linear", K: str = "2") -> float | None:
    """Mean full-data accuracy of ``probe`` on the tasks of ``K`` labels (None when not measured)."""
    try:
        return row["probes"][probe]["full"][K]["mean_acc"]
    except KeyError:
        return None


def perfect(row: dict, probe: str = "linear", K: str = "2") -> float | None:
    """Fraction of the tasks of ``K`` labels that ``probe`` fits perfectly on the full world."""
    try:
        return row["probes"][probe]["full"][K]["frac_perfect"]
    except KeyError:
        return None


def few(row: dict, n: int, key: str = "error") -> float | None:
    """A few-shot figure of the linear probe at ``n`` labelled inputs (``error``, ``W_n``, ...)."""
    try:
        return row["probes"]["linear"]["fewshot"][str(n)][key]
    except KeyError:
        return None


def mean_sd(xs: Iterable[float | None]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value) and count of the values that are not None."""
    a = np.asarray([x for x in xs if x is not None], dtype=float)
    if a.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "n": 0}
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n": int(a.size)}
