"""A finite ISSL problem: N points, their augmentation orbits (the classes of ~), a marginal p.

Orbits reach idealssl in one of three JSON forms (schema: ``idealssl/schemas/orbits.schema.json``):

* ``{"orbits": [[0, 1, 2], [3, 4], ...]}`` — a partition of the point indices 0..N-1;
* ``{"labels": [m_0, ..., m_{N-1}]}`` — the orbit of each point (integers or strings);
* ``{"pairs": [[i, j], ...], "n": N}`` — augmentation pairs x ~ x+; the orbits are the connected
  components of the pair graph (the equivalence relation they generate), and a point in no pair is
  an orbit of its own.

Each may carry ``"p"``: per-point probabilities (non-negative, summing to 1; default uniform).

Orbit numbering (used by reports and certificates): for ``orbits``, orbit k is the k-th list; for
``labels``, the distinct label values in sorted order; for ``pairs``, components in the order of their
smallest point index. :attr:`Orbits.names` keeps the user's identifiers.

All validation lives here, and every failure is one :class:`~idealssl.errors.InputError` line.
"""

from __future__ import annotations

import numbers
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from . import kernels
from .jsonio import as_int64, encode_labels, int_array, is_int, read_json, short

P_TOL = 1e-6  # tolerance on sum(p) == 1


@dataclass
class Orbits:
    """The partition X/~ of N points into C orbits.

    Attributes
    ----------
    labels : ndarray of int64, shape (N,)
        Orbit index in 0..C-1 of every point (the maximal invariant M).
    n_orbits : int
        C.
    p : ndarray of float64, shape (N,)
        Point probabilities (uniform 1/N by default).
    names : list
        The user's identifier of each orbit (list index, label value or component's first point).
    source : str
        Where the orbits came from, for messages.
    """

    labels: np.ndarray
    n_orbits: int
    p: np.ndarray
    names: list[Any] = field(default_factory=list)
    source: str = "<orbits>"
    p_given: bool = False

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def orbit_mass(self) -> np.ndarray:
        """p_m = sum of p over the points of orbit m."""
        return np.bincount(self.labels, weights=self.p, minlength=self.n_orbits)

    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_orbits)

    def first_points(self) -> np.ndarray:
        """Smallest point index of each orbit."""
        first = np.full(self.n_orbits, self.n, dtype=np.int64)
        np.minimum.at(first, self.labels, np.arange(self.n, dtype=np.int64))
        return first


