"""Close the loop on a world where the truth is known: derive a configuration, train, check the encoder.

``idealssl bench loop --world vector --method dissl --config derived --seed 0 --out DIR`` trains an encoder
on the world with orbit-blind batches (``--sampler iid``, the default: anchors i.i.d. from the inputs; or
``epoch``: a permutation per epoch, as an image trainer's loader), the views drawn uniformly from each anchor's
orbit by the world's augmentation, and writes ``DIR/representation.npy`` + ``DIR/orbits.json`` of the trained
encoder on the whole world, the checker's report (``DIR/report.json``, with the graded keys of
:mod:`idealssl.checker.graded`) and the run's row (``DIR/row.json``). Then
``idealssl check DIR/representation.npy --augs DIR/orbits.json --tol 1e-2`` decides, independently, whether the
trained encoder is ideal for linear probes.

Two configurations, so that they can be compared on the same world, encoder, optimiser and batches:

* ``derived``: what :func:`idealssl.derive.configure` prescribes for the probe family and the world's C
  (d = the minimal dimension, DISSL's K = C and λ < 1 + β, the student head in the probe family with an output
  width k >= the minimal dimension: CISSL's ``out_dim`` = max(the suite's 64, C − 1), S1.3; the hidden widths
  stay the suite's, the theory is silent on them);
* ``original``: the published hyperparameters with the synthetic suite's small heads
  (:func:`idealssl.synthetic.experiments.method_hparams`: CISSL out_dim 64; DISSL K = 64, λ = 2.3, β = 0.8), at
  the same d. The objectives without a prescription (SimCLR, DINO, ...) run the same in both.

The representation is what the objective's downstream probe sees: the encoder output, except for the
``oracle`` whose loss is defined on unit-norm codes (the ideal ISSL log loss, Eq. 6), so its
representation is the L2-normalised output (the loss is blind to the norm, which would otherwise stay at
its random initial spread and fail invariance for reasons the theory does not speak to).

``--sampler one-per-orbit`` is the **oracle regime**: every batch one input of each orbit (C anchors), drawn
with the orbit partition M that the method is meant to discover; a row trained in it says so
(``protocol.batch_regime`` and ``protocol.oracle``). The anchors of every regime come from
:class:`idealssl.synthetic.sampling.AnchorSampler`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import atomic
from ..errors import InputError
from ..jsonutil import plain
from ..theory_math import affine_rank
from .protocol import CANNOT
from .sampling import DEFAULT_REGIME, ORACLE_REGIME, describe_regime
from .worlds import World, export

if TYPE_CHECKING:
    from .train import TrainConfig

#: the tolerance of the loop's goal (``idealssl check --probe linear --tol 1e-2``)
GOAL_TOL = 1e-2
DEFAULT_STEPS = 15000
DEFAULT_BATCH = 64
PROTOCOL = (
    "idealssl bench loop: encoder MLP D-h-h-d (h = max(128, d + 1)), Adam with cosine decay to 1% over the steps, "
    "batches of anchors x 2 views uniform in each anchor's orbit, anchors drawn as protocol.batch_regime of each "
    "row says (iid / epoch: orbit-blind; one-per-orbit: the oracle regime, C anchors, the sampler reads M); "
    "representation = encoder output (oracle: L2-normalised); idealssl check at tol 1e-2 for linear probes; "
    "every method of one file with the same steps and learning-rate rule. Tuning budget: CISSL and DISSL none "
    "(derive's values, the published ones where the theory is silent); a baseline's temperature grid runs at seed 0 "
    "only, one run of the row's budget per grid value, chosen by loop.choose on the TRAINING points' check, and "
    "its other seeds run the choice (each row's hparams hold its grid value)"
)


@dataclass
class LoopConfig:
    """One run of the loop (recorded in the row).

    Attributes
    ----------
    method : str
        A registered objective or ``"oracle"``.
    config : {"derived", "original"}
        Where the hyperparameters come from (see the module docstring).
    seed, steps, dim : int
        Training seed, steps, representation dimension.
    probe : str
        The probe family the configuration is derived for and the checker decides.
    lr, lr_final, hidden : float, float, int
        Adam's learning rate, cosine-decayed to ``lr * lr_final``; the encoder's hidden width.
    batch : int
        Anchors per batch in the orbit-blind regimes (the oracle regime uses C).
    sampler : {"iid", "epoch", "one-per-orbit"}
        The batch regime (:mod:`.sampling`); ``one-per-orbit`` is the oracle regime.
    hparams : dict
        The objective's keyword arguments.
    theory : list of dict
        The theory's prescriptions for this run: ``prescription``, ``value``, ``holds``.
    """

    method: str
    config: str
    seed: int
    steps: int
    dim: int
    probe: str = "linear"
    lr: float = 3e-3
    lr_final: float = 1e-2
    hidden: int = 128
    batch: int = DEFAULT_BATCH
    sampler: str = DEFAULT_REGIME
    hparams: dict[str, Any] = field(default_factory=dict)
    theory: list[dict[str, Any]] = field(default_factory=list)

    def training(self, world: World) -> TrainConfig:
        """This run as a configuration of the synthetic trainer (:func:`idealssl.synthetic.train.train`): batches
        of ``batch`` anchors in the regime ``sampler`` (C anchors in the oracle regime), Adam with cosine decay."""
        from .train import TrainConfig

        return TrainConfig(
            method=self.method,
            dim=self.dim,
            steps=self.steps,
            batch=world.C if self.sampler == ORACLE_REGIME else self.batch,
            lr=self.lr,
            lr_final=self.lr_final,
            hidden=self.hidden,
            hparams=dict(self.hparams),
            seed=self.seed,
            batch_regime=self.sampler,
        )


def configure_run(  # noqa: PLR0913 - one keyword per option of idealssl bench loop
    world: World,
    method: str,
    config: str,
    seed: int,
    steps: int,
    probe: str = "linear",
    dim: int | None = None,
    batch: int = DEFAULT_BATCH,
    sampler: str = DEFAULT_REGIME,
) -> LoopConfig:
    """The hyperparameters of ``config`` for ``method`` on ``world`` (see module docstring); the prescriptions and
    their records are :func:`idealssl.derive.prescriptions.for_world`'s."""
    from ..derive.prescriptions import for_world
    from .experiments.settings import method_hparams

    if config not in ("derived", "original"):
        raise InputError(f"--config must be 'derived' or 'original', got {config!r}")
    hp = _accepted(method, method_hparams(method)) if method != "oracle" else {}
    B = world.C if sampler == ORACLE_REGIME else int(batch)
    d, theory = for_world(method, config, probe, world.C, hp, dim, batch=B)
    return LoopConfig(
        method=method,
        config=config,
        seed=seed,
        steps=steps,
        dim=d,
        probe=probe,
        hidden=max(128, d + 1),
        batch=int(batch),
        sampler=sampler,
        hparams=hp,
        theory=theory,
    )


