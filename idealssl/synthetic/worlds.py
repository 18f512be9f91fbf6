"""Finite worlds whose maximal invariant M(X) is known exactly.

A *world* is a finite input set X = {x_1, ..., x_N} together with an augmentation equivalence
x ~ x+ given as a partition of the N inputs into C classes ("orbits"), indexed by the maximal
invariant M : X -> {0, ..., C-1} (Dubois et al. 2022, Eq. 4; ``theory/statements.md`` S1.1).
Because X and M are explicit, everything the theory talks about can be computed exactly:
population risks are averages over the N inputs, the invariant tasks are the labellings of the C
orbits, and the augmentation distribution A(X~ | x) is the uniform distribution over the orbit of
x, so that the Markov chain X~ - M(X) - X required by CISSL and DISSL holds by construction.

Worlds
------
:func:`vector_world`
    C generic base points in R^D (unit norm), each orbit the images of its base point under a
    finite group of orthogonal maps (cyclic coordinate shifts, sign flips, permutations of a block
    of coordinates, planar rotations by multiples of 2 pi / k, or products of these), optionally
    times a finite set of nuisance vectors in extra dimensions.
:func:`digits_world`
    base images from scikit-learn's bundled 8x8 digits (no download), each orbit the exact set of
    images obtained by integer translations (zero fill), optional horizontal flips and intensity
    steps. Translations with zero fill are not a group action, so an "orbit" here is the set of
    augmented images of one base image; the sets are checked to be disjoint, so they partition X.

Coarseness
----------
Every orbit carries a semantic *class* (a random class for vector worlds, the digit for image
worlds). :meth:`World.coarsen` merges orbits of the same class, which gives coarser augmentations
that are still label-preserving for every task that is a function of the class;
:meth:`World.coarseness_family` does it step by step (pairs of orbits per class), down to one orbit
per class (Prop. 2 of the paper: coarser label-preserving augmentations mean fewer orbits and a
smaller worst-case ERM risk W_n).

The suite's worlds
------------------
:func:`main_world` (vector, C = 16), :func:`coarse_world` (vector, C = 32, four coarseness levels) and
:func:`image_world` (digits, C = 20): the worlds of ``idealssl bench`` (``--world vector|coarse|digits``,
:func:`named_world`).

Export
------
:func:`export` writes ``representation.npy`` (N x d float64) and ``orbits.json`` for
``idealssl check representation.npy --augs orbits.json``; :func:`claim_out` claims the folder first (empty, or an
earlier export moved aside with ``--overwrite``).

References
----------
Dubois, Hashimoto, Ermon, Liang. "Improving Self-Supervised Learning by Characterizing Idealized
Representations", NeurIPS 2022 (arXiv 2209.06235), Sections 2-3.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import InputError
from ..outdir import claim_empty

__all__ = [
    "World",
    "vector_world",
    "digits_world",
    "group_generators",
    "export",
    "GROUPS",
    "main_world",
    "coarse_world",
    "image_world",
    "paper_world",
    "hold_out",
    "PAPER_ORBITS",
    "PAPER_HELD_OUT",
    "NAMED_WORLDS",
    "named_world",
    "claim_out",
]

#: names of the finite groups :func:`vector_world` knows
GROUPS = ("shift", "signflip", "perm", "rotation")


@dataclass
class World:
    """A finite input set with an explicit partition into augmentation orbits.

    Attributes
    ----------
    name : str
        Short identifier (used in result files).
    X : numpy.ndarray, shape (N, D), float32
        The inputs, one row each (images are flattened; see ``input_shape``).
    orbits : numpy.ndarray, shape (N,), int64
        M(x_i) in {0, ..., C-1}: the maximal invariant, i.e. the orbit of each input.
    classes : numpy.ndarray, shape (C,), int64
        Semantic class of each orbit. Merging orbits of the same class is label-preserving for the
        tasks that are functions of the class.
    input_shape : tuple of int
        Shape of one input, e.g. ``(D,)`` or ``(1, 8, 8)``.
    params : dict
        The generation parameters (seed included), recorded in exports and results.
    """

    name: str
    X: np.ndarray
    orbits: np.ndarray
    classes: np.ndarray
    input_shape: tuple[int, ...]
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        self.orbits = np.asarray(self.orbits, dtype=np.int64)
        self.classes = np.asarray(self.classes, dtype=np.int64)
        if self.X.ndim != 2 or self.X.shape[0] != self.orbits.shape[0]:
            raise InputError(
                f"world {self.name!r}: X has shape {self.X.shape} but there are {self.orbits.shape[0]} orbit labels"
            )
        C = int(self.orbits.max()) + 1
        if sorted(np.unique(self.orbits).tolist()) != list(range(C)):
            raise InputError(f"world {self.name!r}: orbit labels must be 0..C-1 with every orbit non-empty")
        if self.classes.shape != (C,):
            raise InputError(f"world {self.name!r}: need one class per orbit ({C}), got {self.classes.shape[0]}")
        self._members = [np.flatnonzero(self.orbits == m) for m in range(C)]

    # ------------------------------------------------------------------ basic properties
    @property
    def N(self) -> int:
        """Number of inputs."""
        return int(self.X.shape[0])

    @property
    def C(self) -> int:
        """Number of orbits |X/~|."""
        return len(self._members)

    @property
    def n_classes(self) -> int:
        """Number of distinct semantic classes."""
        return int(np.unique(self.classes).size)

    @property
    def members(self) -> list[np.ndarray]:
        """Indices of the inputs of each orbit."""
        return self._members

    @property
    def orbit_mass(self) -> np.ndarray:
        """p_m = |orbit m| / N: the orbit marginal under the uniform distribution on X."""
        return np.bincount(self.orbits, minlength=self.C) / self.N

    @property
    def point_classes(self) -> np.ndarray:
        """Semantic class of each input, shape (N,)."""
        return self.classes[self.orbits]

    def describe(self) -> dict:
        """Plain-JSON summary: name, N, C, classes, orbit sizes, input shape and parameters."""
        sizes = np.bincount(self.orbits)
        return {
            "name": self.name,
            "N": self.N,
            "C": self.C,
            "n_classes": self.n_classes,
            "orbit_size_min": int(sizes.min()),
            "orbit_size_max": int(sizes.max()),
            "input_shape": list(self.input_shape),
            "params": self.params,
        }

    # ------------------------------------------------------------------ augmentations
    def sample_views(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw one augmented view of each input in ``idx``: uniform over its orbit.

        This is the exact augmentation distribution A(X~ | x) = Uniform(orbit(x)); it depends on x
        only through M(x), so X~ - M(X) - X is a Markov chain (the premise of CISSL/DISSL).

        Returns
        -------
        numpy.ndarray of int64
            Indices (into X) of the views.
        """
        idx = np.asarray(idx)
        out = np.empty(idx.shape, dtype=np.int64)
        orb = self.orbits[idx]
        for m in np.unique(orb):
            sel = orb == m
            mem = self._members[m]
            out[sel] = mem[rng.integers(0, mem.size, size=int(sel.sum()))]
        return out

    # ------------------------------------------------------------------ coarsening
    def coarsen(self, groups: Sequence[int] | np.ndarray, name: str | None = None) -> World:
        """Merge orbits: orbit m of this world becomes orbit ``groups[m]`` of the new one.

        Only orbits of the same class may be merged (label preservation); anything else is an
        :class:`~idealssl.errors.InputError`.
        """
        asked = np.asarray(groups, dtype=np.int64)
        if asked.shape != (self.C,):
            raise InputError(f"coarsen: need one group per orbit ({self.C}), got shape {asked.shape}")
        uniq, merged = np.unique(asked, return_inverse=True)
        new_classes = np.full(uniq.size, -1, dtype=np.int64)
        for m, g in enumerate(merged):
            if new_classes[g] not in (-1, self.classes[m]):
                raise InputError(
                    f"coarsen: group {int(uniq[g])} merges orbits of different classes; coarsening must preserve labels"
                )
            new_classes[g] = self.classes[m]
        params = dict(self.params, coarsened_from=self.C)
        return World(
            name or f"{self.name}-C{uniq.size}", self.X, merged[self.orbits], new_classes, self.input_shape, params
        )

    def coarseness_family(self) -> list[World]:
        """The world and its coarsenings, finest first, down to one orbit per class.

        At each step the orbits of every class are merged in pairs (the orbit order inside a
        class is fixed, so the family is deterministic and nested: each level is a coarsening of
        the previous one). With 2^k orbits per class there are k + 1 levels.
        """
        family = [self]
        cur = self
        while cur.C > cur.n_classes:
            groups = np.empty(cur.C, dtype=np.int64)
            nxt = 0
            for c in np.unique(cur.classes):
                orbs = np.flatnonzero(cur.classes == c)
                for j, m in enumerate(orbs):
                    groups[m] = nxt + j // 2
                nxt += (orbs.size + 1) // 2
            cur = cur.coarsen(groups, name=f"{self.name}-C{nxt}")
            family.append(cur)
        return family