def _parse_p(p, n: int, source: str) -> np.ndarray:
    if not isinstance(p, (list, tuple, np.ndarray)):
        raise InputError(f'{source}: "p" must be a list of {n} probabilities')
    if len(p) != n:
        raise InputError(f'{source}: "p" has {len(p)} entries but there are {n} points')
    if isinstance(p, np.ndarray):
        if p.ndim != 1 or p.dtype.kind not in "fiu":
            raise InputError(f'{source}: "p" must be a flat array of real numbers, got dtype {p.dtype}')
    elif not set(map(type, p)) <= {int, float}:  # one C-level pass; the search below names the culprit
        bad = next(((i, v) for i, v in enumerate(p) if isinstance(v, bool) or not isinstance(v, numbers.Real)), None)
        if bad is not None:  # NumPy scalars (np.float64, np.int64) are numbers.Real and pass
            raise InputError(f'{source}: "p"[{bad[0]}] = {short(bad[1])} is not a number')
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f'{source}: "p" must hold finite numbers') from None
    if not np.isfinite(arr).all():
        raise InputError(f'{source}: "p" holds a non-finite value at index {int(np.argmin(np.isfinite(arr)))}')
    if (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise InputError(f'{source}: "p" is not a distribution: p[{i}] = {arr[i]} is negative')
    total = float(arr.sum())
    if abs(total - 1.0) > P_TOL:
        raise InputError(f'{source}: "p" is not a distribution: it sums to {total:.9g}, not 1')
    return arr / total


def orbits_from_labels(labels: Sequence | np.ndarray, p=None, source: str = "<labels>", copy: bool = True) -> Orbits:
    """Orbits from a per-point label sequence (ints or strings). ``copy=False`` lets the orbits keep
    an int64 label array 0..C-1 as given (for arrays the caller owns and will not modify)."""
    if isinstance(labels, np.ndarray):
        raw = _label_array(labels, source)
    else:
        if not isinstance(labels, (list, tuple)):
            raise InputError(f'{source}: "labels" must be a list, got {type(labels).__name__}')
        if not labels:
            raise InputError(f"{source}: no points (empty labels)")
        if not set(map(type, labels)) <= {int}:  # strings (compared as given), or a bad value to name
            string_names, codes = encode_labels(labels, "labels", source)
            return _orbits(codes, string_names, p, source)
        raw = as_int64(labels, '"labels"', source)
    if raw.shape[0] == 0:
        raise InputError(f"{source}: no points (empty labels)")
    n = raw.shape[0]
    if raw.dtype.kind in "iu" and raw.min() >= 0 and raw.max() < 4 * n + 1024:
        present = np.bincount(raw) > 0  # O(N) relabelling, same result as np.unique
        names = np.flatnonzero(present)
        inv = raw if present.all() else (np.cumsum(present) - 1)[raw]  # labels 0..C-1 already
    else:
        names, inv = np.unique(raw, return_inverse=True)
    out = np.ascontiguousarray(inv, dtype=np.int64).ravel()
    if copy and isinstance(labels, np.ndarray) and np.may_share_memory(out, labels):
        out = out.copy()  # never alias the caller's array
    return _orbits(out, names.tolist(), p, source)


def _label_array(labels: np.ndarray, source: str) -> np.ndarray:
    """A flat array of integer or string labels as given; integral floats below 2^53 as int64 (exact)."""
    if labels.ndim != 1:
        raise InputError(f"{source}: orbit labels must be a flat sequence, got shape {labels.shape}")
    if labels.dtype.kind in "iuUS":
        return labels
    integral = labels.dtype.kind == "f" and bool(
        np.isfinite(labels).all() and (labels == np.round(labels)).all() and (np.abs(labels) <= 2.0**53).all()
    )
    if not integral:
        raise InputError(f"{source}: orbit labels must be integers or strings, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def _orbits(labels: np.ndarray, names: list, p, source: str) -> Orbits:
    """Orbits from labels 0..C-1 (int64) and the user's name of each orbit, with ``p`` validated."""
    n = len(labels)
    pp = _parse_p(p, n, source) if p is not None else np.full(n, 1.0 / n)
    return Orbits(labels=labels, n_orbits=len(names), p=pp, names=names, source=source, p_given=p is not None)


def orbits_from_partition(parts, n: int | None = None, p=None, source: str = "<orbits>") -> Orbits:
    """Orbits from a list of lists of point indices, which must partition 0..N-1."""
    if not isinstance(parts, (list, tuple)):
        raise InputError(f'{source}: "orbits" must be a list of lists of point indices')
    if not parts:
        raise InputError(f'{source}: "orbits" is empty')
    arrays = []
    for k, part in enumerate(parts):
        if not isinstance(part, (list, tuple, np.ndarray)):
            raise InputError(f"{source}: orbits[{k}] must be a list of point indices, got {type(part).__name__}")
        if len(part) == 0:
            raise InputError(f"{source}: orbits[{k}] is empty; every orbit needs at least one point")
        arrays.append(int_array(part, f"orbits[{k}]", source))
    total = sum(len(a) for a in arrays)
    n = total if n is None else n
    labels = np.full(n, -1, dtype=np.int64)
    for k, a in enumerate(arrays):
        if a.min() < 0 or a.max() >= n:
            bad = int(a[(a < 0) | (a >= n)][0])
            raise InputError(f"{source}: orbits[{k}] holds point {bad}, out of range 0..{n - 1}")
        uniq, counts = np.unique(a, return_counts=True)
        if (counts > 1).any():
            raise InputError(f"{source}: point {int(uniq[counts > 1][0])} is listed twice in orbits[{k}]")
        taken = labels[a] >= 0
        if taken.any():
            i = int(a[taken][0])
            raise InputError(f"{source}: point {i} is in two orbits (orbits[{int(labels[i])}] and orbits[{k}])")
        labels[a] = k
    if (labels < 0).any():
        missing = np.flatnonzero(labels < 0)
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(
            f"{source}: point {int(missing[0])}{more} is in no orbit; the orbits must cover all {n} points"
        )
    pp = _parse_p(p, n, source) if p is not None else np.full(n, 1.0 / n)
    return Orbits(
        labels=labels, n_orbits=len(arrays), p=pp, names=list(range(len(arrays))), source=source, p_given=p is not None
    )


def orbits_from_pairs(pairs, n, p=None, source: str = "<pairs>") -> Orbits:
    """Orbits as the connected components of augmentation pairs over points 0..n-1."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not is_int(n) or n < 1:
        raise InputError(f'{source}: "n" (the number of points) must be a positive integer, got {short(n)}')
    if not isinstance(pairs, (list, tuple, np.ndarray)):
        raise InputError(f'{source}: "pairs" must be a list of [i, j] pairs')
    if len(pairs) == 0:
        arr = np.zeros((0, 2), dtype=np.int64)
    else:
        for k, pr in enumerate(pairs):
            if not isinstance(pr, (list, tuple, np.ndarray)) or len(pr) != 2:
                raise InputError(f"{source}: pairs[{k}] = {short(pr)} is not a pair [i, j]")
            if not (is_int(pr[0]) and is_int(pr[1])):
                raise InputError(f"{source}: pairs[{k}] = {short(pr)} must hold two integer point indices")
        arr = as_int64([i for pr in pairs for i in pr], '"pairs"', source).reshape(-1, 2)
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        k = int(np.argmax(bad.any(axis=1)))
        raise InputError(f"{source}: pairs[{k}] = {arr[k].tolist()} has a point index out of range 0..{n - 1}")
    key = np.sort(arr, axis=1)
    if len(key):
        _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = key[first[counts > 1][0]].tolist()
            raise InputError(f"{source}: duplicate pair {dup} (pairs are unordered; list each once)")
    g = coo_matrix((np.ones(len(arr)), (arr[:, 0], arr[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    # renumber components by their smallest point index
    first = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, comp, np.arange(n))
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = rank[comp].astype(np.int64)
    pp = _parse_p(p, n, source) if p is not None else np.full(n, 1.0 / n)
    return Orbits(
        labels=labels, n_orbits=len(order), p=pp, names=first[order].tolist(), source=source, p_given=p is not None
    )


_FORMS = ("orbits", "labels", "pairs")
_ALLOWED = {"orbits": {"orbits", "p"}, "labels": {"labels", "p"}, "pairs": {"pairs", "n", "p"}}


def orbits_from_json_obj(obj, source: str = "<orbits>", n: int | None = None) -> Orbits:
    """Validate a parsed orbits JSON object (one of the three forms) and build :class:`Orbits`."""
    if not isinstance(obj, dict):
        raise InputError(
            f"{source}: expected a JSON object with one of the keys {', '.join(_FORMS)}, got {type(obj).__name__}"
        )
    forms = [k for k in _FORMS if k in obj]
    if len(forms) != 1:
        what = "none" if not forms else " and ".join(forms)
        raise InputError(f'{source}: expected exactly one of the keys "orbits", "labels", "pairs"; found {what}')
    form = forms[0]
    extra = set(obj) - _ALLOWED[form]
    if extra:
        raise InputError(
            f"{source}: unknown key {short(sorted(extra)[0])} for the {form!r} form (allowed: "
            f"{', '.join(sorted(_ALLOWED[form]))})"
        )
    p = obj.get("p")
    if "p" in obj and p is None:
        raise InputError(f'{source}: "p" is null; give a list of probabilities or leave the key out')
    if form == "orbits":
        return orbits_from_partition(obj["orbits"], n=n, p=p, source=source)
    if form == "labels":
        return orbits_from_labels(obj["labels"], p=p, source=source)
    if "n" not in obj:
        raise InputError(f'{source}: the "pairs" form needs "n", the number of points')
    if n is not None and is_int(obj["n"]) and obj["n"] != n:  # before anything of size n is allocated
        raise InputError(f'{source}: "n" = {obj["n"]} points but the representation has N = {n} rows')
    return orbits_from_pairs(obj["pairs"], obj["n"], p=p, source=source)


def _fast_integer_labels(path: str) -> np.ndarray | None:
    """Fast path for the common large file ``{"labels": [int, int, ...]}`` (no "p"): parse the list
    with NumPy instead of building a million Python ints.

    Returns None whenever the file is anything else, so that the general parser (and its messages)
    handles it: other keys or characters, anything outside JSON's grammar for a list of integers
    (``np.fromstring`` alone would accept a leading zero, a trailing comma, a lone minus), and
    integers of 18 digits or more. The compiled ``parse_int_list`` (``idealssl/_kernels.c``) checks
    and parses in one pass; the NumPy path (:func:`_int_list_numpy`) gives the same answers."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head = re.match(rb'\s*\{\s*"labels"\s*:\s*\[', raw[:256])
    tail = re.search(rb"\]\s*\}\s*\Z", raw[-256:])
    if not head or not tail:
        return None
    body = raw[head.end() : len(raw) - len(raw[-256:]) + tail.start()]
    parse = kernels.get("parse_int_list")
    if parse is not None:  # the compiled parser checks the same grammar in one pass
        arr = np.empty(body.count(b",") + 1, dtype=np.int64)
        return arr if parse(body, arr) == len(arr) else None
    return _int_list_numpy(body)


def _int_list_numpy(body: bytes) -> np.ndarray | None:
    """The integers of ``body`` (the text between ``[`` and ``]``), or None when it is not JSON's list of integers
    (:func:`_fast_integer_labels`'s grammar, checked with NumPy)."""
    if body.translate(None, b"0123456789-, \t\n\r"):
        return None  # another character
    # the grammar, checked on the bytes without whitespace (t): numbers -?digits without leading
    # zeros, separated by single commas (digits separated by whitespace alone are caught by
    # fromstring below, which reads the original text)
    t = np.frombuffer(body.translate(None, b" \t\n\r"), dtype=np.uint8)
    if t.size == 0 or not 48 <= t[-1] <= 57 or not (48 <= t[0] <= 57 or t[0] == 45):
        return None  # empty, or a leading / trailing comma or minus

    def digit_at(i):
        c = t[np.clip(i, 0, t.size - 1)]
        return (i >= 0) & (i < t.size) & (c >= 48) & (c <= 57)

    comma = np.flatnonzero(t == 44)
    minus = np.flatnonzero(t == 45) if b"-" in body else comma[:0]
    zero = np.flatnonzero(t == 48)
    if (
        not digit_at(comma - 1).all()  # ",," or "-,"
        or not (digit_at(comma + 1) | (t[np.minimum(comma + 1, t.size - 1)] == 45)).all()
        or not ((minus == 0) | (t[minus - 1] == 44)).all()  # a minus inside a number
        or (~digit_at(zero - 1) & digit_at(zero + 1)).any()  # a leading zero
    ):
        return None
    if minus.size:  # a minus must touch its digits in the text itself ("- 1" reads as -1)
        u = np.frombuffer(body, dtype=np.uint8)
        after = u[np.minimum(np.flatnonzero(u == 45) + 1, u.size - 1)]
        if ((after < 48) | (after > 57)).any():
            return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # NumPy warns (DeprecationWarning) on unmatched data
            arr = np.fromstring(body.decode("ascii"), dtype=np.int64, sep=",")
    except (ValueError, DeprecationWarning, OverflowError):
        return None  # e.g. "7 8"
    if len(arr) != comma.size + 1 or arr.max() >= 10**17 or arr.min() <= -(10**17):
        return None  # not one integer per comma, or long enough that int64 parsing could saturate
    return arr


def load_orbits(path_or_obj, n: int | None = None) -> Orbits:
    """Load orbits from a JSON file path, a parsed JSON dict, an :class:`Orbits`, or a label array.

    Parameters
    ----------
    path_or_obj : path, dict, Orbits, sequence of labels, or list of lists (a partition)
    n : int, optional
        Number of points of the representation; when given, the orbit structure must cover exactly
        ``n`` points (else InputError "N mismatch").
    """
    if n is not None and not is_int(n):
        raise InputError(f"n (the number of points) must be an integer, got {n!r}")
    if isinstance(path_or_obj, Orbits):
        orb = path_or_obj
    elif isinstance(path_or_obj, dict):
        orb = orbits_from_json_obj(path_or_obj, n=n)
    elif isinstance(path_or_obj, (str, os.PathLike)):
        source = os.fspath(path_or_obj)
        fast = _fast_integer_labels(source) if os.path.isfile(source) and os.path.getsize(source) > (1 << 20) else None
        if fast is not None:
            orb = orbits_from_labels(fast, source=source, copy=False)
        else:
            orb = orbits_from_json_obj(read_json(source, "orbits"), source=source, n=n)
    elif (
        isinstance(path_or_obj, (list, tuple))
        and path_or_obj
        and all(isinstance(x, (list, tuple, np.ndarray)) for x in path_or_obj)
    ):
        orb = orbits_from_partition(path_or_obj, n=n)
    else:
        orb = orbits_from_labels(path_or_obj if isinstance(path_or_obj, (list, tuple)) else np.asarray(path_or_obj))
    if n is not None and orb.n != n:
        raise InputError(f"{orb.source}: the orbits cover {orb.n} points but the representation has N = {n} rows")
    return orb