def _accepted(method: str, hp: dict[str, Any]) -> dict[str, Any]:
    """The suite's small-head keys that ``method``'s constructor takes (the others do not apply to it)."""
    import inspect

    from ..objectives import base

    base.available()  # imports the registered objectives
    params = inspect.signature(base._REGISTRY[method.lower()].__init__).parameters
    return {k: v for k, v in hp.items() if k in params and k != "n_classes"}


def representation(world: World, encoder, method: str) -> np.ndarray:
    """Z of every input (unit-norm for the oracle; see module docstring)."""
    from .train import embed

    Z = embed(encoder, world)
    if method == "oracle":
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    return Z


def assess(Z: np.ndarray, world: World, probe: str = "linear", tol: float = GOAL_TOL) -> dict[str, Any]:
    """The checker's report on Z at ``tol`` (with the graded and certified blocks, theory/statements.md S10) and
    the row's summary figures of it."""
    from ..checker import check

    rep = check(Z, world.orbits, probe=probe, tol=tol)
    d = rep.to_dict()
    g = d.get("graded") or {}
    cond = d["conditions"]
    cert = d.get("certified") or {}
    frac = cert.get("certified_fraction") or {}
    return {
        "report": d,
        "summary": {
            "n_points": int(world.N),
            "ideal": d["ideal"],
            "tol": tol,
            "ideal_tolerance": g.get("ideal_tolerance"),
            "binding_condition": g.get("binding_condition"),
            "invariance_ratio": cond["invariance"]["value"],
            "affine_rank": affine_rank(Z[[m[0] for m in world.members]], tol),
            "required_rank": world.C - 1,
            "sigma_ratio": cond.get("affine_independence", {}).get("value"),
            "fitted_task_fraction": g.get("fitted_task_fraction"),
            "certified_fraction": frac.get("mass"),
            "certified_nshot": (cert.get("nshot") or {}).get("holds"),
            "eps_over_gamma": cert.get("eps_over_gamma"),
        },
    }


