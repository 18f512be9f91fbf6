"""The trained module: backbone + objective + detached online probe (:class:`SSLModel`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..models import Backbone, build_encoder
from .config import from_run
from .defaults import RunConfig

__all__ = ["SSLModel"]


class SSLModel(nn.Module):
    """Backbone + objective (heads, teacher state) + detached online linear probe.

    ``forward`` encodes views of the same resolution in one pass, evaluates the objective, and fits
    the probe on the first global view's features with the gradient stopped, so the probe never
    shapes the representation (solo-learn's online probe).
    """

    def __init__(self, backbone: Backbone, objective: nn.Module, n_classes: int):
        super().__init__()
        self.backbone = backbone
        self.objective = objective
        self.probe = nn.Linear(backbone.dim, max(1, n_classes))

    def encode(self, views: list[torch.Tensor], net: nn.Module | None = None) -> list[torch.Tensor]:
        net = net or self.backbone
        out: list[torch.Tensor | None] = [None] * len(views)
        groups: dict[tuple, list[int]] = {}
        for i, v in enumerate(views):
            groups.setdefault(tuple(v.shape[1:]), []).append(i)
        for idx in groups.values():
            z = net(torch.cat([views[i] for i in idx]))
            for j, i in enumerate(idx):
                out[i] = z[j * views[i].shape[0] : (j + 1) * views[i].shape[0]]
        return out  # type: ignore[return-value]

    def forward(self, views, targets, labels):
        feats = self.encode(views)
        out = self.objective([f.float() for f in feats], targets)
        logits = self.probe(feats[0].detach().float())
        lab = labels.long()
        n = (lab >= 0).sum()
        probe_loss = F.cross_entropy(logits, lab.clamp_min(0), reduction="none")
        probe_loss = (probe_loss * (lab >= 0)).sum() / n.clamp_min(1)
        return out.loss, probe_loss, out.logs


def backbone_from_checkpoint(ck: dict, path, part: str = "backbone", cfg: RunConfig | None = None) -> Backbone:
    """The backbone a checkpoint describes, with its ``part`` weights ("backbone" or "ema") loaded strictly;
    one-line :class:`~idealssl.errors.InputError` naming the file for a bad configuration or state dict. ``cfg``:
    the checkpoint's configuration when the caller has read it already (:func:`idealssl.train.config.from_run`)."""
    sd = ck.get(part)
    if sd is None:
        raise InputError(f"{path}: no {'EMA backbone' if part == 'ema' else part} in this checkpoint")
    if not isinstance(sd, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sd.items()):
        raise InputError(f"{path}: the {part} state dict is not a mapping of names to tensors")
    m = (cfg or from_run(ck["cfg"], str(path))).model
    try:
        backbone = build_encoder(
            m.arch, int(ck["in_channels"]), int(ck["image_size"]), m.expand_dim, m.small_stem, int(m.width)
        )
    except InputError as exc:
        raise InputError(f"{path}: bad model configuration in the checkpoint ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: bad model configuration in the checkpoint ({type(exc).__name__}: {exc})") from None
    try:
        backbone.load_state_dict(sd)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        lines = str(exc).strip().splitlines()
        detail = " ".join(x.strip() for x in lines[:2])[:300] if lines else type(exc).__name__
        raise InputError(f"{path}: the {part} state dict does not match the checkpoint's model ({detail})") from None
    return backbone
