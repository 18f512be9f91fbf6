"""The synthetic trainer: any registered objective on a finite world, views from the exact augmentations.

Views come from the world's exact augmentation distribution (uniform over the orbit of the anchor,
:meth:`~idealssl.synthetic.worlds.World.sample_views`), the anchors of a batch from one of the batch regimes of
:mod:`.sampling`, the encoder is small (an MLP for vector worlds, a two-layer convnet for 8x8 image worlds), and
the objective is any name that :func:`idealssl.objectives.build` knows, following the contract of
:mod:`idealssl.objectives.base`: ``forward(views, targets)``, an EMA copy of the encoder when the objective sets
``momentum_backbone`` (its no-grad embeddings of the global views are the targets; EMA coefficient
``objective.momentum(step, total)``), and ``objective.update(step, total)`` after every optimiser step. The step
is :func:`idealssl.step.training_step`, the one ``idealssl train`` runs, with its precomputed
:class:`idealssl.step.Schedules`.

One trainer serves every synthetic caller: the experiments of ``idealssl bench synthetic`` (constant learning
rate, batches of up to 128 anchors), ``idealssl bench export --method`` and the loop demonstration
``idealssl bench loop`` (:mod:`.loop`: one anchor per orbit, cosine decay of the learning rate), each a
:class:`TrainConfig`.

One extra method is built in: ``"oracle"`` minimises the ideal ISSL log loss (Eq. 6) with the
TRUE maximal invariant M (unit-norm embeddings and learnable unit-norm class weights,
temperature 1). It is supervised by the orbits, so it is a reference for what the encoder family
can reach, not an SSL method.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..objectives import build
from ..objectives.ema import frozen_copy
from ..step import Forward, Schedules, StepOutput, training_step
from .sampling import DEFAULT_REGIME, AnchorSampler
from .worlds import World

__all__ = ["TrainConfig", "make_encoder", "setup", "train_step", "train", "embed", "ORACLE"]

ORACLE = "oracle"


@dataclass
class TrainConfig:
    """Hyperparameters of one synthetic training run (recorded in the results).

    Attributes
    ----------
    method : str
        A registered objective name, or ``"oracle"``.
    dim : int
        Representation dimension d (the encoder's output, what the probes see).
    steps, batch, lr, weight_decay : int, int, float, float
        Adam for ``steps`` steps on batches of ``batch`` anchors, ``n_global`` views each (2 for every
        registered objective).
    lr_final : float or None
        None: constant learning rate ``lr``; a fraction: cosine decay from ``lr`` to ``lr * lr_final`` over the
        steps (:func:`idealssl.step.warmup_cosine` without warmup).
    batch_regime : {"iid", "epoch", "one-per-orbit"}
        How the anchors of a batch are drawn (:mod:`.sampling`): orbit-blind, i.i.d. uniform over X (the default)
        or by epoch permutation; or the oracle regime, ``min(batch, C)`` distinct orbits (the sampler reads M).
    hidden : int
        Width of the encoder's hidden layers.
    hparams : dict
        Extra keyword arguments for the objective's constructor (:func:`idealssl.objectives.build`
        refuses one it does not take).
    seed : int
    """

    method: str
    dim: int
    steps: int = 400
    batch: int = 128
    lr: float = 2e-3
    lr_final: float | None = None
    weight_decay: float = 0.0
    hidden: int = 128
    hparams: dict = field(default_factory=dict)
    seed: int = 0
    batch_regime: str = DEFAULT_REGIME


class _ConvEncoder(nn.Module):
    def __init__(self, shape, dim: int, hidden: int):
        super().__init__()
        c, h, w = shape
        self.shape = shape
        self.net = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * ((h + 1) // 2) * ((w + 1) // 2), hidden),
            nn.ReLU(),
            nn.Linear(hidden, dim),
        )

    def forward(self, x):
        return self.net(x.view(x.shape[0], *self.shape))


def make_encoder(world: World, dim: int, hidden: int = 128) -> nn.Module:
    """An MLP (D -> hidden -> hidden -> d, ReLU) for vector worlds, a small convnet for images."""
    if len(world.input_shape) == 3:
        return _ConvEncoder(world.input_shape, dim, hidden)
    D = world.X.shape[1]
    return nn.Sequential(nn.Linear(D, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim))


class _Oracle(nn.Module):
    """Ideal ISSL log loss with the true orbits: CE(softmax(W z / tau), M), ||z|| = ||w|| = 1."""

    momentum_backbone = False
    n_global = 2

    def __init__(self, dim: int, n_orbits: int, temperature: float = 1.0):
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_orbits, dim))
        self.temperature = temperature

    def forward(self, views, orbits):
        w = nn.functional.normalize(self.w, dim=1)
        loss = sum(
            nn.functional.cross_entropy(nn.functional.normalize(z, dim=1) @ w.T / self.temperature, orbits)
            for z in views
        )
        return loss / len(views)


def _build(world: World, cfg: TrainConfig) -> nn.Module:
    """The objective of ``cfg``: the oracle, or :func:`idealssl.objectives.build`, which refuses an unknown method
    or hyperparameter (one line, an :class:`~idealssl.errors.InputError`) instead of dropping it."""
    if cfg.method.lower() == ORACLE:
        bad = sorted(set(cfg.hparams) - {"temperature"})
        if bad:
            raise InputError(
                f"method 'oracle' has no hyperparameter {', '.join(map(repr, bad))}; it takes: temperature"
            )
        return _Oracle(cfg.dim, world.C, **cfg.hparams)
    return build(cfg.method, cfg.dim, **dict(cfg.hparams))


@dataclass
class _Setup:
    """What one run holds: models, optimiser, schedules, the world as tensors and the view sampler's state."""

    encoder: nn.Module
    objective: nn.Module
    ema: nn.Module | None
    optimizer: torch.optim.Optimizer
    schedules: Schedules
    X: torch.Tensor
    orbits: torch.Tensor
    n_views: int
    oracle: bool
    rng: np.random.Generator
    sampler: AnchorSampler


