"""Invariant downstream tasks: one label per orbit, given per orbit or per point (checked invariant)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from .jsonio import encode_labels, read_json, short
from .orbits import Orbits


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
    classes: list[Any]

    def point_labels(self, orbits: Orbits) -> np.ndarray:
        return self.orbit_labels[orbits.labels]


def _label_values(values, what: str, source: str) -> tuple[list, np.ndarray]:
    """The task's classes (distinct labels, sorted) and each entry's class index."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuU":
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{source}: {what} must be a list")
    return encode_labels(values, what, source)


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
        raise InputError(
            f'{source}: a task is a JSON object with exactly one of "orbit_labels" (length C) or '
            '"point_labels" (length N)'
        )
    extra = set(obj) - {"orbit_labels", "point_labels"}
    if extra:
        raise InputError(f"{source}: unknown key {short(sorted(extra)[0])} in the task")
    if "orbit_labels" in obj:
        classes, idx = _label_values(obj["orbit_labels"], "orbit_labels", source)
        if len(idx) != orbits.n_orbits:
            raise InputError(
                f'{source}: "orbit_labels" has {len(idx)} entries but there are C = {orbits.n_orbits} orbits'
            )
        return Task(orbit_labels=idx, classes=classes)
    classes, idx = _label_values(obj["point_labels"], "point_labels", source)
    if len(idx) != orbits.n:
        raise InputError(f'{source}: "point_labels" has {len(idx)} entries but there are N = {orbits.n} points')
    first = orbits.first_points()
    per_orbit = idx[first]
    bad = np.flatnonzero(per_orbit[orbits.labels] != idx)
    if len(bad):
        i = int(bad[0])
        m = int(orbits.labels[i])
        raise InputError(
            f"{source}: not an invariant task: points {int(first[m])} and {i} are in the same orbit but "
            f"labelled {classes[per_orbit[m]]!r} and {classes[idx[i]]!r}"
        )
    return Task(orbit_labels=per_orbit, classes=classes)