# ---------------------------------------------------------------------- vector worlds
def group_generators(spec: str, D: int) -> list[np.ndarray]:
    """Orthogonal D x D generator matrices of a finite group acting on R^D.

    Parameters
    ----------
    spec : str
        ``"shift"`` (cyclic shift of all D coordinates; order D), ``"signflip:k"`` (independent
        sign flips of the first k coordinates; order 2^k), ``"perm:k"`` (all permutations of the
        first k coordinates; order k!), ``"rotation:k"`` (rotation by 2 pi / k in the plane of
        coordinates 0 and 1; order k). Products are obtained by passing several specs to
        :func:`vector_world`.
    D : int
        Ambient dimension.
    """
    name, _, arg = spec.partition(":")
    if name not in GROUPS:
        raise InputError(f"unknown group {spec!r}; use one of shift, signflip:k, perm:k, rotation:k")
    try:
        k = int(arg) if arg else {"shift": D, "signflip": 1, "perm": min(D, 3), "rotation": 4}[name]
    except ValueError:
        raise InputError(f"group {spec!r}: the order parameter after ':' must be an integer") from None
    if name == "shift":
        return [np.roll(np.eye(D), 1, axis=0)]
    if name == "signflip":
        if not 1 <= k <= D:
            raise InputError(f"group {spec!r}: need 1 <= k <= D={D}")
        gens = []
        for i in range(k):
            g = np.eye(D)
            g[i, i] = -1.0
            gens.append(g)
        return gens
    if name == "perm":
        if not 2 <= k <= D:
            raise InputError(f"group {spec!r}: need 2 <= k <= D={D}")
        swap = np.eye(D)
        swap[[0, 1]] = swap[[1, 0]]
        cyc = np.eye(D)
        cyc[:k, :k] = np.roll(np.eye(k), 1, axis=0)
        return [swap, cyc]
    # rotation
    if D < 2 or k < 2:
        raise InputError(f"group {spec!r}: need D >= 2 and k >= 2")
    g = np.eye(D)
    a = 2 * math.pi / k
    g[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    return [g]


def _closure(x: np.ndarray, gens: Sequence[np.ndarray], max_size: int) -> np.ndarray:
    """All images of x under the group generated by ``gens`` (breadth-first, deduplicated)."""

    def key(v: np.ndarray) -> tuple[float, ...]:
        return tuple(np.round(v, 9).tolist())

    seen = {key(x): x}
    frontier = [x]
    while frontier:
        new = []
        for v in frontier:
            for g in gens:
                w = g @ v
                k = key(w)
                if k not in seen:
                    seen[k] = w
                    new.append(w)
                    if len(seen) > max_size:
                        raise InputError(
                            f"group orbit larger than max_orbit={max_size}; use a smaller group or raise max_orbit"
                        )
        frontier = new
    return np.stack(list(seen.values()))


def vector_world(
    n_orbits: int = 16,
    dim: int = 8,
    groups: Sequence[str] = ("shift",),
    n_classes: int | None = None,
    nuisance_dim: int = 0,
    n_nuisance: int = 2,
    nuisance_scale: float = 0.5,
    max_orbit: int = 4096,
    seed: int = 0,
) -> World:
    """A vector world: orbits of C generic unit vectors under a finite orthogonal group.

    Each base point b_m ~ N(0, I_D) / ||.|| (m = 1..C); orbit m is {g b_m : g in G} x {nu_1..nu_K}
    where G is generated by ``groups`` (see :func:`group_generators`) and the nu_k in
    R^{nuisance_dim} are K = ``n_nuisance`` fixed Gaussian nuisance vectors of scale
    ``nuisance_scale`` appended to every point (the augmentation resamples them). Generic base
    points have disjoint orbits; this is verified (minimum distance between points of different
    orbits > 1e-6).

    Parameters
    ----------
    n_orbits : int
        C, the number of orbits.
    dim : int
        D, the dimension the group acts on.
    groups : sequence of str
        Group generators, e.g. ``("shift",)``, ``("signflip:2", "rotation:4")``.
    n_classes : int, optional
        Number of semantic classes (orbits are assigned to classes round-robin, in equal numbers
        when ``n_classes`` divides C). Default: C (every orbit its own class).
    nuisance_dim, n_nuisance, nuisance_scale : int, int, float
        Nuisance coordinates (0 disables them).
    max_orbit : int
        Refuse groups whose orbits exceed this size.
    seed : int
        Seed of the base points and nuisance vectors.
    """
    if n_orbits < 2:
        raise InputError(f"vector_world: need at least 2 orbits, got {n_orbits}")
    if dim < 1:
        raise InputError(f"vector_world: dim must be >= 1, got {dim}")
    n_classes = n_orbits if n_classes is None else int(n_classes)
    if not 1 <= n_classes <= n_orbits:
        raise InputError(f"vector_world: need 1 <= n_classes <= n_orbits, got {n_classes}")
    rng = np.random.default_rng(seed)
    gens = [g for spec in groups for g in group_generators(spec, dim)]
    base = rng.standard_normal((n_orbits, dim))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    nuis = nuisance_scale * rng.standard_normal((max(n_nuisance, 1), nuisance_dim)) if nuisance_dim > 0 else None
    parts: list[np.ndarray] = []
    for m in range(n_orbits):
        pts = _closure(base[m], gens, max_orbit) if gens else base[m][None]
        if nuis is not None:
            pts = np.concatenate([np.repeat(pts, nuis.shape[0], axis=0), np.tile(nuis, (pts.shape[0], 1))], axis=1)
        parts.append(pts)
    X = np.concatenate(parts)
    orb = np.concatenate([np.full(pts.shape[0], m) for m, pts in enumerate(parts)])
    _check_disjoint(X, orb, "vector_world")
    classes = np.arange(n_orbits) % n_classes
    params = dict(
        kind="vector",
        n_orbits=n_orbits,
        dim=dim,
        groups=list(groups),
        n_classes=n_classes,
        nuisance_dim=nuisance_dim,
        n_nuisance=n_nuisance,
        nuisance_scale=nuisance_scale,
        seed=seed,
    )
    name = f"vec-{'+'.join(groups) or 'none'}-C{n_orbits}-D{dim}"
    return World(name, X, orb, classes, (X.shape[1],), params)


def _check_disjoint(X: np.ndarray, orb: np.ndarray, what: str, tol: float = 1e-6) -> None:
    """Raise if two inputs of different orbits coincide (the orbits would not partition X)."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(X).query_pairs(tol, output_type="ndarray")
    if pairs.size and np.any(orb[pairs[:, 0]] != orb[pairs[:, 1]]):
        raise InputError(f"{what}: two orbits share an input; choose another seed or fewer augmentations")


# ---------------------------------------------------------------------- image worlds
def _translate(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    H, W = img.shape
    ys, yd = (slice(0, H - dy), slice(dy, H)) if dy >= 0 else (slice(-dy, H), slice(0, H + dy))
    xs, xd = (slice(0, W - dx), slice(dx, W)) if dx >= 0 else (slice(-dx, W), slice(0, W + dx))
    out[yd, xd] = img[ys, xs]
    return out


def digits_world(
    per_class: int = 2,
    digits: Sequence[int] = tuple(range(10)),
    max_shift: int = 1,
    flips: bool = False,
    intensities: Sequence[float] = (1.0,),
    seed: int = 0,
) -> World:
    """An image world from scikit-learn's bundled 8x8 digits (no download).

    ``per_class`` base images of each digit in ``digits`` are drawn (seeded); orbit m is the
    exact, enumerated set of distinct images
    {s * T_{dy,dx}(F^f(b_m)) : |dy|, |dx| <= max_shift, f in {0, 1 if flips}, s in intensities},
    with T a translation with zero fill, F a horizontal flip and pixel values scaled to [0, 1].
    The class of an orbit is its digit, so merging orbits of the same digit is label-preserving
    for digit tasks.
    """
    from sklearn.datasets import load_digits

    if per_class < 1:
        raise InputError(f"digits_world: per_class must be >= 1, got {per_class}")
    if max_shift < 0 or max_shift > 3:
        raise InputError(f"digits_world: max_shift must be in 0..3, got {max_shift}")
    digits = [int(d) for d in digits]
    if not digits or any(d < 0 or d > 9 for d in digits) or len(set(digits)) != len(digits):
        raise InputError(f"digits_world: digits must be distinct integers in 0..9, got {digits}")
    if not intensities or any(not (s > 0) for s in intensities):
        raise InputError("digits_world: intensities must be positive numbers")
    data = load_digits()
    rng = np.random.default_rng(seed)
    imgs = data.images / 16.0
    parts: list[np.ndarray] = []
    classes: list[int] = []
    shifts = range(-max_shift, max_shift + 1)
    for d in digits:
        pool = np.flatnonzero(data.target == d)
        if per_class > pool.size:
            raise InputError(f"digits_world: digit {d} has only {pool.size} images")
        for b in rng.choice(pool, size=per_class, replace=False):
            seen: dict[tuple[float, ...], np.ndarray] = {}
            for f, dy, dx, s in itertools.product((0, 1) if flips else (0,), shifts, shifts, intensities):
                im = imgs[b][:, ::-1] if f else imgs[b]
                v = (s * _translate(im, dy, dx)).ravel()
                seen.setdefault(tuple(np.round(v, 9).tolist()), v)
            parts.append(np.stack(list(seen.values())))
            classes.append(d)
    X = np.concatenate(parts)
    orb = np.concatenate([np.full(pts.shape[0], m) for m, pts in enumerate(parts)])
    _check_disjoint(X, orb, "digits_world")
    params = dict(
        kind="digits",
        per_class=per_class,
        digits=digits,
        max_shift=max_shift,
        flips=bool(flips),
        intensities=[float(s) for s in intensities],
        seed=seed,
    )
    return World(
        f"digits-C{len(classes)}-s{max_shift}{'-flip' if flips else ''}", X, orb, np.array(classes), (1, 8, 8), params
    )


# ---------------------------------------------------------------------- export
def export(world: World, directory, Z: np.ndarray | None = None) -> dict[str, str]:
    """Write ``representation.npy`` and ``orbits.json`` for ``idealssl check``.

    Parameters
    ----------
    world : World
    directory : path-like
        Created if missing.
    Z : numpy.ndarray, shape (N, d), optional
        The representation of the N inputs (row i for ``world.X[i]``). Default: the raw inputs
        ``world.X`` (the identity encoder).

    Returns
    -------
    dict
        Paths written: ``{"representation": ..., "orbits": ..., "world": ...}``.

    Notes
    -----
    ``orbits.json`` is the checker's "labels" form, ``{"labels": [M(x_1), ..., M(x_N)]}``
    (``idealssl/problem.py``); the world's description (classes of the orbits, generation
    parameters) goes to ``world.json`` beside it, since the orbits format admits no other keys.
    """
    Z = world.X if Z is None else np.asarray(Z)
    if Z.ndim != 2 or Z.shape[0] != world.N:
        raise InputError(f"export: representation must have shape ({world.N}, d), got {Z.shape}")
    out = Path(directory)
    rep, orb, meta = out / "representation.npy", out / "orbits.json", out / "world.json"
    desc = {"world": world.describe(), "orbit_classes": world.classes.tolist()}
    files: dict[Path | str, bytes | memoryview] = {
        rep: atomic.npy_bytes(np.ascontiguousarray(Z, dtype=np.float64)),
        orb: json.dumps({"labels": world.orbits.tolist()}).encode(),
        meta: json.dumps(desc, indent=1).encode(),
    }
    atomic.write_files(files, "exported world")  # the three together, atomically, never through a symlink
    return {"representation": str(rep), "orbits": str(orb), "world": str(meta)}


# ---------------------------------------------------------------------------- the suite's worlds, by name
def main_world(seed: int = 0) -> World:
    """The suite's vector world: C = 16 orbits of the cyclic-shift group on R^8 (8 shifts) times 2 nuisance
    vectors in 2 extra dimensions (16 inputs per orbit, N = 256), 4 classes of 4 orbits."""
    return vector_world(n_orbits=16, dim=8, groups=("shift",), n_classes=4, nuisance_dim=2, n_nuisance=2, seed=seed)


def coarse_world(seed: int = 0) -> World:
    """C = 32 orbits of the group generated by sign flips of coordinates 0, 1 and quarter-turns in
    their plane (the dihedral group of order 8) on R^6 (N = 256), 4 classes of 8 orbits: coarseness
    levels C = 32, 16, 8, 4."""
    return vector_world(n_orbits=32, dim=6, groups=("signflip:2", "rotation:4"), n_classes=4, seed=seed)


def image_world(seed: int = 0) -> World:
    """Digits 0-9, 2 base images each (C = 20), translations by at most one pixel (9 images per orbit)."""
    return digits_world(per_class=2, max_shift=1, seed=seed)


#: the paper world's default number of orbits (8 x a batch of 64) and held-out points per orbit
PAPER_ORBITS = 512
PAPER_HELD_OUT = 4


def paper_world(seed: int = 0, n_orbits: int = PAPER_ORBITS) -> World:
    """A world in the paper's regime: many orbits (default C = 512, eight times a batch of 64), each the 8 cyclic
    shifts of a generic unit vector in R^8 times 2 nuisance vectors in 2 extra dimensions (16 inputs per orbit,
    N = 16 C), 4 classes; :func:`hold_out` keeps points of every orbit apart for the check."""
    if int(n_orbits) < 2:
        raise InputError(f"the paper world needs at least 2 orbits, got {n_orbits}")
    w = vector_world(
        n_orbits=int(n_orbits), dim=8, groups=("shift",), n_classes=4, nuisance_dim=2, n_nuisance=2, seed=seed
    )
    w.name = f"paper-C{w.C}"
    return w


def hold_out(world: World, per_orbit: int = PAPER_HELD_OUT, seed: int = 0) -> tuple[World, World]:
    """Split every orbit: ``per_orbit`` of its inputs, uniform without replacement (``seed``), form the held-out
    world, the others the training world. Both keep the orbit labels 0..C-1 and the classes; the training world's
    augmentation is uniform over the training inputs of the orbit, so the held-out inputs are never seen."""
    per_orbit = int(per_orbit)
    smallest = int(np.bincount(world.orbits).min())
    if not 1 <= per_orbit < smallest:
        raise InputError(f"hold out between 1 and {smallest - 1} inputs per orbit (the smallest has {smallest})")
    rng = np.random.default_rng(seed)
    held = np.zeros(world.N, dtype=bool)
    for mem in world.members:
        held[rng.choice(mem, size=per_orbit, replace=False)] = True
    params = dict(world.params, held_out_per_orbit=per_orbit, held_out_seed=seed)

    def part(mask: np.ndarray, tag: str) -> World:
        return World(f"{world.name}-{tag}", world.X[mask], world.orbits[mask], world.classes, world.input_shape, params)

    return part(~held, "train"), part(held, "heldout")


#: the worlds of ``idealssl bench`` (``--world NAME``)
NAMED_WORLDS = {"vector": main_world, "digits": image_world, "coarse": coarse_world, "paper": paper_world}


def named_world(name: str, seed: int, size: int | None = None) -> World:
    """The suite's world called ``name`` (:data:`NAMED_WORLDS`), drawn with ``seed``; ``size`` is the number of
    orbits of the world that takes one (``paper``)."""
    if size is None:
        return NAMED_WORLDS[name](seed)
    if name != "paper":
        raise InputError(f"the {name} world has a fixed size; --orbits applies to --world paper")
    return paper_world(seed, n_orbits=size)


#: ``--overwrite`` of the commands that write an export (``idealssl bench export``, ``idealssl bench loop``)
OVERWRITE_HELP = "write into a non-empty --out: its contents are moved to OUT.replaced-<time> (printed)"


def claim_out(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty ``out`` (one line); with ``overwrite``, move an earlier export's contents aside to
    ``OUT.replaced-<time>`` and say where (:func:`idealssl.outdir.claim_empty`, as ``idealssl train``)."""
    import sys

    def exported(d: Path) -> bool:
        return (d / "representation.npy").is_file() and (d / "orbits.json").is_file()

    dest = claim_empty(out, overwrite, is_ours=exported, what="a folder written by idealssl bench", hint="")
    if dest is not None:
        print(f"--overwrite: the previous contents of {out} were moved to {dest}", file=sys.stderr, flush=True)
