"""What ``idealssl train --list-methods``, ``--list-presets`` and ``--print-config`` print.

Methods: the objective's one-line summary, its paper, and its defining hyperparameters with their defaults
(the constructor's; a preset's ``methods:`` section may override them per dataset). Presets: the dataset, the
architecture, the recipe and the documented number (or "no number yet").
"""

from __future__ import annotations

import inspect
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .defaults import RunConfig

#: the backbones, as --help and --list-presets list them (idealssl.models builds them)
ARCH_HELP = (
    "resnet18, resnet50, convnet, or timm:<name> (any timm model, e.g. timm:resnet10t, timm:vit_tiny_patch16_224, "
    "timm:resnet50; pip install 'idealssl[timm]')"
)


class Method(NamedTuple):
    """One objective as ``--list-methods`` shows it, without importing it (torch)."""

    summary: str  #: the first line of the objective module's docstring
    paper: str
    defaults: dict[str, Any]  #: its defining hyperparameters with the constructor's defaults


#: the catalogue of the objectives of :mod:`idealssl.objectives`, static so that ``--list-methods`` needs no torch;
#: ``tests/train/test_discover.py`` holds it equal to the live registry (:func:`live_entry`)
METHODS: dict[str, Method] = {
    "barlow": Method(
        "Barlow Twins: redundancy reduction through the cross-correlation matrix of two views.",
        'Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML 2021',
        {"lambd": 0.0051, "out_dim": 8192},
    ),
    "byol": Method(
        "BYOL: an online predictor regresses the EMA target network's projection of another view.",
        'Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020',
        {"base_momentum": 0.996, "out_dim": 256},
    ),
    "cissl": Method(
        "CISSL: contrastive ISSL with asymmetric heads (Dubois et al. 2022, Sec. 4.1, Eq. 7).",
        'Dubois, Hashimoto, Ermon & Liang, "Improving Self-Supervised Learning by Characterizing Idealized '
        'Representations", NeurIPS 2022 (CISSL, Sec. 4.1)',
        {"temperature": 0.07, "probe": "linear", "out_dim": 128},
    ),
    "dino": Method(
        "DINO: self-distillation with an EMA teacher, centring and sharpening.",
        'Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021',
        {
            "out_dim": 65536,
            "student_temp": 0.1,
            "teacher_temp": 0.04,
            "center_momentum": 0.9,
            "momentum_teacher": 0.996,
        },
    ),
    "dissl": Method(
        "DISSL: distillation ISSL (Dubois et al. 2022, Sec. 4.2, Eq. 9, Algorithm 1).",
        'Dubois, Hashimoto, Ermon & Liang, "Improving Self-Supervised Learning by Characterizing Idealized '
        'Representations", NeurIPS 2022 (DISSL, Sec. 4.2)',
        {
            "categories": 16384,
            "lambda_maximality": 2.3,
            "beta_det_inv": 0.8,
            "student_temperature": 1.0,
            "teacher_temperature": None,
            "probe": "linear",
        },
    ),
    "simclr": Method(
        "SimCLR: NT-Xent with one projection head shared by both branches (the symmetric baseline).",
        'Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020',
        {"temperature": 0.1, "out_dim": 128},
    ),
    "swav": Method(
        "SwAV: swapped prediction of Sinkhorn-Knopp cluster assignments over learned prototypes.",
        'Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments", NeurIPS 2020',
        {"n_prototypes": 3000, "temperature": 0.1, "epsilon": 0.05, "sinkhorn_iterations": 3},
    ),
    "vicreg": Method(
        "VICReg: variance-invariance-covariance regularisation.",
        'Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization", ICLR 2022',
        {"sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0},
    ),
    "vje": Method(
        "VJE: variational joint embedding, a symmetric conditional ELBO on embeddings (RECONSTRUCTED form).",
        'Oji & Fieguth, "Joint Embedding Variational Bayes", TMLR 2026 (reconstructed form; theory/objectives.md)',
        {"nu": None, "beta": None, "lambda_radial": 1.0},
    ),
}


def objective_defaults(method: str) -> dict[str, Any]:
    """The registered objective's constructor defaults (``dim`` and ``gather`` left out)."""
    from ..objectives import available
    from ..objectives.base import _REGISTRY

    available()  # imports every objective module
    cls = _REGISTRY[method]
    params = inspect.signature(cls.__init__).parameters
    return {
        k: p.default
        for k, p in params.items()
        if k not in ("self", "dim", "gather") and p.default is not inspect.Parameter.empty
    }


def _summary(method: str) -> str:
    from ..objectives.base import _REGISTRY

    cls = _REGISTRY[method]
    doc = inspect.getmodule(cls).__doc__ or cls.__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else method


def live_entry(method: str, paper: str, keys: tuple[str, ...]) -> Method:
    """``method``'s catalogue entry as the registered objective gives it (imports torch): its module's summary line
    and the constructor's defaults of ``keys``."""
    d = objective_defaults(method)
    return Method(_summary(method), paper, {k: d[k] for k in keys if k in d})


def list_methods() -> str:
    """The catalogue (:data:`METHODS`), one method per block; imports nothing (no torch)."""
    lines = []
    for m, entry in sorted(METHODS.items()):
        lines.append(f"{m:<8} {entry.summary}")
        lines.append(f"{'':<8}   paper: {entry.paper}")
        lines.append(f"{'':<8}   defaults: " + ", ".join(f"{k}={v}" for k, v in entry.defaults.items()))
    lines.append("")
    lines.append(
        "every hyperparameter of a method (resolved for a dataset): idealssl train --method M --dataset D "
        "--print-config; change one with objective.KEY=VALUE"
    )
    return "\n".join(lines)


def _recorded_number(dataset: str) -> str:
    """The preset's recorded number: a method's mean linear-probe accuracy from ``results/<dataset>/results.json``
    (DISSL's derived row where there is one, the README's first command; else the first row), or what to read."""
    path = Path(__file__).resolve().parents[2] / "results" / dataset / "results.json"
    if not path.exists():
        return "no number yet"
    try:
        doc = json.loads(path.read_text())
        rows = doc["rows"]
        key = "dissl (derived)" if "dissl (derived)" in rows else next(iter(rows))
        lin = rows[key]["linear"]
        n = len(lin.get("values", []))
        return (
            f"{key} linear probe {lin['mean']:.3f} ± {lin['std']:.3f} ({n} seeds, {doc['epochs']} epochs; every run "
            f"in results/{dataset}/README.md)"
        )
    except (OSError, KeyError, TypeError, ValueError, StopIteration):
        return f"see results/{dataset}/README.md in the repository"


def list_presets() -> str:
    from .presets import list_presets as names
    from .presets import preset

    lines = []
    for name in names():
        text = resources.files("idealssl.configs").joinpath(f"{name}.yaml").read_text()
        comments = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("#")]
        p = preset(name)
        m, o = p.get("model") or {}, p.get("optim") or {}
        arch = m.get("arch", "resnet18") + (f" (width {m['width']})" if "width" in m else "")
        recipe = ", ".join(f"{k} {o[k]}" for k in ("name", "lr", "batch_size", "epochs", "warmup_epochs") if k in o)
        number = _recorded_number(name)
        lines.append(f"{name:<13} {comments[0] if comments else name}")
        lines.append(f"{'':<13}   arch: {arch}; recipe: {recipe or 'the defaults'}; number: {number}")
    lines.append("")
    lines.append(f"every preset takes --arch (model.arch): {ARCH_HELP}")
    return "\n".join(lines)


