"""Batch regimes of the synthetic trainer: how the anchors of one batch are drawn from a world.

Orbit-blind regimes draw the anchors from the inputs alone, as every trainer on real data does; the views of each
anchor then come from its orbit by the world's augmentation (:meth:`~.worlds.World.sample_views`), which is the
augmentation itself, not knowledge of M given to the sampler.

``"iid"`` (the default of the synthetic trainer, ``idealssl bench loop`` and ``idealssl bench synthetic``'s claims)
    ``batch`` anchors i.i.d. uniform over the N inputs.
``"epoch"`` (orbit-blind, as an image trainer's data loader)
    A fresh uniform permutation of the N inputs per epoch, cut into consecutive batches of ``batch`` anchors (a
    batch that would cross the end of an epoch is completed from the next permutation).
``"one-per-orbit"`` (**oracle regime**: the sampler reads the orbit partition M)
    Every anchor of a batch comes from a different orbit: ``min(batch, C)`` distinct orbits drawn
    uniformly without replacement, then one input uniformly within each. On a real data set every
    image is its own orbit and a batch of 256 holds 256 orbits, so no anchor meets an input of its
    own orbit among the negatives; this is the regime in which CISSL's target (1/2 on the anchor's
    own teacher output, 1/2 on its positive) and the consistency of the NCE estimate of the ideal
    log loss are argued. When C < batch the batch is **C anchors**, not more: a larger batch would
    need same-orbit anchors, and the alternative (drawing from several worlds at once) would train
    on a different data distribution from the world that is evaluated. The smaller batch is the
    price; the suite records the effective batch and whether the losses flattened. Because it reads M, which is
    what the method is meant to discover, a result in this regime is labelled ``oracle`` in its protocol
    (:func:`describe_regime`).

Same-orbit anchors in the orbit-blind regimes. With C = 16 orbits and 128 anchors, each
    anchor has about 8 inputs of its own orbit (16 same-orbit negative views) in the batch, and a
    contrastive loss can be lowered by telling an input apart from its orbit-mates, i.e. by *not*
    being invariant.

The invariant bound. For an invariant representation every view of an orbit has the same student
and teacher output, so in a batch where anchor a has k other anchors of its own orbit, the
V(k + 1) candidates of its orbit have equal logits. CISSL's candidates include the anchor's own
view and its target puts 1/V on each of the V views of its sample, so its loss is at least
log(V(k + 1)) = log(m + V), with m = V k the same-orbit negative views: E log(m + 2) for V = 2,
log 2 in the one-per-orbit regime. SimCLR's candidates exclude the anchor itself, giving
E log(m + 1) (0 when m = 0). A final loss *below* the bound certifies that the representation is
not invariant (the bound holds for every temperature and head).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .worlds import World

__all__ = [
    "BATCH_REGIMES",
    "ORACLE_REGIME",
    "ORBIT_BLIND",
    "DEFAULT_REGIME",
    "AnchorSampler",
    "effective_batch",
    "sample_anchors",
    "same_orbit_counts",
    "invariant_bound",
    "describe_regime",
]

BATCH_REGIMES = ("one-per-orbit", "iid", "epoch")
#: the oracle regime: every batch one input of min(batch, C) distinct orbits (the sampler reads M)
ORACLE_REGIME = "one-per-orbit"
#: the regimes whose anchors are drawn from the inputs alone
ORBIT_BLIND = ("iid", "epoch")
#: the synthetic trainer's and ``idealssl bench loop``'s regime
DEFAULT_REGIME = "iid"


def _check(regime: str) -> None:
    if regime not in BATCH_REGIMES:
        raise InputError(f"unknown batch regime {regime!r}; use one of {', '.join(BATCH_REGIMES)}")


def effective_batch(world: World, batch: int, regime: str) -> int:
    """The number of anchors per batch: ``batch`` (orbit-blind) or ``min(batch, C)`` (one-per-orbit)."""
    _check(regime)
    return int(batch) if regime in ORBIT_BLIND else int(min(batch, world.C))


def sample_anchors(world: World, batch: int, rng: np.random.Generator, regime: str = "iid") -> np.ndarray:
    """Indices of the anchors of one batch (see the module docstring for the regimes).

    ``iid`` draws exactly as the trainer always did (``rng.integers(0, N, size=batch)``), so seeded
    runs in that regime reproduce earlier results.
    """
    _check(regime)
    if regime == "epoch":
        raise InputError("the epoch regime keeps a permutation between batches: draw it with AnchorSampler")
    if regime == "iid":
        return rng.integers(0, world.N, size=batch)
    members = world.members
    orbits = rng.choice(world.C, size=min(batch, world.C), replace=False)
    return np.array([members[m][rng.integers(0, members[m].size)] for m in orbits], dtype=np.int64)


class AnchorSampler:
    """The anchors of successive batches in one regime (module docstring): ``sampler()`` returns one batch.

    ``iid`` and ``one-per-orbit`` draw as :func:`sample_anchors` does (same random stream); ``epoch`` keeps its
    permutation between calls. The orbit-blind regimes read only N from the world.
    """

    def __init__(self, world: World, batch: int, rng: np.random.Generator, regime: str = DEFAULT_REGIME):
        _check(regime)
        if int(batch) < 1:
            raise InputError(f"batch must be >= 1, got {batch}")
        self.world, self.batch, self.rng, self.regime = world, int(batch), rng, regime
        self._order = np.empty(0, dtype=np.int64)

    def __call__(self) -> np.ndarray:
        if self.regime != "epoch":
            return sample_anchors(self.world, self.batch, self.rng, self.regime)
        while self._order.size < self.batch:
            self._order = np.concatenate([self._order, self.rng.permutation(self.world.N)])
        out, self._order = self._order[: self.batch], self._order[self.batch :]
        return out


def same_orbit_counts(orbits_of_anchors: np.ndarray) -> np.ndarray:
    """For each anchor, the number k of OTHER anchors of the batch in its orbit."""
    o = np.asarray(orbits_of_anchors)
    _, inv, counts = np.unique(o, return_inverse=True, return_counts=True)
    return counts[inv] - 1


def invariant_bound(world: World, batch: int, regime: str, n_views: int = 2, self_candidate: bool = True) -> float:
    """The least batch loss an invariant representation can reach, in expectation over batches:
    E log(V k + V) when the anchor's own view is a candidate (CISSL: E log(m + 2) for V = 2),
    E log(V k + V - 1) when it is not (SimCLR: E log(m + 1)); k = other anchors of the same orbit.

    Exact: in the iid regime, k ~ Binomial(B - 1, p_M) given the anchor's orbit M (mass p_M); in the
    one-per-orbit regime k = 0. The epoch regime draws without replacement within an epoch (k hypergeometric);
    the binomial value is given for it too, a lower bound there (the hypergeometric count is smaller in convex
    order, Hoeffding 1963, and the log is concave), so it stays a bound on the loss.
    """
    from scipy.stats import binom

    _check(regime)
    c = n_views if self_candidate else n_views - 1
    if regime == ORACLE_REGIME:
        return float(np.log(c)) if c > 0 else 0.0
    p = world.orbit_mass
    k = np.arange(batch)
    vals = np.log(n_views * k + c) if c > 0 else np.log(np.maximum(n_views * k + c, 1))
    return float(sum(pm * np.dot(binom.pmf(k, batch - 1, pm), vals) for pm in p))


def describe_regime(world: World, batch: int, regime: str) -> dict:
    """What the results record about the regime of one training run (``oracle``: the sampler reads M)."""
    B = effective_batch(world, batch, regime)
    return {
        "batch_regime": regime,
        "oracle": regime == ORACLE_REGIME,
        "batch_requested": int(batch),
        "batch_effective": B,
        "invariant_bound_cissl": invariant_bound(world, B, regime, self_candidate=True),
        "invariant_bound_simclr": invariant_bound(world, B, regime, self_candidate=False),
    }
