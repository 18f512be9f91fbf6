"""One streaming pass over a representation: orbit codes and within-orbit deviations.

For orbit m let r_m = z_{x_m} be the representation of its first point x_m (smallest index), its
*code*. One pass over the rows computes, for every point, the squared deviation
``‖z_x − r_{M(x)}‖²`` and accumulates per orbit its maximum and its sum. This is all the theory
needs (issl-theory.md, Thm 1 and section 5):

* invariance (5.1) holds iff every deviation is 0; we report ``max_x ‖z_x − r_{M(x)}‖`` relative to
  the spread of the codes;
* with the codes being actual points of the problem, every geometric statement about the codes
  (affine dependency, shared codes) is a statement about points, so certificates built on them are
  exact at the point level (no convexity argument needed).

Cost: N·d subtractions and multiply-adds, O(C·d + chunk) memory. The pass reads the file with
``readinto`` in chunks (one reusable buffer), and with ``threads=2`` splits the rows between two
threads (NumPy releases the GIL), each with its own file handle and accumulators.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..problem import Orbits
from ..representation import Representation, _check_finite, _chunk_rows, _read_fully


@dataclass
class OrbitStats:
    """Sufficient statistics of (Z, orbits) for the checker.

    Attributes
    ----------
    codes : ndarray (C, d), float64
        r_m: the representation of the first point of each orbit.
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


def _process(block: np.ndarray, start: int, labels: np.ndarray, codes_w: np.ndarray, source: str, acc_max, acc_sum, acc_arg, work=None):
    lab = labels[start:start + len(block)]
    # gather + subtract into a reused buffer: no fresh multi-MB allocation (and page faults) per chunk
    diff = work[: len(block)] if work is not None else np.empty(block.shape, codes_w.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow in float32 is handled below
        np.take(codes_w, lab, axis=0, out=diff)
        np.subtract(block, diff, out=diff)
        sq = np.einsum("ij,ij->i", diff, diff)
    if not np.isfinite(sq).all():
        _check_finite(block, start, source)  # raises on NaN/inf
        diff = block.astype(np.float64) - codes_w[lab].astype(np.float64)  # overflow in float32
        sq = np.einsum("ij,ij->i", diff, diff)
    sq = sq.astype(np.float64)
    acc_sum += np.bincount(lab, weights=sq, minlength=len(acc_sum))
    new_max = acc_max.copy()
    np.maximum.at(new_max, lab, sq)
    grown = new_max > acc_max
    if grown.any():
        hit = np.flatnonzero(grown[lab] & (sq == new_max[lab]))
        acc_arg[lab[hit]] = start + hit
        acc_max[:] = new_max


def orbit_stats(rep: Representation, orbits: Orbits, threads: int = 2) -> OrbitStats:
    """Compute :class:`OrbitStats` in one pass over ``rep`` (see module docstring).

    Raises
    ------
    InputError
        N mismatch, NaN/inf, truncated file.
    """
    if orbits.n != rep.n:
        raise InputError(f"{orbits.source}: the orbits cover {orbits.n} points but {rep.source} has N = {rep.n} rows")
    C, d = orbits.n_orbits, rep.d
    first = orbits.first_points()
    codes = rep.rows(first)
    if not np.isfinite(codes).all():
        m = int(np.argmax(~np.isfinite(codes).all(axis=1)))
        _check_finite(codes[m:m + 1], int(first[m]), rep.source)
    # work in float32 when the data are float32 (differences of close numbers are exact enough)
    work = np.float32 if rep.dtype == np.float32 else np.float64
    codes_w = codes.astype(work)
    labels = orbits.labels
    rows = _chunk_rows(d)
    streamable = rep._array is None and rep._key is None and not rep._fortran

    def run(ranges):
        acc_max = np.zeros(C)
        acc_sum = np.zeros(C)
        acc_arg = first.copy()
        work_buf = np.empty((rows, d), dtype=work)
        if streamable:
            itemsize = rep.dtype.itemsize
            buf = bytearray(rows * d * itemsize)
            with open(rep._path, "rb") as f:
                for start in ranges:
                    m = min(rows, rep.n - start)
                    f.seek(rep._offset + start * d * itemsize)
                    nbytes = m * d * itemsize
                    got = _read_fully(f, memoryview(buf)[:nbytes])
                    if got != nbytes:
                        raise InputError(f"{rep.source}: file is truncated inside row {start + got // (d * itemsize)}")
                    block = np.frombuffer(buf, dtype=rep.dtype, count=m * d).reshape(m, d)
                    if block.dtype != work:
                        block = block.astype(work)
                    _process(block, start, labels, codes_w, rep.source, acc_max, acc_sum, acc_arg, work_buf)
        else:
            for start, block in rep.chunks(rows=rows, check_finite=False):
                _process(block.astype(work, copy=False), start, labels, codes_w, rep.source, acc_max, acc_sum, acc_arg, work_buf)
        return acc_max, acc_sum, acc_arg

    starts = list(range(0, rep.n, rows))
    if streamable and threads > 1 and len(starts) > 1:
        parts = [starts[i::threads] for i in range(threads)]
        with ThreadPoolExecutor(max_workers=threads) as ex:
            results = list(ex.map(run, parts))
    else:
        results = [run(starts)]
    acc_max = np.zeros(C)
    acc_sum = np.zeros(C)
    acc_arg = first.copy()
    for mx, sm, ag in results:
        acc_sum += sm
        upd = mx > acc_max
        acc_max[upd] = mx[upd]
        acc_arg[upd] = ag[upd]
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
