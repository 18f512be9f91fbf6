"""Reading JSON inputs and validating their values: one :class:`~idealssl.errors.InputError` line per failure.

Shared by :mod:`idealssl.inputs.orbits` and :mod:`idealssl.inputs.tasks`.
"""

from __future__ import annotations

import json
import numbers
import os

import numpy as np

from ..errors import InputError


def short(v, limit: int = 60) -> str:
    """repr of a value for a one-line message, cut to ``limit`` characters."""
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


INT64_MAX = 2**63 - 1


def int_array(values, what: str, source: str) -> np.ndarray:
    """A flat list of integers (JSON booleans excluded) as int64; one InputError line otherwise."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise InputError(
                f"{source}: {what} must be a flat sequence of integers, got dtype {values.dtype} and "
                f"shape {values.shape}"
            )
        if values.dtype.kind == "u" and values.size and values.max() > INT64_MAX:
            raise InputError(f"{source}: {what} holds {int(values.max())}, beyond the int64 range")
        return values.astype(np.int64)
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{source}: {what} must be a list, got {type(values).__name__}")
    if not set(map(type, values)) <= {int}:  # one C-level pass; the loop below only names the culprit
        for i, v in enumerate(values):
            if not is_int(v):
                raise InputError(f"{source}: {what}[{i}] = {short(v)} is not an integer")
    return as_int64(values, what, source)


def as_int64(values, what: str, source: str) -> np.ndarray:
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


def encode_labels(values: list | tuple, what: str, source: str) -> tuple[list, np.ndarray]:
    """Distinct values in sorted order, and the index of each value among them (int64).

    Integers (JSON booleans excluded) or strings, not both. Strings are compared as Python strings, in one pass
    through a dict: a NumPy string array would strip trailing NULs (merging "a\\u0000" with "a") and pad every
    label to the longest one (N times its length in memory).
    """
    kinds = set(map(type, values))
    if not kinds <= {int, str}:
        for i, v in enumerate(values):
            if not (is_int(v) or isinstance(v, str)):
                raise InputError(f"{source}: {what}[{i}] = {short(v)} is not an integer or a string")
        kinds = {str if isinstance(v, str) else int for v in values}
    if len(kinds) > 1:
        raise InputError(f"{source}: {what} mixes integers and strings")
    if kinds != {str}:
        distinct, inv = np.unique(as_int64([int(v) for v in values], what, source), return_inverse=True)
        return distinct.tolist(), inv.ravel().astype(np.int64)
    names = sorted(set(values))
    index = {v: i for i, v in enumerate(names)}
    return names, np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))


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
        seen: set = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {k!r} in a JSON object")
            seen.add(k)
    return obj


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name} (NaN/Infinity are not allowed)")
