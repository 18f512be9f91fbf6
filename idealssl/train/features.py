"""Which features the end-of-run check embeds (``check.features``): the backbone's, the projector's, or both.

The trainer feeds the backbone's output h = φ(x) to the objective (:class:`idealssl.train.model.SSLModel`); the
objective owns its heads, and its loss reads a head's output, not h. The check embeds either h (``backbone``: the
features the evaluation's linear probe, k-NN and few-shot read, ``RUN/check/``) or the tensor below
(``projector``: the head applied to the same h, in eval mode, ``RUN/check-projector/``), or both. Per method, the
projector's output is the head's output that the loss compares across views, before the loss's own normalisation
(L2, softmax, standardisation) or prototype scoring (:data:`PROJECTORS`).

What each set's scores mean (:data:`READING`; theory/statements.md): Theorem 1 (S1.3 affine, S1.4 homogeneous,
S2.1 MLP probes) and the certified and label-free scores built on it (S10.1-S10.5) speak of the representation a
probe reads. The objectives' invariance, and the ISSL prescriptions (CISSL's asymmetric heads S6.1-S6.3, DISSL's
teacher and student S7.1-S7.4), are stated on the representation the loss sees. They meet as follows. With an
affine head g (CISSL's and DISSL's linear students: Linear and batch norm, affine in eval mode), an affine probe
on g(h) is an affine probe on h, so every labelling fitted on the projector's points is fitted on the
backbone's, and affinely independent projector codes A μ_m + b force affinely independent backbone codes μ_m (a
dependency Σ λ_m μ_m = 0, Σ λ_m = 0, maps to Σ λ_m (A μ_m + b) = 0); invariance does not carry down, since g may
discard within-orbit variation that h keeps (the kernel of A), and without it the backbone's worst-case risk is
not the ideal W_n (S1.3, S3.1). With a non-linear head (the baselines' MLP projectors, MLP students), a linear
probe on g(h) is an MLP probe on h, and nothing carries to linear probes on h. Invariance always carries up: an
invariant h gives an invariant g(h).
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

#: the values of ``check.features``
FEATURES = ("backbone", "projector", "both")

#: the check folder of each feature set, relative to the run directory
FOLDERS = {"backbone": "check", "projector": "check-projector"}

#: the tensor of the backbone's feature set
BACKBONE = "the backbone's output h, eval mode"

#: per method: (the head's path inside the objective, the tensor its output is)
PROJECTORS: dict[str, tuple[str, str]] = {
    "simclr": ("head", "SimCLR's projection head g(h) (MLP), before the L2 normalisation of the NT-Xent loss"),
    "cissl": (
        "student",
        "CISSL's student head (the probe-family branch: affine, or an MLP for objective.probe=mlp, with output batch "
        "norm), before the L2 normalisation of the loss; the teacher g is the other branch",
    ),
    "dissl": (
        "student",
        "DISSL's student head S(h): logits over the C' categories, before the softmax at the student temperature",
    ),
    "dino": (
        "student.mlp",
        "DINO's student head up to its bottleneck, before the L2 normalisation and the weight-normalised prototype "
        "layer",
    ),
    "swav": ("head", "SwAV's projection head, before the L2 normalisation and the prototypes"),
    "byol": (
        "projector",
        "BYOL's online projector g_theta(h), before the predictor q_theta and the L2 normalisation (the target "
        "branch is its EMA)",
    ),
    "vicreg": ("expander", "VICReg's expander output, which its three terms read"),
    "barlow": (
        "projector",
        "Barlow Twins' projector output, before the per-dimension standardisation of the cross-correlation",
    ),
    "vje": (
        "projector",
        "VJE's embedding e = P(h) (projector with output batch norm), the space of its likelihood and posterior",
    ),
}

#: what each feature set's scores are to be read for (the block's ``reading``)
READING = {
    "backbone": (
        "the backbone's output h, the features the evaluation's probes read: Theorem 1 and the certified and "
        "label-free scores speak of the representation a probe reads (theory/statements.md S1.3, S1.4, S2.1, "
        "S10), so read them here for a probe on the backbone"
    ),
    "projector": (
        "the objective's head applied to h, the representation its loss sees, where the objectives train "
        "invariance and the ISSL prescriptions are stated (theory/statements.md S6.1-S6.3, S7.1-S7.4): it says "
        "whether the objective reached its own optimum, not whether the backbone is ideal. For an affine head "
        "(CISSL's, DISSL's linear students) affine independence and every fitted labelling carry down to the "
        "backbone and invariance does not; for an MLP head a linear probe here is an MLP probe on the backbone"
    ),
}


def kinds(features: str) -> list[str]:
    """The feature sets ``check.features`` names, backbone first."""
    return ["backbone", "projector"] if features == "both" else [features]


def projector_of(objective: Any) -> tuple[Any, str]:
    """``(head, description)``: the module of ``objective`` whose output is its projector's (:data:`PROJECTORS`),
    and the tensor that output is. One-line :class:`~idealssl.errors.InputError` for a method with none (a method
    not in the table, VJE without a projector)."""
    name = str(getattr(objective, "name", type(objective).__name__))
    if name not in PROJECTORS:
        raise InputError(
            f"check.features=projector: method {name!r} has no projector known to the check "
            f"(known: {', '.join(PROJECTORS)}); use check.features=backbone"
        )
    path, what = PROJECTORS[name]
    head: Any = objective
    for part in path.split("."):
        head = getattr(head, part, None)
    if head is None:
        raise InputError(
            f"check.features=projector: method {name!r} with objective.projector_hidden_dim=0 has no projector "
            "(its loss reads the backbone's output); use check.features=backbone"
            if name == "vje"
            else f"check.features=projector: method {name!r} has no {path}; use check.features=backbone"
        )
    return head, what
