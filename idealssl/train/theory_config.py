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
applied, enforced}``.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .config import THEORY_DEFAULTS, resolve

#: derived DISSL maximality weight: this much below the determinism threshold 1 + β
LAMBDA_MARGIN = 0.3


def _head_kind(probe: str) -> str:
    return "mlp" if probe == "mlp" else "linear"


def _preset_objective(cfg: dict) -> dict:
    """The objective settings of defaults + preset alone (what the user did not set)."""
    try:
        return dict(resolve(cfg["method"], cfg["dataset"])["objective"])
    except InputError:  # pragma: no cover - an unknown dataset fails later with its own message
        return {}


def _rule(
    prescription: str, value: Any, holds: bool | None, applied: bool = False, enforced: bool = False, note: str = ""
) -> dict[str, Any]:
    r = {"prescription": prescription, "value": value, "holds": holds, "applied": applied, "enforced": enforced}
    if note:
        r["note"] = note
    return r


def _set(cfg: dict, key: str, value: Any, user: dict, preset: dict, ok, reason: str, enforce: bool) -> bool:
    """Apply ``objective.key = value`` unless the user set a value explicitly; a user value that breaks ``ok``
    is refused when enforcing. Returns whether the prescribed value was applied."""
    obj = cfg.setdefault("objective", {})
    if key in user and user.get(key) != preset.get(key):
        if not ok(user[key]) and enforce:
            raise InputError(
                f"objective.{key}={user[key]!r} contradicts the theory: {reason}; "
                "to run it anyway: theory.enforce=false, or --config-source original"
            )
        return False
    obj[key] = value
    return True


def apply(cfg: dict, n_orbits: int, dim: int | None = None, batch: int | None = None) -> list[dict[str, Any]]:
    """Apply (``derived``) or only measure (``original``) the prescriptions; mutates ``cfg["objective"]``.

    Parameters
    ----------
    cfg : dict
        The resolved run configuration (its ``theory`` section: probe, source, enforce).
    n_orbits : int
        C; for real images the number of pretraining images (module docstring).
    dim : int, optional
        The encoder's representation dimension, when known.
    batch : int, optional
        The global batch size.

    Returns
    -------
    list of dict
        The ``theory`` record (one entry per prescription).
    """
    from ..probes import get_family

    th = {**THEORY_DEFAULTS, **(cfg.get("theory") or {})}  # validated with the run (config.validate)
    probe, source, enforce = th["probe"], th["source"], bool(th["enforce"])
    derived = source == "derived"
    enforce = enforce and derived
    method = str(cfg["method"]).lower()
    C = max(int(n_orbits), 2)
    # what the trainer states needs only these two (derive.configure would also solve DISSL's teacher optimum,
    # a dense C x C problem: gigabytes for C = 20,000 pretraining images)
    dmin = get_family(probe).minimal_dimension(C)
    preset = _preset_objective(cfg)
    user = dict(cfg.get("objective") or {})
    rec: list[dict[str, Any]] = [
        _rule(f"C = {C} orbits (every pretraining image is its own orbit under crops and colour changes)", C, None),
        _rule(
            f"d >= {dmin} for an encoder ideal for every invariant task ({probe} probes, S1.3-S1.4/S2.1)",
            dim,
            None if dim is None else dim >= dmin,
            note="not enforced: with C = number of images no practical d meets it; class tasks need far less",
        ),
    ]
    head = _head_kind(probe)
    if method in ("dissl", "cissl"):
        value = user.get("probe", preset.get("probe", "linear"))
        applied = derived and _set(
            cfg,
            "probe",
            head,
            user,
            preset,
            lambda v: v == head,
            f"the student head must lie in the {probe} probe family ({head}), S6-S7",
            enforce,
        )
        used = cfg["objective"].get("probe", value) if derived else value
        rec.append(
            _rule(
                f"student head in the probe family: {head} (teacher head as expressive as possible)",
                used,
                used == head,
                applied,
                enforce,
            )
        )
    if method == "dissl":
        rec += _dissl(cfg, C, user, preset, derived, enforce, batch)
    elif method == "cissl":
        rec.append(
            _rule(
                "CISSL assumptions: unit-norm student and teacher outputs, asymmetric heads, "
                "views X~ - M(X) - X (augmentations that never map one image onto another)",
                "as built (L2-normalised heads)",
                True,
            )
        )
    else:
        rec.append(
            _rule(
                f"{method}: not one of the theory's objectives (CISSL, DISSL); no head or hyperparameter is prescribed",
                None,
                None,
            )
        )
    return rec