def setup(world: World, cfg: TrainConfig) -> _Setup:
    """Seed, then build the encoder, the objective, the EMA backbone when the objective asks for one, Adam over
    the trainable parameters and the schedules (:class:`idealssl.step.Schedules`: a constant learning rate, or
    a cosine decay to ``cfg.lr_final`` of it)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    enc = make_encoder(world, cfg.dim, cfg.hidden)
    obj = _build(world, cfg)
    ema = frozen_copy(enc) if getattr(obj, "momentum_backbone", False) else None
    params = list(enc.parameters()) + [p for p in obj.parameters() if p.requires_grad]
    opt = torch.optim.Adam([{"params": params, "base_lr": cfg.lr}], lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = None if cfg.lr_final is None else 0
    schedules = Schedules.build(cfg.steps, obj, warmup=warmup, ema=ema is not None, lr_final=cfg.lr_final or 0.0)
    n_views = int(getattr(obj, "n_global", 2))
    oracle = cfg.method.lower() == ORACLE
    X, orbits = torch.as_tensor(world.X), torch.as_tensor(world.orbits)
    sampler = AnchorSampler(world, cfg.batch, rng, cfg.batch_regime)
    return _Setup(enc, obj, ema, opt, schedules, X, orbits, n_views, oracle, rng, sampler)


def train_step(world: World, cfg: TrainConfig, run: _Setup, step: int) -> StepOutput:
    """Step ``step``: draw the anchors (the run's :class:`.sampling.AnchorSampler`, ``cfg.batch_regime``) and their
    views (uniform in each anchor's orbit), then :func:`idealssl.step.training_step`; a non-finite loss raises
    :class:`FloatingPointError` before any state changes."""

    def check(loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{cfg.method}: non-finite loss at step {step}")

    anchors = run.sampler()
    vidx = [world.sample_views(anchors, run.rng) for _ in range(run.n_views)]
    forward = _forward(run, vidx, anchors)
    return training_step(
        forward, run.optimizer, run.objective, step, run.schedules, ema=run.ema, online=run.encoder, check=check
    )


def _forward(run: _Setup, vidx: list[np.ndarray], anchors: np.ndarray) -> Forward:
    """The forward closure of one step for :func:`idealssl.step.training_step`: the encoder's embeddings of the
    views ``X[v]`` (``v`` in ``vidx``), the EMA backbone's as targets when there is one, and the objective's loss
    (the oracle's: supervised by the true orbits of the anchors)."""
    enc, obj, ema, X = run.encoder, run.objective, run.ema, run.X

    def forward() -> tuple[torch.Tensor, None, dict]:
        views = [enc(X[v]) for v in vidx]
        if run.oracle:
            return obj(views, run.orbits[anchors]), None, {}
        targets = None
        if ema is not None:
            with torch.no_grad():
                targets = [ema(X[v]) for v in vidx]
        out = obj(views, targets)
        return out.loss, None, out.logs

    return forward


def train(
    world: World,
    cfg: TrainConfig,
    log_every: int = 0,
    label: str | None = None,
    on_eval: Callable[[int, nn.Module], None] | None = None,
    evaluate_at: Sequence[int] = (),
) -> dict:
    """Train an encoder on ``world`` with ``cfg.method``: :func:`setup`, then ``cfg.steps`` of :func:`train_step`.

    Parameters
    ----------
    world : World
    cfg : TrainConfig
    log_every : int
        Print the loss every this many steps (0: never), prefixed by ``label`` (default: method and d).
    on_eval, evaluate_at : callable, sequence of int
        ``on_eval(k, encoder)`` after the k-th step for every k in ``evaluate_at`` (1 <= k < steps), with the
        encoder in eval mode (training resumes in train mode); the time it takes is not counted in ``seconds``.

    Returns
    -------
    dict
        ``encoder`` (the trained module, eval mode), ``objective``, ``config`` (plain dict),
        ``hparams_used`` (``cfg.hparams``: an unknown one is refused), ``losses`` (per step), ``last_logs``
        (the objective's logs at the last step, as floats), ``seconds``.
    """
    run = setup(world, cfg)
    label = label or f"{cfg.method} d={cfg.dim}"
    losses: list[float] = []
    logs: dict[str, float] = {}
    evals = {int(k) for k in evaluate_at if 1 <= int(k) < cfg.steps}
    t0, paused = time.perf_counter(), 0.0
    run.encoder.train()
    run.objective.train()
    for step in range(cfg.steps):
        res = train_step(world, cfg, run, step)
        losses.append(float(res.loss.detach()))
        if step == cfg.steps - 1:
            logs = {k: float(v) for k, v in res.logs.items()}
        if log_every and step % log_every == 0:
            print(f"[{label}] step {step} loss {losses[-1]:.4f}", flush=True)
        if on_eval is not None and step + 1 in evals:
            t1 = time.perf_counter()
            run.encoder.eval()
            on_eval(step + 1, run.encoder)
            run.encoder.train()
            paused += time.perf_counter() - t1
    run.encoder.eval()
    run.objective.eval()
    return {
        "encoder": run.encoder,
        "objective": run.objective,
        "config": asdict(cfg),
        "hparams_used": dict(cfg.hparams),
        "losses": losses,
        "last_logs": logs,
        "seconds": time.perf_counter() - t0 - paused,
    }


@torch.no_grad()
def embed(encoder: nn.Module, world: World, batch: int = 4096) -> np.ndarray:
    """The representation Z = phi(X) of every input of the world, shape (N, d), float64."""
    X = torch.as_tensor(world.X)
    return torch.cat([encoder(X[i : i + batch]) for i in range(0, world.N, batch)]).double().numpy()
