"""Where a run writes: the rules that keep earlier runs intact.

* One process writes into a run directory at a time: its lock (:mod:`idealssl.train.runlock`) is taken before
  anything of the run is read or written, by ``train`` (fresh, resumed or branched) and by ``eval`` / ``export`` /
  ``plot`` when they write into the run; a second one is refused with one line naming the holder.
* A fresh run (no ``--resume``) needs an empty or new ``--out`` (created with its parents; one line when it cannot
  be: under a file, on a read-only file system). A non-empty one is refused (one line naming it) unless
  ``--overwrite``, which moves the old contents to ``OUT.replaced-<UTC time>`` and says where: nothing is deleted,
  nothing is moved silently. ``--overwrite`` refuses the working directory and the folders above it, and a folder
  that is not a run directory (:func:`is_run_dir`).
* ``eval``, ``export`` and ``plot`` never write over the checkpoint they read or one of the run's own files
  (:data:`RUN_FILES`; paths, symlinks and hard links resolved: :func:`guard_output`), except the files the command
  itself owns there (``eval-<protocol>.json``, ``check/``, ``check-projector/``, ``plots/``).
* ``--resume`` (bare) continues ``--out``'s ``checkpoints/last.pt``, or starts that run over when it has
  none (a process killed before its first checkpoint).
* ``--resume FILE`` continues FILE's run directory (FILE must be ``RUN/checkpoints/NAME``).
  ``--resume FILE --out DIR`` (DIR another directory) branches: DIR (empty or new, or ``--overwrite``)
  receives the continued run, starting with FILE's run's metrics up to the checkpoint's step; FILE's run
  is not touched.
* On every resume ``metrics.jsonl`` is cut back to the records up to the checkpoint's step (0 without
  one) and the temporary files of a process killed while writing are removed (the writer's own names only:
  :func:`idealssl.atomic.remove_temps`).
* What configuration a resume runs with (the checkpoint's, and what the command may change in it) is
  :mod:`idealssl.train.resume`'s.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path

from .. import atomic, outdir
from ..errors import InputError
from ..outdir import LOCK_NAME
from .runlock import RunLock


def is_run_dir(d: Path) -> bool:
    """Whether ``d`` looks like a folder ``idealssl train`` wrote: ``config.yaml`` with ``env.json``,
    ``metrics.jsonl`` or ``checkpoints/``."""
    return (d / "config.yaml").is_file() and any((d / n).exists() for n in ("env.json", "metrics.jsonl", "checkpoints"))


def claim_empty(run_dir: Path, overwrite: bool) -> Path | None:
    """:func:`idealssl.outdir.claim_empty` for a run directory of ``idealssl train``."""
    return outdir.claim_empty(
        run_dir,
        overwrite,
        is_ours=is_run_dir,
        what="a run directory written by idealssl train",
        hint="continue it with --resume, ",
    )


#: what ``idealssl train`` writes into a run directory (paths relative to it, ``fnmatch`` patterns)
RUN_FILES = (
    "config.yaml",
    "env.json",
    "metrics.jsonl",
    "metrics.csv",
    "results.json",
    "wandb_run_id",
    LOCK_NAME,
    "eval-*.json",
    "checkpoints/*",
    "check/*",
    "check-projector/*",
    "plots/*",
    "tb/*",
    "wandb/*",
)


def _protected(rel: str, own: tuple[str, ...]) -> bool:
    return any(fnmatch(rel, p) for p in RUN_FILES) and not any(fnmatch(rel, p) for p in own)


def enclosing_run(path: Path, levels: int = 3) -> Path | None:
    """The run directory (:func:`is_run_dir`, or one holding a lock) that ``path`` lies in, up to ``levels`` folders
    above it; None when there is none."""
    for d in list(Path(path).parents)[:levels]:
        if is_run_dir(d) or (d / LOCK_NAME).exists():
            return d
    return None


def guard_output(out: Path, inputs: list[Path], run_dir: Path | None, own: tuple[str, ...] = ()) -> Path | None:
    """Refuse (one-line :class:`InputError`) an output ``out`` that is one of ``inputs``, one of ``run_dir``'s own
    files (:data:`RUN_FILES`, other than the patterns ``own`` this command writes) or one of another run
    directory's files (:func:`enclosing_run`: no exception there), compared after resolving paths and symlinks and,
    for an existing ``out``, by file identity (hard links). Returns the run directory ``out`` lies in, if any."""
    real = Path(out).resolve()
    for src in inputs:
        if real == Path(src).resolve() or (real.exists() and Path(src).exists() and os.path.samefile(real, src)):
            raise InputError(f"--out {out} is the file this command reads ({src}); give another --out")
    base = Path(run_dir).resolve() if run_dir is not None else None
    home = base if base is not None and base in real.parents else enclosing_run(real)
    if home is not None and _protected(real.relative_to(home).as_posix(), own if home == base else ()):
        raise InputError(f"--out {out} is one of the run's own files ({real}); give another --out")
    if base is not None and real.is_file() and real.stat().st_nlink > 1:  # a hard link to one of the run's files
        for p in base.rglob("*"):
            rel = p.relative_to(base).as_posix()
            if p.is_file() and not p.is_symlink() and _protected(rel, own) and os.path.samefile(p, real):
                raise InputError(f"--out {out} is a hard link to the run's {rel}; give another --out")
    return home


@contextmanager
def writing_into(
    run_dir: Path | None, outs: dict[Path, tuple[str, ...]], inputs: list[Path], command: str
) -> Iterator[None]:
    """Guard every output (``path: the run-file patterns this command owns in run_dir``, :func:`guard_output`) and,
    while the body writes, hold the lock of each run directory an output lies in (refused, naming the holder, when
    another process holds it)."""
    homes = {h for o, own in outs.items() if (h := guard_output(o, inputs, run_dir, own)) is not None}
    locks = [RunLock(command) for _ in homes]
    try:
        for lock, home in zip(locks, sorted(homes)):
            note = lock.acquire(home)
            if note:
                print(note, file=sys.stderr, flush=True)
        yield
    finally:
        for lock in locks:
            lock.release()


def read_metrics(path: Path, step: int) -> str:
    """The records of ``path`` with ``step`` at most ``step`` (unreadable or partial lines dropped)."""
    if not path.is_file():
        return ""
    keep = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step", 0), (int, float)) and rec.get("step", 0) <= step:
            keep.append(line)
    return "".join(line + "\n" for line in keep)


def reset_metrics(dest: Path, step: int, source: Path | None = None) -> None:
    """``dest`` := the records of ``source`` (default ``dest``) up to ``step``, written atomically."""
    src = dest if source is None else source
    if src.exists() or dest.exists() or dest.is_symlink():
        atomic.write_text(dest, read_metrics(src, step), "metrics file")