def _dissl(
    cfg: dict, C: int, user: dict, preset: dict, derived: bool, enforce: bool, batch: int | None
) -> list[dict[str, Any]]:
    from ..derive.configuration import dissl_categories_rule
    from ..objectives.defaults import DISSL

    obj = cfg.setdefault("objective", {})
    beta = float(user.get("beta_det_inv", preset.get("beta_det_inv", DISSL.beta_det_inv)))
    lam_star = round(1.0 + beta - LAMBDA_MARGIN, 6)
    rec = []
    k_applied = derived and _set(
        cfg,
        "categories",
        C,
        user,
        preset,
        lambda v: int(v) >= C,
        f"K >= C = {C} for a maximal teacher (S7; {dissl_categories_rule(C)})",
        enforce,
    )
    K = int(
        obj.get("categories", preset.get("categories", DISSL.categories))
        if derived
        else user.get("categories", preset.get("categories", DISSL.categories))
    )
    rec.append(_rule(f"K >= C = {C} teacher categories (K = C when C is known)", K, K >= C, k_applied, enforce))
    l_applied = derived and _set(
        cfg,
        "lambda_maximality",
        lam_star,
        user,
        preset,
        lambda v: 0 < float(v) < 1 + beta,
        f"lambda < 1 + beta = {1 + beta:g} makes every optimal teacher deterministic (S7)",
        enforce,
    )
    lam = float(
        obj.get("lambda_maximality", DISSL.lambda_maximality)
        if derived
        else user.get("lambda_maximality", preset.get("lambda_maximality", DISSL.lambda_maximality))
    )
    rec.append(
        _rule(
            f"0 < lambda < 1 + beta = {1 + beta:g} "
            f"(deterministic optimal teacher; derived: 1 + beta - {LAMBDA_MARGIN})",
            lam,
            0 < lam < 1 + beta,
            l_applied,
            enforce,
        )
    )
    if batch is not None:
        rec.append(
            _rule(
                "batch >= K, so that a batch can show a uniform marginal over the K categories",
                batch,
                batch >= K,
                note="not enforced: the maximality term's batch estimate is at most log(batch)",
            )
        )
    return rec


def with_dim(rec: list[dict[str, Any]], dim: int) -> list[dict[str, Any]]:
    """Fill in the dimension prescription once the encoder is built."""
    for r in rec:
        if r["prescription"].startswith("d >= "):
            need = int(r["prescription"].split()[2])
            r["value"], r["holds"] = int(dim), int(dim) >= need
    return rec


def describe(rec: list[dict[str, Any]], cfg: dict) -> str:
    """Lines printed at the start of a run."""
    th = {**THEORY_DEFAULTS, **(cfg.get("theory") or {})}
    lines = [f"theory ({th['source']} configuration, {th['probe']} probes; see idealssl derive --probe {th['probe']}):"]
    for r in rec:
        tag = {True: "ok  ", False: "NO  ", None: "info"}[r["holds"]]
        extra = " [applied]" if r["applied"] else ""
        lines.append(f"  [{tag}] {r['prescription']}: {r['value']}{extra}")
    return "\n".join(lines)


def block(rec: list[dict[str, Any]], cfg: dict) -> dict[str, Any]:
    """The ``theory`` block of results.json."""
    th = {**THEORY_DEFAULTS, **(cfg.get("theory") or {})}
    return {
        "probe": th["probe"],
        "source": th["source"],
        "enforce": bool(th["enforce"]),
        "prescriptions": rec,
        "all_hold": all(r["holds"] is not False for r in rec),
    }
