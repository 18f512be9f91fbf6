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

import json
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

import numpy as np

from . import kernels
from .errors import InputError

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
    names: List[Any] = field(default_factory=list)
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


def _short(v, limit: int = 60) -> str:
    """repr of a value for a one-line message, cut to ``limit`` characters."""
    text = repr(v)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


INT64_MAX = 2**63 - 1


def _int_array(values, what: str, source: str) -> np.ndarray:
    """A flat list of integers (JSON booleans excluded) as int64; one InputError line otherwise."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise InputError(f"{source}: {what} must be a flat sequence of integers, got dtype {values.dtype} and shape {values.shape}")
        if values.dtype.kind == "u" and values.size and values.max() > INT64_MAX:
            raise InputError(f"{source}: {what} holds {int(values.max())}, beyond the int64 range")
        return values.astype(np.int64)
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{source}: {what} must be a list, got {type(values).__name__}")
    if not set(map(type, values)) <= {int}:  # one C-level pass; the loop below only names the culprit
        for i, v in enumerate(values):
            if not _is_int(v):
                raise InputError(f"{source}: {what}[{i}] = {_short(v)} is not an integer")
    return _as_int64(values, what, source)


def _as_int64(values, what: str, source: str) -> np.ndarray:
    """Python integers as int64, refusing any outside its range (NumPy would turn them into floats)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    try:
        arr = np.asarray(values)
    except OverflowError:
        arr = None
    if arr is None or arr.dtype != np.int64:
        big = next(v for v in values if not -INT64_MAX - 1 <= v <= INT64_MAX)
        raise InputError(f"{source}: {what} holds the integer {big}, beyond the int64 range")
    return arr


