"""A small training loop for finite worlds: any registered objective, exact augmentations.

Views come from the world's exact augmentation distribution (uniform over the orbit of the
anchor, :meth:`~idealssl.synthetic.worlds.World.sample_views`), the encoder is small (an MLP for
vector worlds, a two-layer convnet for 8x8 image worlds), and the objective is any name that
:func:`idealssl.objectives.build` knows, following the contract of
:mod:`idealssl.objectives.base`: ``forward(views, targets)``, an EMA copy of the encoder when the
objective sets ``momentum_backbone`` (its no-grad embeddings of the global views are the targets;
EMA coefficient ``objective.momentum(step, total)``), and ``objective.update(step, total)`` after
every optimiser step: the step is :func:`idealssl.step.training_step`, the one ``idealssl train``
runs.

One extra method is built in: ``"oracle"`` minimises the ideal ISSL log loss (Eq. 6) with the
TRUE maximal invariant M (unit-norm embeddings and learnable unit-norm class weights,
temperature 1). It is supervised by the orbits, so it is a reference for what the encoder family
can reach, not an SSL method.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..objectives.ema import frozen_copy
from .sampling import sample_anchors
from .worlds import World

__all__ = ["TrainConfig", "make_encoder", "train", "embed", "world_forward", "ORACLE"]

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
        Adam for ``steps`` steps on batches of ``batch`` anchors, 2 views each.
    batch_regime : {"iid", "one-per-orbit"}
        How the anchors of a batch are drawn (:mod:`.sampling`): i.i.d. uniform over X, or from
        ``min(batch, C)`` distinct orbits (the paper's regime).
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
    weight_decay: float = 0.0
    hidden: int = 128
    hparams: dict = field(default_factory=dict)
    seed: int = 0
    batch_regime: str = "iid"


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


def _build_objective(method: str, dim: int, hparams: dict):
    """Through :func:`idealssl.objectives.build`, which refuses an unknown method or hyperparameter (one
    line, an :class:`~idealssl.errors.InputError`) instead of dropping it."""
    from ..objectives import build

    return build(method, dim, **hparams)


def _build(world: World, cfg: TrainConfig):
    if cfg.method.lower() == ORACLE:
        bad = sorted(set(cfg.hparams) - {"temperature"})
        if bad:
            raise InputError(
                f"method 'oracle' has no hyperparameter {', '.join(map(repr, bad))}; it takes: temperature"
            )
        return _Oracle(cfg.dim, world.C, **cfg.hparams)
    return _build_objective(cfg.method, cfg.dim, dict(cfg.hparams))


def world_forward(enc, obj, ema, X, orbits_t, vidx, anchors, oracle: bool):
    """The forward closure of one synthetic step for :func:`idealssl.step.training_step`: the encoder's
    embeddings of the views ``X[v]`` (``v`` in ``vidx``), the EMA backbone's as targets when there is one, and the
    objective's loss (the oracle's: supervised by the true orbits of the anchors). Shared by :func:`train` and
    :mod:`idealssl.synthetic.loop`."""

    def forward():
        views = [enc(X[v]) for v in vidx]
        if oracle:
            return obj(views, orbits_t[anchors]), None, {}
        targets = None
        if ema is not None:
            with torch.no_grad():
                targets = [ema(X[v]) for v in vidx]
        out = obj(views, targets)
        return out.loss, None, out.logs

    return forward


def train(world: World, cfg: TrainConfig, log_every: int = 0) -> dict:
    """Train an encoder on ``world`` with ``cfg.method`` (the step is :func:`idealssl.step.training_step`).

    Returns
    -------
    dict
        ``encoder`` (the trained module, eval mode), ``objective``, ``config`` (plain dict),
        ``hparams_used`` (``cfg.hparams``: an unknown one is refused), ``hparams_ignored`` (always empty,
        kept for the results' format), ``losses`` (per step), ``last_logs`` (the objective's logs at the
        last step, as floats), ``seconds``.
    """
    from ..step import Schedules, training_step

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    enc = make_encoder(world, cfg.dim, cfg.hidden)
    obj = _build(world, cfg)
    oracle = cfg.method.lower() == ORACLE
    ema = frozen_copy(enc) if getattr(obj, "momentum_backbone", False) else None
    params = list(enc.parameters()) + [p for p in obj.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedules = Schedules.build(cfg.steps, obj, warmup=None, ema=ema is not None)
    X = torch.as_tensor(world.X)
    orbits_t = torch.as_tensor(world.orbits)
    n_views = int(getattr(obj, "n_global", 2))
    losses: list[float] = []
    logs: dict[str, float] = {}
    t0 = time.perf_counter()
    enc.train()
    obj.train()

    def check(loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{cfg.method}: non-finite loss at step {step}")

    for step in range(cfg.steps):
        anchors = sample_anchors(world, cfg.batch, rng, cfg.batch_regime)
        vidx = [world.sample_views(anchors, rng) for _ in range(n_views)]

        forward = world_forward(enc, obj, ema, X, orbits_t, vidx, anchors, oracle)
        res = training_step(forward, opt, obj, step, schedules, ema=ema, online=enc, check=check)
        losses.append(float(res.loss.detach()))
        if step == cfg.steps - 1:
            logs = {k: float(v) for k, v in res.logs.items()}
        if log_every and step % log_every == 0:
            print(f"[{cfg.method} d={cfg.dim}] step {step} loss {losses[-1]:.4f}", flush=True)
    enc.eval()
    obj.eval()
    return {
        "encoder": enc,
        "objective": obj,
        "config": asdict(cfg),
        "hparams_used": dict(cfg.hparams),
        "hparams_ignored": [],
        "losses": losses,
        "last_logs": logs,
        "seconds": time.perf_counter() - t0,
    }


@torch.no_grad()
def embed(encoder: nn.Module, world: World, batch: int = 4096) -> np.ndarray:
    """The representation Z = phi(X) of every input of the world, shape (N, d), float64."""
    X = torch.as_tensor(world.X)
    return torch.cat([encoder(X[i : i + batch]) for i in range(0, world.N, batch)]).double().numpy()