def _measure(encoder, method: str, probe: str, splits: dict[str, World | None]) -> dict[str, Any]:
    """Embed and assess every split that is given: ``{name: (Z, assessment)}``."""
    out = {}
    for name, w in splits.items():
        if w is not None:
            Z = representation(w, encoder, method)
            out[name] = (Z, assess(Z, w, probe=probe))
    return out


def run(  # noqa: PLR0913 - one keyword per option of idealssl bench loop
    world: World,
    method: str,
    config: str,
    seed: int,
    steps: int,
    out: Path | None = None,
    probe: str = "linear",
    dim: int | None = None,
    log_every: int = 0,
    lr: float | None = None,
    batch: int = DEFAULT_BATCH,
    sampler: str = DEFAULT_REGIME,
    heldout: World | None = None,
    evaluate_at: tuple[int, ...] = (),
    hparams: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Configure, train on ``world``, embed, check the training points and the ``heldout`` points (when given) at
    the steps ``evaluate_at`` and at the end; write the run's files to ``out`` (the held-out split's in
    ``out/heldout``); return the row. ``hparams`` override the configuration's (recorded in the row)."""
    from .train import train

    cfg = configure_run(world, method, config, seed, steps, probe=probe, dim=dim, batch=batch, sampler=sampler)
    cfg.hparams.update(hparams or {})
    if lr is not None:
        cfg.lr = float(lr)
    tcfg = cfg.training(world)
    splits = {"train": world, "heldout": heldout}
    curve: list[dict[str, Any]] = []

    def on_eval(k: int, enc) -> None:
        curve.append({"step": k, **{n: a["summary"] for n, (_, a) in _measure(enc, method, probe, splits).items()}})

    res = train(
        world, tcfg, log_every=log_every, label=f"{method}/{config} s{seed}", on_eval=on_eval, evaluate_at=evaluate_at
    )
    final = _measure(res["encoder"], method, probe, splits)
    curve.append({"step": steps, **{n: a["summary"] for n, (_, a) in final.items()}})
    row = {
        "world": world.name,
        "world_params": world.params,
        "method": method,
        "config": config,
        "seed": seed,
        "steps": steps,
        "dim": cfg.dim,
        "hidden": cfg.hidden,
        "protocol": describe_regime(world, tcfg.batch, tcfg.batch_regime),
        "lr": cfg.lr,
        "train_seconds": round(res["seconds"], 2),
        "final_loss": res["losses"][-1],
        "train": final["train"][1]["summary"],
        "heldout": final["heldout"][1]["summary"] if "heldout" in final else None,
        "curve": curve,
        "hparams": cfg.hparams,
        "theory": cfg.theory,
    }
    if out is not None:
        _write(Path(out), world, heldout, final, row)
    return plain(row)


def _write(out: Path, world: World, heldout: World | None, final: dict[str, Any], row: dict[str, Any]) -> None:
    """The run's files: each split's representation, orbits and check report, and the row."""
    for name, w, sub in (("train", world, out), ("heldout", heldout, out / "heldout")):
        if w is not None:
            Z, a = final[name]
            export(w, sub, Z)
            atomic.write_text(sub / "report.json", json.dumps(plain(a["report"]), indent=1), "check report")
    atomic.write_text(out / "row.json", json.dumps(plain(row), indent=1), "results row")


__all__ = ["LoopConfig", "configure_run", "representation", "assess", "run", "GOAL_TOL"]