def _parse_p(p, n: int, source: str) -> np.ndarray:
    if not isinstance(p, (list, tuple, np.ndarray)):
        raise InputError(f"{source}: \"p\" must be a list of {n} probabilities")
    if len(p) != n:
        raise InputError(f"{source}: \"p\" has {len(p)} entries but there are {n} points")
    if isinstance(p, np.ndarray):
        if p.ndim != 1 or p.dtype.kind not in "fiu":
            raise InputError(f"{source}: \"p\" must be a flat array of real numbers, got dtype {p.dtype}")
    elif not set(map(type, p)) <= {int, float}:  # one C-level pass; the search below names the culprit
        bad = next(((i, v) for i, v in enumerate(p) if isinstance(v, bool) or not isinstance(v, numbers.Real)), None)
        if bad is not None:  # NumPy scalars (np.float64, np.int64) are numbers.Real and pass
            raise InputError(f"{source}: \"p\"[{bad[0]}] = {_short(bad[1])} is not a number")
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{source}: \"p\" must hold finite numbers") from None
    if not np.isfinite(arr).all():
        raise InputError(f"{source}: \"p\" holds a non-finite value at index {int(np.argmin(np.isfinite(arr)))}")
    if (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise InputError(f"{source}: \"p\" is not a distribution: p[{i}] = {arr[i]} is negative")
    total = float(arr.sum())
    if abs(total - 1.0) > P_TOL:
        raise InputError(f"{source}: \"p\" is not a distribution: it sums to {total:.9g}, not 1")
    return arr / total


def orbits_from_labels(labels: Sequence, p=None, source: str = "<labels>", copy: bool = True) -> Orbits:
    """Orbits from a per-point label sequence (ints or strings). ``copy=False`` lets the orbits keep
    an int64 label array 0..C-1 as given (for arrays the caller owns and will not modify)."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1:
            raise InputError(f"{source}: orbit labels must be a flat sequence, got shape {labels.shape}")
        raw = labels
        if raw.dtype.kind not in "iuUS":
            if raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all() and (np.abs(raw) <= 2.0**53).all():
                raw = raw.astype(np.int64)  # integral floats below 2^53 are exact integers
            else:
                raise InputError(f"{source}: orbit labels must be integers or strings, got dtype {raw.dtype}")
    else:
        if not isinstance(labels, (list, tuple)):
            raise InputError(f"{source}: \"labels\" must be a list, got {type(labels).__name__}")
        kinds = set()
        for i, v in enumerate(labels):
            if _is_int(v):
                kinds.add("int")
            elif isinstance(v, str):
                kinds.add("str")
            else:
                raise InputError(f"{source}: labels[{i}] = {_short(v)} is not an integer or a string")
        if len(kinds) > 1:
            raise InputError(f"{source}: \"labels\" mixes integers and strings")
        raw = np.asarray(labels) if "str" in kinds else _as_int64(labels, "\"labels\"", source)
    if raw.shape[0] == 0:
        raise InputError(f"{source}: no points (empty labels)")
    n = raw.shape[0]
    if raw.dtype.kind in "iu" and raw.min() >= 0 and raw.max() < 4 * n + 1024:
        present = np.bincount(raw) > 0  # O(N) relabelling, same result as np.unique
        names = np.flatnonzero(present)
        inv = raw if present.all() else (np.cumsum(present) - 1)[raw]  # labels 0..C-1 already
    else:
        names, inv = np.unique(raw, return_inverse=True)
    pp = _parse_p(p, n, source) if p is not None else np.full(n, 1.0 / n)
    out = np.ascontiguousarray(inv, dtype=np.int64).ravel()
    if copy and isinstance(labels, np.ndarray) and np.may_share_memory(out, labels):
        out = out.copy()  # never alias the caller's array
    return Orbits(labels=out, n_orbits=len(names), p=pp, names=names.tolist(), source=source, p_given=p is not None)


def orbits_from_partition(parts, n: Optional[int] = None, p=None, source: str = "<orbits>") -> Orbits:
    """Orbits from a list of lists of point indices, which must partition 0..N-1."""
    if not isinstance(parts, (list, tuple)):
        raise InputError(f"{source}: \"orbits\" must be a list of lists of point indices")
    if not parts:
        raise InputError(f"{source}: \"orbits\" is empty")
    arrays = []
    for k, part in enumerate(parts):
        if not isinstance(part, (list, tuple, np.ndarray)):
            raise InputError(f"{source}: orbits[{k}] must be a list of point indices, got {type(part).__name__}")
        if len(part) == 0:
            raise InputError(f"{source}: orbits[{k}] is empty; every orbit needs at least one point")
        arrays.append(_int_array(part, f"orbits[{k}]", source))
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
        raise InputError(f"{source}: point {int(missing[0])}{more} is in no orbit; the orbits must cover all {n} points")
    pp = _parse_p(p, n, source) if p is not None else np.full(n, 1.0 / n)
    return Orbits(labels=labels, n_orbits=len(arrays), p=pp, names=list(range(len(arrays))), source=source, p_given=p is not None)


def orbits_from_pairs(pairs, n, p=None, source: str = "<pairs>") -> Orbits:
    """Orbits as the connected components of augmentation pairs over points 0..n-1."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not _is_int(n) or n < 1:
        raise InputError(f"{source}: \"n\" (the number of points) must be a positive integer, got {_short(n)}")
    if not isinstance(pairs, (list, tuple, np.ndarray)):
        raise InputError(f"{source}: \"pairs\" must be a list of [i, j] pairs")
    if len(pairs) == 0:
        arr = np.zeros((0, 2), dtype=np.int64)
    else:
        for k, pr in enumerate(pairs):
            if not isinstance(pr, (list, tuple, np.ndarray)) or len(pr) != 2:
                raise InputError(f"{source}: pairs[{k}] = {_short(pr)} is not a pair [i, j]")
            if not (_is_int(pr[0]) and _is_int(pr[1])):
                raise InputError(f"{source}: pairs[{k}] = {_short(pr)} must hold two integer point indices")
        arr = _as_int64([i for pr in pairs for i in pr], "\"pairs\"", source).reshape(-1, 2)
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
    return Orbits(labels=labels, n_orbits=len(order), p=pp, names=first[order].tolist(), source=source, p_given=p is not None)


_FORMS = ("orbits", "labels", "pairs")
_ALLOWED = {"orbits": {"orbits", "p"}, "labels": {"labels", "p"}, "pairs": {"pairs", "n", "p"}}


def orbits_from_json_obj(obj, source: str = "<orbits>", n: Optional[int] = None) -> Orbits:
    """Validate a parsed orbits JSON object (one of the three forms) and build :class:`Orbits`."""
    if not isinstance(obj, dict):
        raise InputError(f"{source}: expected a JSON object with one of the keys {', '.join(_FORMS)}, got {type(obj).__name__}")
    forms = [k for k in _FORMS if k in obj]
    if len(forms) != 1:
        what = "none" if not forms else " and ".join(forms)
        raise InputError(f"{source}: expected exactly one of the keys \"orbits\", \"labels\", \"pairs\"; found {what}")
    form = forms[0]
    extra = set(obj) - _ALLOWED[form]
    if extra:
        raise InputError(f"{source}: unknown key {_short(sorted(extra)[0])} for the {form!r} form (allowed: {', '.join(sorted(_ALLOWED[form]))})")
    p = obj.get("p")
    if "p" in obj and p is None:
        raise InputError(f"{source}: \"p\" is null; give a list of probabilities or leave the key out")
    if form == "orbits":
        return orbits_from_partition(obj["orbits"], n=n, p=p, source=source)
    if form == "labels":
        return orbits_from_labels(obj["labels"], p=p, source=source)
    if "n" not in obj:
        raise InputError(f"{source}: the \"pairs\" form needs \"n\", the number of points")
    if n is not None and _is_int(obj["n"]) and obj["n"] != n:  # before anything of size n is allocated
        raise InputError(f"{source}: \"n\" = {obj['n']} points but the representation has N = {n} rows")
    return orbits_from_pairs(obj["pairs"], obj["n"], p=p, source=source)


def read_json(path: str | os.PathLike, what: str):
    """Parse a JSON file; every failure is one InputError line (with line/column for syntax errors)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a {what} JSON file")
    if not os.path.isfile(path):
        raise InputError(f"{path}: not a regular file (a pipe or a device?); expected a {what} JSON file")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; expected a {what} JSON file") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply") from None


def _no_duplicate_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {dup!r} in a JSON object")
    return obj


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name} (NaN/Infinity are not allowed)")


def _fast_integer_labels(path: str) -> Optional[np.ndarray]:
    """Fast path for the common large file ``{"labels": [int, int, ...]}`` (no "p"): parse the list
    with NumPy instead of building a million Python ints.

    Returns None whenever the file is anything else, so that the general parser (and its messages)
    handles it: other keys or characters, anything outside JSON's grammar for a list of integers
    (``np.fromstring`` alone would accept a leading zero, a trailing comma, a lone minus), and
    integers of 18 digits or more. The compiled ``parse_int_list`` (``idealssl/_kernels.c``) checks
    and parses in one pass; the NumPy path below gives the same answers."""
    import re
    import warnings

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    head = re.match(rb'\s*\{\s*"labels"\s*:\s*\[', raw[:256])
    tail = re.search(rb'\]\s*\}\s*\Z', raw[-256:])
    if not head or not tail:
        return None
    body = raw[head.end():len(raw) - len(raw[-256:]) + tail.start()]
    parse = kernels.get("parse_int_list")
    if parse is not None:  # the compiled parser checks the same grammar in one pass
        arr = np.empty(body.count(b",") + 1, dtype=np.int64)
        return arr if parse(body, arr) == len(arr) else None
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


def load_orbits(path_or_obj, n: Optional[int] = None) -> Orbits:
    """Load orbits from a JSON file path, a parsed JSON dict, an :class:`Orbits`, or a label array.

    Parameters
    ----------
    path_or_obj : path, dict, Orbits, sequence of labels, or list of lists (a partition)
    n : int, optional
        Number of points of the representation; when given, the orbit structure must cover exactly
        ``n`` points (else InputError "N mismatch").
    """
    if n is not None and not _is_int(n):
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
    elif isinstance(path_or_obj, (list, tuple)) and path_or_obj and all(isinstance(x, (list, tuple, np.ndarray)) for x in path_or_obj):
        orb = orbits_from_partition(path_or_obj, n=n)
    else:
        orb = orbits_from_labels(path_or_obj if isinstance(path_or_obj, (list, tuple)) else np.asarray(path_or_obj))
    if n is not None and orb.n != n:
        raise InputError(f"{orb.source}: the orbits cover {orb.n} points but the representation has N = {n} rows")
    return orb


# ---------------------------------------------------------------------------------------- tasks
@dataclass
class Task:
    """An invariant downstream task: one label per orbit.

    Attributes
    ----------
    orbit_labels : ndarray of int64, shape (C,)
        Class index (0..K-1) of each orbit.
    classes : list
        The user's label values, ``classes[k]`` for index k.
    """

    orbit_labels: np.ndarray
    classes: List[Any]

    def point_labels(self, orbits: Orbits) -> np.ndarray:
        return self.orbit_labels[orbits.labels]


def _label_values(values, what: str, source: str) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuU":
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{source}: {what} must be a list")
    for i, v in enumerate(values):
        if not (_is_int(v) or isinstance(v, str)):
            raise InputError(f"{source}: {what}[{i}] = {_short(v)} is not an integer or a string")
    if len({type(v) is str for v in values}) > 1:
        raise InputError(f"{source}: {what} mixes integers and strings")
    if values and not isinstance(values[0], str):
        return _as_int64([int(v) for v in values], what, source)
    return np.asarray(values)


def load_task(path_or_obj, orbits: Orbits) -> Task:
    """Load a task JSON (``{"orbit_labels": [...]}`` of length C or ``{"point_labels": [...]}`` of length N).

    Point labels must be constant on each orbit (an invariant task), otherwise InputError names the
    orbit and the two points that disagree.
    """
    if isinstance(path_or_obj, dict):
        obj, source = path_or_obj, "<task>"
    elif isinstance(path_or_obj, (str, os.PathLike)):
        source = os.fspath(path_or_obj)
        obj = read_json(source, "task")
    elif isinstance(path_or_obj, (list, tuple, np.ndarray)):  # labels: per orbit (length C) or per point (N)
        source = "<task>"
        obj = {"orbit_labels" if len(path_or_obj) == orbits.n_orbits else "point_labels": path_or_obj}
    else:
        raise InputError(f"a task is a JSON path, a dict or a list of labels, got {type(path_or_obj).__name__}")
    if not isinstance(obj, dict) or len({"orbit_labels", "point_labels"} & set(obj)) != 1:
        raise InputError(f"{source}: a task is a JSON object with exactly one of \"orbit_labels\" (length C) or \"point_labels\" (length N)")
    extra = set(obj) - {"orbit_labels", "point_labels"}
    if extra:
        raise InputError(f"{source}: unknown key {_short(sorted(extra)[0])} in the task")
    if "orbit_labels" in obj:
        vals = _label_values(obj["orbit_labels"], "orbit_labels", source)
        if len(vals) != orbits.n_orbits:
            raise InputError(f"{source}: \"orbit_labels\" has {len(vals)} entries but there are C = {orbits.n_orbits} orbits")
        classes, idx = np.unique(vals, return_inverse=True)
        return Task(orbit_labels=idx.ravel().astype(np.int64), classes=classes.tolist())
    vals = _label_values(obj["point_labels"], "point_labels", source)
    if len(vals) != orbits.n:
        raise InputError(f"{source}: \"point_labels\" has {len(vals)} entries but there are N = {orbits.n} points")
    classes, idx = np.unique(vals, return_inverse=True)
    classes = classes.tolist()  # plain Python values, for messages and reports
    idx = idx.ravel().astype(np.int64)
    first = orbits.first_points()
    per_orbit = idx[first]
    bad = np.flatnonzero(per_orbit[orbits.labels] != idx)
    if len(bad):
        i = int(bad[0])
        m = int(orbits.labels[i])
        raise InputError(f"{source}: not an invariant task: points {int(first[m])} and {i} are in the same orbit but labelled {classes[per_orbit[m]]!r} and {classes[idx[i]]!r}")
    return Task(orbit_labels=per_orbit, classes=classes)
