"""One streaming pass over a representation: orbit codes and within-orbit deviations.

For orbit m let r_m = z_{x_m} be the representation of its first point x_m (smallest index), its
*code*. One pass over the rows computes, for every point, the squared deviation
``‖z_x − r_{M(x)}‖²`` and accumulates per orbit its maximum and its sum. This is all the theory
needs (theory/statements.md S1; Dubois et al. 2022, Thm. 1):

* invariance (S1.3) holds iff every deviation is 0; we report ``max_x ‖z_x − r_{M(x)}‖`` relative to
  the spread of the codes;
* with the codes being actual points of the problem, every geometric statement about the codes
  (affine dependency, shared codes) is a statement about points, so certificates built on them are
  exact at the point level (no convexity argument needed).

Cost: N·d subtractions and multiply-adds, O(C·d + chunk) memory. A ``.npy`` file is read by positioned
reads into one reused buffer, in chunks small enough to stay in cache, so the resident set stays at
O(C·d + a few MB) however large the file, and a file shortened during the pass is a short read (an
``InputError``), not a fault. With ``threads=2`` the rows are split into two contiguous halves processed by
two threads (the kernels and NumPy release the GIL).

Per chunk, ``‖z_x − r_{M(x)}‖²`` is computed by a compiled kernel (``sq_deviations`` in
``idealssl/inputs/_kernels.c``, an optional extension built by ``pip install``) that reads each row and its code
once, prefetching the codes of the rows ahead; for a C-order ``.npy`` of float32 or float64, unscaled,
``sq_deviations_file`` also does the reading (``pread`` into the reused buffer, sums while the chunk is in cache,
no Python and no GIL between chunks). Without the extension (or with ``IDEALSSL_PURE_NUMPY=1``) NumPy computes it
in three passes over each chunk (gather, subtract, reduce). Same arithmetic either way: differences in the
working precision, squares summed in float64 by the kernels (in the order fixed in the C source) and in the
working precision by NumPy.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..inputs import kernels
from ..inputs.orbits import Orbits
from ..inputs.representation import Representation, chunk_rows, require_finite


@dataclass
class OrbitStats:
    """Sufficient statistics of (Z, orbits) for the checker.

    Attributes
    ----------
    codes : ndarray (C, d), float64
        r_m: the representation of each orbit's code point (its first point unless the caller chose
        others: :func:`largest_norm_points`).
    first : ndarray (C,), int64
        Index of that point.
    max_dev : ndarray (C,)
        max over the orbit's points of ‖z_x − r_m‖.
    mean_sq_dev : ndarray (C,)
        mean over the orbit's points of ‖z_x − r_m‖².
    argmax_dev : ndarray (C,), int64
        A point attaining ``max_dev`` (the first point itself when the orbit is invariant).
    sizes : ndarray (C,), int64
    mass : ndarray (C,)
        Orbit probabilities p_m.
    """

    codes: np.ndarray
    first: np.ndarray
    max_dev: np.ndarray
    mean_sq_dev: np.ndarray
    argmax_dev: np.ndarray
    sizes: np.ndarray
    mass: np.ndarray


#: ``sq_deviations(block, codes, labels, out)`` from the C extension, or None (NumPy path)
fused_kernel = kernels.get("sq_deviations")
#: ``sq_deviations_file(fd, offset, start, stop, codes, labels, out, buf)``: the same, reading a C-order ``.npy``
#: itself (pread into one reused buffer, without the GIL); None where it is not built
file_kernel = kernels.get("sq_deviations_file")
#: rows per call of :data:`file_kernel` (the reads within a call are one buffer each): about 64 MB of float32 at
#: d = 512, so a pass makes a few dozen calls
SEGMENT_ROWS = 1 << 15


def _file_pass_applies(rep: Representation, work: type) -> bool:
    """Whether :func:`_file_pass` can read ``rep``: a C-order ``.npy`` of native float32/float64, unscaled, whose
    stored dtype is the working one, with both kernels built."""
    return (
        file_kernel is not None
        and fused_kernel is not None
        and rep._path is not None
        and rep._key is None
        and rep._array is None
        and not rep._fortran
        and rep._scale == 1.0
        and rep.dtype.isnative
        and rep.dtype == np.dtype(work)
    )


def _file_pass(
    rep: Representation, lo: int, hi: int, labels: np.ndarray, codes_w: np.ndarray, out: np.ndarray, rows: int
) -> int:
    """out[lo:hi] = ‖z_x − r_{M(x)}‖² by :data:`file_kernel`: each row read once into a reused buffer of ``rows``
    rows and summed there (the arithmetic of :func:`_deviations`). A file that ends early is an ``InputError``
    (the short read of :meth:`Representation.chunks`). Returns the row from which the caller's own path must go
    on (``hi`` when done; else the first row of a block with a non-finite result, which that path reports or
    recomputes in float64)."""
    buf = np.empty(rows * rep.d, dtype=rep.dtype)
    assert rep._path is not None and file_kernel is not None
    with open(rep._path, "rb", buffering=0) as f:
        for seg in range(lo, hi, SEGMENT_ROWS):
            status, row = file_kernel(
                f.fileno(), rep._offset, seg, min(seg + SEGMENT_ROWS, hi), codes_w, labels, out, buf
            )
            if status == 1:
                rep._truncated(row)
            if status == 2:
                return row
    return hi


def _deviations(
    block: np.ndarray,
    start: int,
    labels: np.ndarray,
    codes_w: np.ndarray,
    source: str,
    out: np.ndarray,
    work: np.ndarray,
) -> None:
    """out[start:start+m] = ‖z_x − r_{M(x)}‖² for the rows of ``block``.

    With the compiled kernel: one read of each row and of its code, squares summed in float64.
    Otherwise NumPy: gather the codes into a reused buffer (no multi-MB allocation per chunk),
    subtract, reduce. Either way the difference is formed in the working precision."""
    m = len(block)
    lab = labels[start : start + m]
    if fused_kernel is not None and block.flags.c_contiguous and block.dtype == codes_w.dtype:
        sq = out[start : start + m]
        with np.errstate(over="ignore", invalid="ignore"):
            fused_kernel(block, codes_w, lab, sq)
    else:
        diff = work[:m]
        with np.errstate(over="ignore", invalid="ignore"):  # overflow in float32 is handled below
            np.take(codes_w, lab, axis=0, out=diff)
            np.subtract(block, diff, out=diff)
            sq = np.einsum("ij,ij->i", diff, diff)
    if not np.isfinite(sq).all():
        require_finite(block, start, source)  # raises on NaN/inf
        diff64 = np.asarray(block, dtype=np.float64) - codes_w[lab].astype(np.float64)  # float32 overflow
        sq = np.einsum("ij,ij->i", diff64, diff64)
    out[start : start + m] = sq


#: codes whose largest magnitude lies outside [2^-SAFE_EXP, 2^SAFE_EXP] are rescaled by a power of two
#: before the pass, so that squared deviations neither overflow nor underflow in float64
SAFE_EXP = 400
#: the same for float32 data on the NumPy path, which sums squares in float32 (the compiled kernel sums
#: them in float64, where no float32 value can overflow or underflow)
SAFE_EXP_FLOAT32 = 30
#: the largest power of two a float64 holds (the rescaling factor of subnormal codes)
MAX_EXP = 1023


def float32_sums(rep: Representation) -> bool:
    """Whether the pass over ``rep`` sums squares in float32 (the NumPy path on float32 data)."""
    return rep.dtype == np.float32 and (fused_kernel is None or rep._fortran)


def safe_scale(codes: np.ndarray, float32: bool = False) -> float:
    """A power of two 2^-e bringing the largest code magnitude near 1 when it is far from 1, else 1.

    The checker's verdicts are invariant under positive scaling of Z; multiplying by a power of two
    is exact, so the rescaled problem is the same problem with squares that stay in range. Subnormal
    values are taken as given (they are exact numbers, with fewer significant bits than normal ones):
    multiplied by 2^1023 they become normal, exactly, and keep their differences."""
    with np.errstate(invalid="ignore"):
        top = float(np.max(np.abs(codes))) if codes.size else 0.0
    if not np.isfinite(top) or top == 0.0:
        return 1.0  # non-finite values are reported by the pass; all-zero codes need no rescaling
    limit = SAFE_EXP_FLOAT32 if float32 else SAFE_EXP
    e = int(np.frexp(top)[1])  # top = f · 2^e with 0.5 ≤ f < 1
    # 2^-e is not a float64 below e = -1023 (subnormal codes, down to 2^-1074): 2^1023 brings them to
    # at least 2^-51, far enough from the bottom that squares stay normal
    return 1.0 if -limit <= e <= limit else float(np.ldexp(1.0, min(-e, MAX_EXP)))


def orbit_stats(
    rep: Representation,
    orbits: Orbits,
    threads: int = 2,
    codes: np.ndarray | None = None,
    points: np.ndarray | None = None,
) -> OrbitStats:
    """Compute :class:`OrbitStats` in one pass over ``rep`` (see module docstring); ``codes``, when
    given, are ``rep.rows(points)`` already read. ``points``: the point of each orbit whose representation
    is its code (default each orbit's first point; :func:`largest_norm_points` for ``linear-nobias``).

    Raises
    ------
    InputError
        N mismatch, NaN/inf, truncated file.
    """
    if orbits.n != rep.n:
        raise InputError(f"{orbits.source}: the orbits cover {orbits.n} points but {rep.source} has N = {rep.n} rows")
    C, d = orbits.n_orbits, rep.d
    first = orbits.first_points() if points is None else np.asarray(points, dtype=np.int64)
    codes = rep.rows(first) if codes is None else codes
    if not np.isfinite(codes).all():
        m = int(np.argmax(~np.isfinite(codes).all(axis=1)))
        require_finite(codes[m : m + 1], int(first[m]), rep.source)
    # work in float32 when the data are float32 (differences of close numbers are exact enough)
    work = np.float32 if rep.dtype == np.float32 and rep._scale == 1.0 else np.float64
    codes_w = codes.astype(work)
    labels = orbits.labels
    rows = chunk_rows(d)
    sq = np.empty(rep.n)  # squared deviation of every point from its orbit's code

    fast = _file_pass_applies(rep, work)

    def run(bounds):
        lo = _file_pass(rep, bounds[0], min(bounds[1], rep.n), labels, codes_w, sq, rows) if fast else bounds[0]
        work_buf = np.empty((rows, d), dtype=work)
        for start, block in rep.chunks(rows=rows, check_finite=False, dtype=work, start=lo, stop=bounds[1]):
            _deviations(block, start, labels, codes_w, rep.source, sq, work_buf)

    n_chunks = -(-rep.n // rows)
    if threads > 1 and n_chunks > 1 and rep._key is None:
        # contiguous ranges, whole chunks each: sequential reads within each thread
        step = -(-n_chunks // threads) * rows
        with ThreadPoolExecutor(max_workers=threads) as ex:
            list(ex.map(run, [(lo, lo + step) for lo in range(0, rep.n, step)]))
    else:
        run((0, rep.n))
    # per-orbit reductions, once, over the N deviations
    acc_sum = np.bincount(labels, weights=sq, minlength=C)
    acc_max = np.zeros(C)
    np.maximum.at(acc_max, labels, sq)
    acc_arg = first.copy()
    hit = np.flatnonzero((sq == acc_max[labels]) & (acc_max[labels] > 0))
    acc_arg[labels[hit[::-1]]] = hit[::-1]  # the smallest index attaining the maximum wins
    sizes = orbits.sizes()
    return OrbitStats(
        codes=codes,
        first=first,
        max_dev=np.sqrt(acc_max),
        mean_sq_dev=acc_sum / sizes,
        argmax_dev=acc_arg,
        sizes=sizes,
        mass=orbits.orbit_mass(),
    )


def largest_norm_points(rep: Representation, orbits: Orbits) -> np.ndarray:
    """Each orbit's point of largest norm (the smallest index among equal norms): one pass over ``rep``.

    An order-free choice of codes: it depends on the set of points of each orbit, not on the order in which
    they are listed (ties between distinct points of equal norm aside, which invariance up to positive
    scaling, ``ray_deviation`` ≤ tol, puts within tol of each other). ``linear-nobias`` measures its
    conditions on these points when strict invariance fails (theory/statements.md S1.4: the conditions are
    unchanged by a positive rescaling of each code, and a point that is a positive multiple of its orbit's
    largest one is no evidence against idealness)."""
    sq = np.empty(rep.n)
    for start, block in rep.chunks():
        sq[start : start + len(block)] = np.einsum("ij,ij->i", block, block)
    best = np.full(orbits.n_orbits, -1.0)
    np.maximum.at(best, orbits.labels, sq)
    arg = orbits.first_points().copy()
    hit = np.flatnonzero(sq == best[orbits.labels])
    arg[orbits.labels[hit[::-1]]] = hit[::-1]  # the smallest index attaining the maximum wins
    return arg


def ray_deviation(rep: Representation, orbits: Orbits, codes: np.ndarray) -> tuple[float, int, int]:
    """max over points of ‖ẑ_x − r̂_{M(x)}‖ (unit vectors; a zero vector counts as distance 2 from
    any direction unless both are zero), with the orbit and the point attaining it.

    Homogeneous probes argmax(W z) cannot tell z from c·z, c > 0, so for ``linear-nobias`` an orbit
    whose points are positive multiples of its code acts as an invariant one (a second pass, run only
    when the strict invariance test fails)."""
    norms = np.linalg.norm(codes, axis=1)
    unit = np.divide(codes, norms[:, None], out=np.zeros_like(codes), where=norms[:, None] > 0)
    best, arg = -1.0, 0
    for start, block in rep.chunks():
        lab = orbits.labels[start : start + len(block)]
        zn = np.linalg.norm(block, axis=1)
        zu = np.divide(block, zn[:, None], out=np.zeros_like(block), where=zn[:, None] > 0)
        chord = np.linalg.norm(zu - unit[lab], axis=1)
        both_zero = (zn == 0) & (norms[lab] == 0)
        one_zero = (zn == 0) != (norms[lab] == 0)
        chord = np.where(both_zero, 0.0, np.where(one_zero, 2.0, chord))
        i = int(np.argmax(chord))
        if chord[i] > best:
            best, arg = float(chord[i]), start + i
    return best, int(orbits.labels[arg]), arg
