"""Claiming an output folder, for every command that writes one (``idealssl train``'s run directory, ``idealssl
bench``'s exports): a non-empty folder is refused, or with ``--overwrite`` its contents are moved aside, never
deleted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from .errors import InputError

#: the run-directory lock's file name (:mod:`idealssl.train.runlock`); never counted as content, never moved
LOCK_NAME = ".idealssl-lock"


def is_nonempty(d: Path) -> bool:
    """Whether ``d`` is a folder holding anything besides the run-directory lock."""
    return d.is_dir() and any(p.name != LOCK_NAME for p in d.iterdir())


def claim_empty(
    run_dir: Path,
    overwrite: bool,
    *,
    is_ours: Callable[[Path], bool],
    what: str,
    hint: str = "",
) -> Path | None:
    """Refuse a non-empty ``run_dir``, or (``overwrite``) move its contents aside; returns where they went.

    ``--overwrite`` moves every entry but the lock into ``NAME.replaced-<UTC time>`` beside the (resolved) folder,
    and refuses the working directory or a folder above it, and a folder that ``is_ours`` does not recognise
    (``what``): nothing is deleted, nothing that this command did not write is moved."""
    if (run_dir.exists() or run_dir.is_symlink()) and not run_dir.is_dir():
        raise InputError(f"--out {run_dir} exists and is not a directory")
    if not is_nonempty(run_dir):
        return None
    if not overwrite:
        raise InputError(
            f"--out {run_dir} is not empty (an earlier run?); {hint}start over with "
            f"--overwrite (moves its contents to {run_dir.name}.replaced-<time>), or pick another --out"
        )
    real = run_dir.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise InputError(
            f"--overwrite: --out {run_dir} is the working directory or a folder above it ({real}); refusing to "
            f"move it aside: pick another --out"
        )
    if not is_ours(real):
        raise InputError(
            f"--overwrite: --out {run_dir} does not look like {what}; it is left as it is: move its contents "
            f"yourself or pick another --out"
        )
    return _move_aside(real)


def _move_aside(real: Path) -> Path:
    """Every entry of ``real`` but the lock into a new ``NAME.replaced-<UTC time>[-i]`` beside it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    dest, i = real.with_name(f"{real.name}.replaced-{stamp}"), 1
    try:
        while True:
            try:
                dest.mkdir()
                break
            except FileExistsError:
                dest, i = real.with_name(f"{real.name}.replaced-{stamp}-{i}"), i + 1
        for entry in sorted(real.iterdir()):
            if entry.name != LOCK_NAME:
                entry.rename(dest / entry.name)
    except OSError as exc:
        raise InputError(f"--overwrite: cannot move the contents of {real} to {dest}: {exc.strerror or exc}") from None
    return dest
