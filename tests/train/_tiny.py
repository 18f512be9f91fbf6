"""Tiny objectives registered for the trainer's tests (independent of the real objectives)."""

import torch
import torch.nn.functional as F
from torch import nn

from idealssl.objectives.base import _REGISTRY, Objective, ObjectiveOutput, register


def _reg(name):
    def deco(cls):
        if name in _REGISTRY:
            return _REGISTRY[name]
        return register(name)(cls)

    return deco


@_reg("tinytest")
class TinyContrastive(Objective):
    """InfoNCE between two views through a linear head; ``nan_at`` makes the loss NaN from that step on."""

    def __init__(self, dim, out_dim=16, temperature=0.2, nan_at=-1, inf_weight_at=-1):
        super().__init__(dim)
        self.head = nn.Linear(dim, out_dim)
        self.t = temperature
        self.nan_at = int(nan_at)
        self.inf_weight_at = int(inf_weight_at)  # a weight becomes inf in update() (the loss stays finite until then)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, views, targets=None):
        z = [F.normalize(self.head(v), dim=1) for v in views[:2]]
        logits = z[0] @ z[1].T / self.t
        y = torch.arange(len(logits), device=logits.device)
        loss = 0.5 * (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y))
        if 0 <= self.nan_at <= int(self.calls):
            loss = loss * float("nan")
        return ObjectiveOutput(
            loss,
            {
                "pos_sim": (z[0] * z[1]).sum(1).mean().detach(),
                "n_views": len(views),
                "smallest_batch": min(v.shape[0] for v in views),
            },
        )

    def update(self, step, total_steps):
        self.calls += 1
        if 0 <= self.inf_weight_at == int(self.calls):
            self.head.weight.data[0, 0] = float("inf")


@_reg("tinyema")
class TinyEMA(Objective):
    """BYOL-like: predictor on the online view regresses the EMA backbone's embedding of the other view."""

    momentum_backbone = True

    def __init__(self, dim):
        super().__init__(dim)
        self.pred = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, views, targets=None):
        assert targets is not None and len(targets) == 2 and not targets[0].requires_grad
        p = [F.normalize(self.pred(v), dim=1) for v in views[:2]]
        t = [F.normalize(x, dim=1) for x in targets]
        loss = 2 - (p[0] * t[1]).sum(1).mean() - (p[1] * t[0]).sum(1).mean()
        return ObjectiveOutput(loss, {})

    def momentum(self, step, total_steps):
        return 0.99


#: a small, fast digits configuration (overrides) shared by the trainer tests
FAST = [
    "model.width=8",
    "optim.batch_size=64",
    "data.fraction=0.25",
    "optim.warmup_epochs=1",
    "train.log_every=1",
    "eval.linear_wd=[0.0,0.001]",
    "eval.linear_steps=50",
    "eval.fewshot_trials=1",
    "train.progress=off",
]


def jpeg_folder(root, classes=4, train_per_class=12, test_per_class=3, size=20, seed=0):
    """An ImageFolder of JPEGs (``root/{train,val}/c<k>/<i>.jpg``, ``size`` x ``size + 4`` px): each class a
    colour plus noise, so the images differ and the resize/centre-crop path is exercised."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("val", test_per_class)):
        for c in range(classes):
            d = root / split / f"c{c}"
            d.mkdir(parents=True, exist_ok=True)
            base = rng.integers(0, 256, 3)
            for i in range(n):
                a = np.clip(base + rng.normal(0, 40, (size, size + 4, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(a).save(d / f"{i}.jpg", quality=90)
    return root