def resolved_view(cfg: RunConfig) -> tuple[dict, list[str]]:
    """``cfg`` as ``--print-config`` shows it, with what a run resolves (the device, the run directory pattern, the
    objective's own defaults beside the configured values), and comment lines (the learning rate after scaling,
    what changed)."""
    notes = []
    device = cfg.device
    if device == "auto":
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ModuleNotFoundError:
            device = "cpu"
        notes.append(f"device: auto resolves to {device} on this machine")
    out = cfg.out
    if not out:
        out = f"runs/{cfg.dataset}-{cfg.method}/<start time>-s{cfg.seed}"
        notes.append("out: the default run directory (the time stamp is taken at the start)")
    try:
        full = objective_defaults(cfg.method)
    except KeyError:
        full = {}
    full.update(cfg.objective)
    if cfg.method == "dissl" and full.get("teacher_temperature") is None and "student_temperature" in full:
        full["teacher_temperature"] = float(full["student_temperature"]) / 2
        notes.append("objective.teacher_temperature: null means student_temperature / 2 (DISSL)")
    shown = cfg.to_dict()
    shown.update(device=device, out=out, objective=full)
    notes.append("objective: every hyperparameter of the method (its defaults, then the preset's and yours)")
    notes.append(f"learning rate after optim.lr_scaling={cfg.optim.lr_scaling}: {cfg.optim.scaled_lr:g}")
    return shown, notes
