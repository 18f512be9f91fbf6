"""The theory's prescriptions applied to a training run, and the record of each (theory/statements.md S1-S7).

The one home of what the theory prescribes to an objective's configuration and of how each prescription is
recorded, for both trainers: the image trainer (:func:`for_images`, called by :mod:`idealssl.train.theory_config`)
and the synthetic loop (:func:`for_world`, called by :func:`idealssl.synthetic.loop.configure_run`).
:func:`idealssl.derive.configure` states the same prescriptions in full for ``idealssl derive``.

For a probe family F and C orbits (Dubois et al. 2022, Sec. 4-6):

* the representation dimension d >= F's minimal dimension (S1.3, S1.4, S2.1);
* CISSL and DISSL: the student head in F (:attr:`~idealssl.probes.ProbeFamily.head_kind`), the teacher's head as
  expressive as possible (S6, S7);
* DISSL: K >= C teacher categories, K = C when C is known (S7.1-S7.2); the maximality weight below the bound of
  :func:`dissl_lambda_bound` (S7.2-S7.3, and the batch marginal), the published default when it lies below it;
* what the theory does not decide (CISSL's τ, DISSL's β, the temperatures, the head widths) keeps the published
  default and its record says so (:data:`SILENT`).

A record is a mapping ``{prescription, value, holds, basis}``: the rule in words, the value the run uses, whether
that value satisfies the rule (None: a fact, no rule), and ``basis``, the statement of theory/statements.md the
value comes from, or :data:`SILENT` and where the value comes from instead. The image trainer's records
add ``applied`` (the run's value is the prescribed one, set by the trainer), ``enforced`` (a contradicting value the
user gave would have been refused) and, for a rule recorded but not enforced, ``note``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..objectives.defaults import DISSL
from ..probes import get_family
from .configuration import SILENT, Configuration, configure, dissl_categories_rule

Record = dict[str, Any]


def dissl_lambda_bound(beta: float, categories: int, orbits: int, batch: int | None) -> float:
    """The largest maximality weight λ (exclusive) at which every optimal DISSL teacher is deterministic.

    Parameters
    ----------
    beta : float
        The teacher cross-view weight β (code name; paper α).
    categories, orbits : int
        K and C.
    batch : int or None
        B, the inputs whose mean teacher output is the marginal of the maximality term (None: the population).

    Returns
    -------
    float
        1 + β when K > C (S7.3) or B < K (below); ``inf`` otherwise (S7.2: K <= C, every λ > 0).

    Notes
    -----
    With the marginal taken over a batch of B inputs (orbit-blind batches of B anchors), the objective at an
    invariant teacher and a matching student is F_B = (1 + β) (1/B) Σ_i H(q_i) − λ H((1/B) Σ_i q_i) (S7.1). A
    mixture's entropy is at most the mean entropy plus the entropy of the mixing weights, so
    H(q̄) <= (1/B) Σ_i H(q_i) + log min(B, K) and F_B >= (1 + β − λ) (1/B) Σ_i H(q_i) − λ log min(B, K).
    For λ <= 1 + β the bound is attained by one-hot rows on distinct categories, and for λ < 1 + β only by
    deterministic rows. For λ > 1 + β and B < K, spreading each of B deterministic rows uniformly over r disjoint
    categories (B r <= K) changes F_B by (1 + β − λ) log r < 0: the batch optimum is not deterministic even
    at K = C. For B >= K the second bound F_B >= (1 + β) (1/B) Σ_i H(q_i) − λ log K is attained deterministically
    for every λ. So the bound does not depend on B or K beyond the comparison B < K; no margin below 1 + β
    follows from them. Test: ``tests/test_prescriptions.py`` (brute force over batches).
    """
    if categories > orbits or (batch is not None and batch < categories):
        return 1.0 + float(beta)
    return math.inf


def dissl_lambda(beta: float, categories: int, orbits: int, batch: int | None) -> tuple[float, str]:
    """The maximality weight a derived DISSL run uses and its basis: the published default λ when it lies below
    :func:`dissl_lambda_bound`; otherwise the midpoint (1 + β)/2 of the interval (0, 1 + β) the theory allows
    (a choice: the theory is silent inside the interval; the midpoint is the farthest from both of its ends, no
    maximality at 0 and non-deterministic teachers above 1 + β)."""
    bound = dissl_lambda_bound(beta, categories, orbits, batch)
    lam = float(DISSL.lambda_maximality)
    if lam < bound:
        return lam, f"{SILENT} below the bound {bound:g}; the published default"
    why = f"K = {categories} > C = {orbits} (S7.3)" if categories > orbits else f"B = {batch} < K = {categories}"
    return round((1.0 + float(beta)) / 2.0, 6), (
        f"S7.2-S7.3 with the batch marginal: lambda < 1 + beta = {bound:g} since {why}; the published "
        f"{lam:g} breaks it; inside the interval {SILENT}: its midpoint (1 + beta)/2, a choice"
    )


def student_head(probe: str) -> str:
    """The head shape of CISSL's and DISSL's student for probe family ``probe`` (S6, S7)."""
    return get_family(probe).head_kind


def _record(prescription: str, value: Any, holds: bool | None, **extra: Any) -> Record:
    return {"prescription": prescription, "value": value, "holds": holds, **extra}


def _image_record(
    prescription: str, value: Any, holds: bool | None, applied: bool = False, enforced: bool = False, note: str = ""
) -> Record:
    return _record(prescription, value, holds, applied=applied, enforced=enforced, **({"note": note} if note else {}))


# ------------------------------------------------------------------------------------------------ image trainer
@dataclass
class ObjectiveSettings:
    """An image run's objective hyperparameters while the prescriptions are applied to them.

    Attributes
    ----------
    values : dict
        The run's ``objective.*``; :meth:`apply` sets prescribed values in it.
    preset : mapping
        The defaults' and the preset's alone: a value of ``values`` that differs from it was set by the user (or by
        the run resumed, which recorded its settings).
    derived : bool
        ``theory.source == "derived"``: apply the prescriptions (``original``: record them only).
    enforce : bool
        Refuse a user's value that contradicts a prescription (``theory.enforce``; derived runs only).
    """

    values: dict[str, Any]
    preset: Mapping[str, Any]
    derived: bool
    enforce: bool

    def value(self, key: str, default: Any) -> Any:
        """The run's value of ``key``: its own, else the preset's, else ``default`` (the published one)."""
        return self.values.get(key, self.preset.get(key, default))

    def apply(self, key: str, value: Any, ok: Callable[[Any], bool], reason: str) -> bool:
        """Set ``key`` to the prescribed ``value`` (derived runs) unless the user set it; a user's value that fails
        ``ok`` is refused when enforcing. Returns whether the prescribed value was applied."""
        if not self.derived:
            return False
        mine = self.values.get(key)
        if key in self.values and mine != self.preset.get(key):
            if not ok(mine) and self.enforce:
                raise InputError(
                    f"objective.{key}={mine!r} contradicts the theory: {reason}; "
                    "to run it anyway: theory.enforce=false, or --config-source original"
                )
            return False
        self.values[key] = value
        return True


def for_images(
    method: str,
    probe: str,
    n_orbits: int,
    settings: ObjectiveSettings,
    dim: int | None = None,
    batch: int | None = None,
) -> list[Record]:
    """Apply (derived) or only measure (original) the prescriptions to an image run's objective settings.

    Parameters
    ----------
    method : str
        The objective.
    probe : str
        The probe family the run is configured for.
    n_orbits : int
        C: for real images the number of pretraining images (the augmentations never map one image onto another).
    settings : ObjectiveSettings
        The objective's hyperparameters; the prescribed ones are set in ``settings.values``.
    dim : int, optional
        The encoder's representation dimension, when known (:func:`with_dim` fills it in later).
    batch : int, optional
        The global batch size.

    Returns
    -------
    list of dict
        One record per prescription (module docstring).
    """
    method = str(method).lower()
    C = max(int(n_orbits), 2)
    dmin = get_family(probe).minimal_dimension(C)
    rec = [
        _image_record(
            f"C = {C} orbits (every pretraining image is its own orbit under crops and colour changes)", C, None
        ),
        _image_record(
            f"d >= {dmin} for an encoder ideal for every invariant task ({probe} probes, S1.3-S1.4/S2.1)",
            dim,
            None if dim is None else dim >= dmin,
            note="not enforced: with C = number of images no practical d meets it; class tasks need far less",
        ),
    ]
    if method in ("dissl", "cissl"):
        rec.append(_image_head(probe, settings))
    if method == "dissl":
        rec += _image_dissl(C, settings, batch)
    elif method == "cissl":
        rec.append(
            _image_record(
                "CISSL assumptions: unit-norm student and teacher outputs, asymmetric heads, "
                "views X~ - M(X) - X (augmentations that never map one image onto another)",
                "as built (L2-normalised heads)",
                True,
            )
        )
    else:
        rec.append(
            _image_record(
                f"{method}: not one of the theory's objectives (CISSL, DISSL); no head or hyperparameter is prescribed",
                None,
                None,
            )
        )
    return rec


def _image_head(probe: str, s: ObjectiveSettings) -> Record:
    head = student_head(probe)
    reason = f"the student head must lie in the {probe} probe family ({head}), S6-S7"
    applied = s.apply("probe", head, lambda v: v == head, reason)
    used = s.value("probe", "linear")
    return _image_record(
        f"student head in the probe family: {head} (teacher head as expressive as possible)",
        used,
        used == head,
        applied,
        s.enforce,
    )


def _image_dissl(C: int, s: ObjectiveSettings, batch: int | None) -> list[Record]:
    beta = float(s.value("beta_det_inv", DISSL.beta_det_inv))
    k_applied = s.apply(
        "categories", C, lambda v: int(v) >= C, f"K >= C = {C} for a maximal teacher (S7; {dissl_categories_rule(C)})"
    )
    K = int(s.value("categories", DISSL.categories))
    rec = [_image_record(f"K >= C = {C} teacher categories (K = C when C is known)", K, K >= C, k_applied, s.enforce)]
    bound = dissl_lambda_bound(beta, K, C, batch)
    prescribed, basis = dissl_lambda(beta, K, C, batch)
    l_applied = s.apply(
        "lambda_maximality",
        prescribed,
        lambda v: 0 < float(v) < bound,
        f"lambda < {bound:g} makes every optimal teacher deterministic (S7.2-S7.3, batch marginal)",
    )
    lam = float(s.value("lambda_maximality", DISSL.lambda_maximality))
    rec.append(
        _image_record(
            f"0 < lambda < {bound:g} (deterministic optimal teacher; {basis})",
            lam,
            0 < lam < bound,
            l_applied,
            s.enforce,
        )
    )
    if batch is not None:
        rec.append(
            _image_record(
                "batch >= K, so that a batch can show a uniform marginal over the K categories",
                batch,
                batch >= K,
                note="not enforced: the maximality term's batch estimate is at most log(batch)",
            )
        )
    return rec


def with_dim(rec: list[Record], dim: int) -> list[Record]:
    """Fill in the dimension prescription of image records once the encoder is built."""
    for r in rec:
        if r["prescription"].startswith("d >= "):
            need = int(r["prescription"].split()[2])
            r["value"], r["holds"] = int(dim), int(dim) >= need
    return rec


@dataclass
class Prescriptions:
    """The prescriptions of one image run, as applied: the theory settings they were applied for and one record
    each (module docstring); what the run prints at its start (:meth:`describe`) and writes into results.json
    (:meth:`block`).

    Attributes
    ----------
    probe, source : str
        The probe family and ``derived`` / ``original`` (``theory.probe``, ``theory.source``).
    enforce : bool
        ``theory.enforce``.
    records : list of dict
        One per prescription.
    """

    probe: str
    source: str
    enforce: bool
    records: list[Record]

    def with_dim(self, dim: int) -> Prescriptions:
        """The dimension prescription filled in once the encoder is built (:func:`with_dim`)."""
        with_dim(self.records, dim)
        return self

    def describe(self) -> str:
        """Lines printed at the start of a run."""
        p = self.probe
        lines = [f"theory ({self.source} configuration, {p} probes; see idealssl derive --probe {p}):"]
        for r in self.records:
            tag = {True: "ok  ", False: "NO  ", None: "info"}[r["holds"]]
            extra = " [applied]" if r["applied"] else ""
            lines.append(f"  [{tag}] {r['prescription']}: {r['value']}{extra}")
        return "\n".join(lines)

    def block(self) -> dict[str, Any]:
        """The ``theory`` block of results.json."""
        return {
            "probe": self.probe,
            "source": self.source,
            "enforce": bool(self.enforce),
            "prescriptions": self.records,
            "all_hold": all(r["holds"] is not False for r in self.records),
        }


# ------------------------------------------------------------------------------------------------ synthetic loop
def for_world(  # noqa: PLR0913 - the run's method, source, probe, C, hyperparameters, d and batch
    method: str,
    source: str,
    probe: str,
    C: int,
    hparams: dict[str, Any],
    dim: int | None = None,
    batch: int | None = None,
) -> tuple[int, list[Record]]:
    """The dimension and the records of a run on a world of C known orbits (``idealssl bench loop``).

    ``derived`` applies the prescriptions to ``hparams`` (changed in place): DISSL's K = C, λ of
    :func:`dissl_lambda` for a batch of ``batch`` anchors, and its bottleneck removed (the student head in the
    probe family); nothing else (CISSL's τ, DISSL's β: :data:`SILENT`, the suite's published values).
    ``original`` keeps the suite's settings (DISSL with the published λ and β). Every record names its basis.
    Returns ``(d, records)``, d the minimal dimension unless ``dim`` is given.
    """
    conf = configure(probe, C)
    d = int(dim or conf.minimal_dimension)
    derived = source == "derived"
    rec = [
        _record(
            f"d >= minimal dimension {conf.minimal_dimension} for {probe} probes",
            d,
            d >= conf.minimal_dimension,
            basis=conf.provenance["minimal_dimension"],
        )
    ]
    if method == "dissl":
        rec += _world_dissl(C, hparams, derived, batch)
    if method in ("dissl", "cissl"):
        rec += _world_widths(method, conf, hparams, derived)
    if method == "cissl":
        tau = float(hparams.get("temperature", 0.07))
        rec.append(
            _record(
                "temperature tau of the CISSL logits: any tau > 0 has the simplex as minimiser (S4.2, S6.1)",
                tau,
                tau > 0,
                basis=conf.provenance["cissl.temperature"],
            )
        )
    if method in ("dissl", "cissl"):
        used = hparams.get("probe", "linear")
        rec.append(
            _record(
                f"student head in the probe family ({probe})",
                used,
                used == student_head(probe),
                basis=conf.provenance[f"{method}.student_head"],
            )
        )
    return d, rec


def head_width(minimal: int, published: int) -> tuple[int, str]:
    """The output width k of a derived student head and its basis: the published (or the suite's) width when it
    satisfies k >= ``minimal`` (the family's minimal dimension; above it the theory is silent), else ``minimal``,
    the smallest width the rule allows (S1.3; :data:`~idealssl.derive.configuration.PROVENANCE`
    ``head_output_width``)."""
    if int(published) >= int(minimal):
        return int(published), f"S1.3: k >= {minimal} holds; above it {SILENT}: the published width"
    return int(minimal), f"S1.3: k >= {minimal}, the smallest such width (the published {published} is below it)"


def _world_widths(method: str, conf: Configuration, hparams: dict[str, Any], derived: bool) -> list[Record]:
    """The student head's output width (CISSL ``out_dim``; DISSL the K logits, or ``bottleneck`` when set) and the
    heads' hidden widths, for a derived run (set) or an original one (recorded)."""
    need = conf.minimal_dimension
    if method == "cissl":
        key, width = "out_dim", int(hparams.get("out_dim", 128))
    else:
        b = hparams.get("bottleneck")
        key, width = ("categories", int(hparams["categories"])) if b is None else ("bottleneck", int(b))
    if derived:
        width, basis = head_width(need, width)
        hparams[key] = width
    else:
        basis = "the suite's small heads (original configuration)"
    hidden = {k: hparams[k] for k in ("teacher_hidden_dim", "probe_hidden_dim") if k in hparams}
    return [
        _record(
            f"student head output width ({method} {key}) >= {need} for {conf.probe} probes",
            width,
            width >= need,
            basis=basis if not derived else f"{basis} ({conf.provenance['head_output_width'].split(':')[0]})",
        ),
        _record("head hidden widths", hidden, None, basis=conf.provenance["head_hidden_widths"]),
    ]


def _world_dissl(C: int, hparams: dict[str, Any], derived: bool, batch: int | None) -> list[Record]:
    beta = DISSL.beta_det_inv
    if derived:
        K = C
        lam, lam_basis = dissl_lambda(beta, K, C, batch)
        hparams.update(categories=K, lambda_maximality=lam, beta_det_inv=beta, bottleneck=None)
    else:
        K, lam = int(hparams["categories"]), DISSL.lambda_maximality
        lam_basis = "the published default (original configuration)"
        hparams.update(categories=K, lambda_maximality=lam, beta_det_inv=beta)
    bound = dissl_lambda_bound(beta, K, C, batch)
    return [
        _record(f"K >= C = {C} (K = C when C is known)", K, K >= C, basis="S7.1-S7.2"),
        _record(
            f"lambda < {bound:g} (deterministic optimal teacher; batch of {batch}, K = {K}, C = {C})",
            lam,
            lam < bound,
            basis=lam_basis,
        ),
        _record(
            "beta (teacher cross-view weight) > 0",
            beta,
            beta > 0,
            basis=f"{SILENT} beyond beta > 0 (S7.1); the published default",
        ),
    ]