def record(path: Path, row: dict[str, Any]) -> None:
    """Add ``row`` to the rows of ``path`` (a row of the same world, method, config, seed, steps, batch regime and
    hyperparameters is replaced)."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {"rows": []}

    def key(r: dict[str, Any]) -> str:
        regime = (r.get("protocol") or {}).get("batch_regime", ORACLE_REGIME)
        return json.dumps([r.get(k) for k in ("world", "method", "config", "seed", "steps")] + [regime, r["hparams"]])

    data["rows"] = [r for r in data["rows"] if key(r) != key(row)] + [row]
    data["rows"].sort(key=lambda r: (r["world"], r["method"], r["config"], json.dumps(r["hparams"]), r["seed"]))
    data["protocol"] = PROTOCOL
    atomic.write_text(path, json.dumps(plain(data), indent=1), "results file")


def table(path: Path) -> str:
    """Markdown table of the rows of ``loop.json`` (for synthetic/README.md)."""
    rows = json.loads(Path(path).read_text())["rows"]
    fmt = lambda x: "—" if x is None else (f"{x:.3g}" if isinstance(x, float) else str(x))  # noqa: E731
    out = [
        "| method | config | seed | steps | lr | ideal at 1e-2 | ideal_tolerance | invariance ratio | σ_(C−1)/σ_1 "
        "| affine rank (of 15) | fitted_task_fraction |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['method']} | {r['config']} | {r['seed']} | {r['steps']} | {r['lr']:g} | "
            f"{'yes' if r['ideal'] else 'no'} | "
            f"{fmt(r['ideal_tolerance'])} | {fmt(r['invariance_ratio'])} | {fmt(r['sigma_ratio'])} | "
            f"{r['affine_rank']} | "
            f"{fmt(r['fitted_task_fraction'])} |"
        )
    return "\n".join(out)


def _label(r: dict[str, Any]) -> str:
    hp = r.get("hparams") or {}
    t = next((hp[k] for k in ("temperature", "student_temperature", "student_temp") if k in hp), None)
    return f"{r['method']} / {r['config']}" + ("" if t is None else f" / τ {t:g}")


def seed_table(rows: list[dict[str, Any]], split: str = "heldout", tol: float = GOAL_TOL) -> str:
    """Markdown table over seeds of the rows of one world: per method, configuration and temperature, the number
    of runs ideal at ``tol`` on ``split``'s points, and 95 % t intervals (:func:`idealssl.stats.t_interval`) of
    the invariance ratio, σ_(C−1)/σ_1 and the certified fraction, with the three-way verdict
    (:func:`idealssl.stats.verdict`, S9.3) on the claim "invariance ratio < tol" (the goal's first condition)."""
    from ..stats import t_interval, verdict

    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get(split):
            groups.setdefault(_label(r), []).append(r)
    out = [
        f"| method / config | seeds | ideal at {tol:g} | invariance ratio (95 % t) | invariance < {tol:g} | "
        "σ_(C−1)/σ_1 (mean) | affine rank (mean, of C − 1) | certified fraction (mean) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def mean(rs: list[dict[str, Any]], k: str) -> str:
        v = [float(r[split][k]) for r in rs if r[split].get(k) is not None]
        return f"{np.mean(v):.3g}" if v else "—"

    for label, rs in sorted(groups.items()):
        inv = t_interval([r[split]["invariance_ratio"] for r in rs])
        span = f"{inv.estimate:.3g} [{inv.low:.3g}, {inv.high:.3g}]"
        out.append(
            f"| {label} | {len(rs)} | {sum(bool(r[split]['ideal']) for r in rs)} | {span} | "
            f"{verdict(inv, tol, claim='less')} | {mean(rs, 'sigma_ratio')} | {mean(rs, 'affine_rank')} "
            f"(of {rs[0][split]['required_rank']}) | {mean(rs, 'certified_fraction')} |"
        )
    return "\n".join(out)


def selection_key(summary: dict[str, Any]) -> tuple[float, ...]:
    """The order in which the loop's temperature grids choose (smaller is better), on one split's summary: ideal at
    the goal's tolerance first, then the ideal tolerance (None: not ideal at any tolerance, last), the certified
    fraction (higher first), the affine rank of the codes (higher first; what binds far from ideal), the invariance
    ratio (lower first)."""
    tol = summary.get("ideal_tolerance")
    return (
        0.0 if summary.get("ideal") else 1.0,
        math.inf if tol is None else float(tol),
        -float(summary.get("certified_fraction") or 0.0),
        -float(summary.get("affine_rank") or 0),
        float(summary["invariance_ratio"]),
    )


def choose(rows: list[dict[str, Any]], method: str, seed: int = 0, split: str = "train") -> dict[str, Any]:
    """The row of ``method`` at ``seed`` that :func:`selection_key` ranks first on ``split``'s check (the grid's
    choice: made on the TRAINING points, never on the held-out ones); the chosen row's ``hparams`` are what the
    other seeds run with. Raises InputError when no row matches."""
    cand = [r for r in rows if r["method"] == method and r["seed"] == seed and r.get(split)]
    if not cand:
        raise InputError(f"no {method} row at seed {seed} with a {split} check to choose from")
    return min(cand, key=lambda r: selection_key(r[split]))


#: the figures the loop's claims compare, and which way is closer to ideal (the goal: invariance ratio and ideal
#: tolerance down to the tolerance, affine rank up to C − 1, every point certified; theory/statements.md S1.3, S10)
CLOSER = {
    "invariance_ratio": "lower",
    "affine_rank": "higher",
    "ideal_tolerance": "lower",
    "certified_fraction": "higher",
}
DERIVED_CLOSER, ORIGINAL_CLOSER = "derived closer", "original closer"


def _by_seed(rows: list[dict[str, Any]], method: str, config: str, split: str) -> dict[int, dict[str, Any]]:
    """``{seed: summary}`` of ``method``/``config`` on ``split``; a seed recorded twice (two budgets or grids) is
    refused, since the comparison would not know which to pair."""
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["method"] == method and r["config"] == config and r.get(split):
            if r["seed"] in out:
                raise InputError(f"{method}/{config}: two rows at seed {r['seed']}; compare one budget at a time")
            out[int(r["seed"])] = r[split]
    return out


def compare_configs(rows: list[dict[str, Any]], split: str = "heldout", confidence: float = 0.95) -> list[dict]:
    """Derived against original per method, over the seeds both configurations ran (theory/statements.md S9.3).

    Parameters
    ----------
    rows : list of dict
        The loop's rows of one world and one budget.
    split : {"heldout", "train"}
        Which check to compare.
    confidence : float
        1 − α of the interval.

    Returns
    -------
    list of dict
        One entry per method that ran both configurations (a baseline's grid, one configuration, has none) and per
        figure of :data:`CLOSER`: ``method``, ``figure``,
        ``closer`` (lower / higher), ``seeds``, ``derived`` and ``original`` (the values, by seed),
        ``interval`` (:class:`idealssl.stats.Interval` of the mean paired difference derived − original, or None)
        and ``verdict``: "derived closer" when the whole interval lies on the side that is closer to ideal,
        "original closer" when it lies on the other, "cannot discriminate" when it contains 0, or when a value is
        undefined (an ideal tolerance of None: not ideal at any tolerance).

    Notes
    -----
    The configurations of one seed share the encoder's initialisation and the batches (the seed fixes both), so
    the differences d_s are paired: d̄ ± t_{1−α/2, n−1} s_d/√n over the n common seeds (4.303 s_d/√3 at n = 3,
    95 %; one seed gives the whole line).
    """
    from ..stats import t_interval, verdict

    out = []
    configs: dict[str, set[str]] = {}
    for r in rows:
        configs.setdefault(r["method"], set()).add(r["config"])
    for m in sorted(m for m, c in configs.items() if {"derived", "original"} <= c):
        der, ori = _by_seed(rows, m, "derived", split), _by_seed(rows, m, "original", split)
        seeds = sorted(set(der) & set(ori))
        if not seeds:
            continue
        for fig, closer in CLOSER.items():
            a, b = [der[s].get(fig) for s in seeds], [ori[s].get(fig) for s in seeds]
            entry: dict[str, Any] = {"method": m, "figure": fig, "closer": closer, "seeds": seeds}
            entry.update(derived=a, original=b, interval=None, verdict=CANNOT)
            diffs = [None if x is None or y is None else float(x) - float(y) for x, y in zip(a, b)]
            if None not in diffs:
                iv = t_interval(diffs, confidence)
                v = verdict(iv, 0.0, claim="less" if closer == "lower" else "greater")
                entry.update(interval=iv, verdict={"held": DERIVED_CLOSER, "not held": ORIGINAL_CLOSER}.get(v, CANNOT))
            out.append(entry)
    return out


def claims_table(rows: list[dict[str, Any]], split: str = "heldout") -> str:
    """Markdown of :func:`compare_configs`: one line per method and figure."""
    fmt = lambda v: "—" if v is None else f"{v:.3g}"  # noqa: E731
    mean = lambda v: None if None in v else float(np.mean(v))  # noqa: E731
    out = [
        f"| method | figure ({split} points) | closer to ideal when | seeds | derived (mean) | original (mean) | "
        "derived − original, mean [95 % t, paired by seed] | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in compare_configs(rows, split):
        iv = e["interval"]
        span = "undefined (not ideal at any tolerance)"
        if iv is not None:
            span = f"{iv.estimate:.3g} [{iv.low:.3g}, {iv.high:.3g}]"
        out.append(
            f"| {e['method']} | {e['figure']} | {e['closer']} | {len(e['seeds'])} | {fmt(mean(e['derived']))} | "
            f"{fmt(mean(e['original']))} | {span} | {e['verdict']} |"
        )
    return "\n".join(out)


def _mean_of_recorded(checks: list[dict[str, Any]], key: str) -> str:
    """The mean of ``key`` over the checks that recorded it (3 significant digits), ``n/a`` when none did."""
    values = [float(a[key]) for a in checks if a.get(key) is not None]
    return f"{np.mean(values):.3g}" if values else "n/a"


def curve_table(rows: list[dict[str, Any]], split: str = "heldout") -> str:
    """Markdown of the checks over training (each row's ``curve``): per method / config / temperature and step, the
    means over seeds of ``split``'s invariance ratio, affine rank and certified fraction, the runs ideal at the
    goal's tolerance and the binding conditions the checker named (``graded.binding_condition``)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_label(r), []).append(r)
    out = [
        f"| method / config | step | seeds | ideal at {GOAL_TOL:g} | invariance ratio | affine rank "
        "| certified fraction | binding condition |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, rs in sorted(groups.items()):
        steps = sorted({int(c["step"]) for r in rs for c in r["curve"] if c.get(split)})
        for k in steps:
            at = [c[split] for r in rs for c in r["curve"] if int(c["step"]) == k and c.get(split)]
            figures = " | ".join(
                _mean_of_recorded(at, key) for key in ("invariance_ratio", "affine_rank", "certified_fraction")
            )
            binds = ", ".join(sorted({str(a.get("binding_condition")) for a in at}))
            out.append(f"| {label} | {k} | {len(at)} | {sum(bool(a['ideal']) for a in at)} | {figures} | {binds} |")
    return "\n".join(out)


def paper_tables(path: Path) -> str:
    """The tables of the paper-regime loop's record ``path`` (``synthetic/results/full/loop_paper.json``) for
    synthetic/README.md, generated by ``idealssl bench report --readme``, one section per training budget (steps):
    per method the seeds on the held-out and the training points (:func:`seed_table`), derived against original
    (:func:`claims_table`, held-out points) where both ran, and the checks over training (:func:`curve_table`,
    held-out points)."""
    rows = json.loads(Path(path).read_text())["rows"]
    out = []
    for steps in sorted({int(r["steps"]) for r in rows}):
        rs = [r for r in rows if int(r["steps"]) == steps]
        parts = [
            ("held-out points, final step", seed_table(rs, "heldout")),
            ("training points, final step", seed_table(rs, "train")),
            ("derived against original (held-out points, final step)", claims_table(rs, "heldout")),
            ("over training (held-out points)", curve_table(rs, "heldout")),
        ]
        out += [f"**{steps} steps: {title}**\n\n{table}" for title, table in parts if table.count("\n") > 1]
    return "\n\n".join(out)
