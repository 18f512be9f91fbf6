"""The theory configures the trainer.

``idealssl train --probe linear|linear-nobias|mlp --config-source derived|original``.

:func:`idealssl.derive.configure` (theory/statements.md S1–S7; Dubois et al. 2022, Sec. 4–6) prescribes, for a
probe family and C augmentation orbits: the minimal representation dimension, CISSL's and DISSL's head placement
(the student head in the probe family, the teacher as expressive as possible), DISSL's number of teacher
categories K ≥ C and its maximality weight λ < 1 + β (then every optimal teacher is deterministic). This module
turns those prescriptions into the run's objective settings.

What C is for real images: the augmentations (crops, colour) never map one training image onto another, so
every pretraining image is its own orbit and C ≈ N, the number of pretraining images (digits: 1,437). Hence

* DISSL's K = N under ``derived`` (the presets' 128 is a coarsening of M: the teacher can only estimate a
  partition of the images into 128 groups);
* an ideal encoder for *every* instance-level task needs d ≥ N − 1 (linear probes); no practical encoder has
  that, so the dimension prescription is recorded (``holds: false``) but not enforced: the tasks one cares
  about (the classes) are a tiny subset of the invariant tasks;
* the batch (B images) sees at most B of the K categories, so the maximality term's batch estimate of the
  marginal entropy is at most log B < log K when B < K (recorded, not enforced).

Configurations (``theory.source``):

``derived`` (default)
    apply the prescriptions to the objective (``objective.probe``, DISSL's ``categories`` and
    ``lambda_maximality``); a value the user set explicitly (config file, flag or override) that contradicts a
    prescription is refused with the reason, unless ``theory.enforce=false``.
``original``
    the preset's (the papers') settings untouched; the prescriptions are still measured and recorded.

Each prescription is recorded in ``results.json``'s ``theory`` block as ``{prescription, value, holds,
applied, enforced}``; what is prescribed and the records are :mod:`idealssl.derive.prescriptions`'s, which the
synthetic loop reads too.
"""

from __future__ import annotations

import dataclasses

from ..derive.prescriptions import ObjectiveSettings, Prescriptions, for_images
from .defaults import RunConfig
from .presets import preset_objective


def apply(
    rc: RunConfig, n_orbits: int, dim: int | None = None, batch: int | None = None
) -> tuple[RunConfig, Prescriptions]:
    """Apply (``derived``) or only measure (``original``) the prescriptions.

    Parameters
    ----------
    rc : RunConfig
        The run's configuration (its ``theory`` section: probe, source, enforce).
    n_orbits : int
        C; for real images the number of pretraining images (module docstring).
    dim : int, optional
        The encoder's representation dimension, when known.
    batch : int, optional
        The global batch size.

    Returns
    -------
    (RunConfig, Prescriptions)
        The configuration with the prescribed objective settings, and the prescriptions as applied (one record
        per prescription; the ``theory`` block of results.json).
    """
    th = rc.theory
    derived = th.source == "derived"
    settings = ObjectiveSettings(
        dict(rc.objective), preset_objective(rc.method, rc.dataset), derived, bool(th.enforce) and derived
    )
    rec = for_images(rc.method, th.probe, n_orbits, settings, dim, batch)
    return dataclasses.replace(rc, objective=settings.values), Prescriptions(th.probe, th.source, th.enforce, rec)
