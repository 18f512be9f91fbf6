"""Files written whole or not at all, and never through a symlink: the one writer of the files idealssl leaves for
a user (run files, checkpoints, the check's orbit set and report, figures, exported worlds, results).

* Atomic: the bytes go to a temporary file in the destination's folder, named ``.NAME.XXXXXXXX.idealssl.tmp``
  (created with ``O_CREAT | O_EXCL``, so never through anything planted there), are written, flushed to the disk
  (``fsync``), and ``os.replace`` puts the file in place. A reader sees the old file or the new one, never a part;
  a process killed while writing leaves the old file and a temporary file that :func:`remove_temps` recognises by
  its name (and by nothing else: a user's ``.notes.tmp`` is not ours).
* A set of files (:func:`write_files`, e.g. ``check/representation.npy`` with its ``orbits.json``) is staged
  first, every file to its temporary name, and renamed into place only when all of them are written: a failure
  leaves the previous set untouched, never a new representation beside old orbits.
* No symlink target is written: ``os.replace`` replaces a symlink planted at the destination by the new file.
  (A symlinked *folder* on the way is followed: that is where the user put the folder.)
  :func:`open_append` (``metrics.jsonl``) opens with ``O_NOFOLLOW`` and refuses a symlink; :func:`real_folder`
  refuses a run folder (``check/``, ``plots/``) planted as a symlink.
* Failures are one line, :class:`WriteError` (an :class:`~idealssl.errors.InputError`: exit 2), with the temporary
  file removed: a full disk (``ENOSPC``, ``EDQUOT``) says "no space left on the device", a file size limit
  (``EFBIG``, ``ulimit -f``) says so, any other ``OSError`` says "cannot write the WHAT PATH: REASON"; in each case
  the previous file is kept.

The writers take bytes (NumPy's ``np.save``, torch's ``torch.save`` and matplotlib's ``savefig`` write into memory
first: :func:`npy_bytes`), and write them with ``os.write`` (:func:`_write_all`).
"""

from __future__ import annotations

import errno
import io
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from .errors import InputError

#: the suffix of this writer's temporary files (``.NAME.XXXXXXXX.idealssl.tmp``)
TEMP_SUFFIX = ".idealssl.tmp"
_TEMP_RE = re.compile(r"\..+\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX))
_FULL = (errno.ENOSPC, errno.EDQUOT)


class WriteError(InputError):
    """A file could not be written (full disk, size limit, permissions, read-only file system); one line."""


def is_temp(name: str) -> bool:
    """Whether ``name`` is a temporary file of this writer (``.NAME.XXXXXXXX.idealssl.tmp``)."""
    return _TEMP_RE.fullmatch(name) is not None


def _reason(exc: OSError) -> str:
    if exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_error(exc: OSError, path: Path, what: str) -> WriteError:
    """The one-line :class:`WriteError` for an ``OSError`` met while writing ``path``."""
    if exc.errno in _FULL:
        return WriteError(
            f"no space left on the device while writing {path} ({_reason(exc)}); the previous file is kept"
        )
    if exc.errno == errno.EFBIG:
        return WriteError(
            f"the file size limit (ulimit -f) stopped the write of {path} ({_reason(exc)}); the previous file is kept"
        )
    return WriteError(f"cannot write the {what} {path}: {_reason(exc)}")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """Every byte of ``data`` to ``fd`` (``os.write`` may write fewer bytes than asked)."""
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stage(path: Path, data: bytes | memoryview, what: str) -> str:
    """``data`` written and synced to a new temporary file beside ``path``; its name."""
    if path.is_dir() and not path.is_symlink():
        raise WriteError(f"{path} is a directory; give a file name for the {what}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=str(path.parent))
    except OSError as exc:
        raise write_error(exc, path, what) from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException as exc:
        _unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(exc, path, what) from None
        raise
    return tmp


def _unlink(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _sync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_files(files: Mapping[Path | str, bytes | memoryview], what: str = "file") -> None:
    """Write every ``path: bytes`` of ``files`` atomically, as a set: all are staged to temporary files first and
    renamed into place only when every one is written (a failure leaves each previous file untouched)."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            staged.append((_stage(Path(path), data, what), Path(path)))
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise write_error(exc, path, what) from None
    except BaseException:
        for tmp, _ in staged:
            _unlink(tmp)
        raise
    for folder in {p.parent for _, p in staged}:
        _sync_dir(folder)


def real_folder(path: Path | str, what: str = "folder") -> Path:
    """``path`` as a real folder of the run (created if absent); a symlink planted there is refused, since writing
    the run's files through it would replace files of the same names in the folder it points to."""
    path = Path(path)
    if path.is_symlink():
        raise WriteError(f"{path} is a symlink; refusing to write the {what} through it (remove the link)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, path, what) from None
    return path


def write_bytes(path: Path | str, data: bytes | memoryview, what: str = "file") -> None:
    """Write ``data`` to ``path`` atomically, never through a symlink planted at ``path``."""
    write_files({Path(path): data}, what)


def write_text(path: Path | str, text: str, what: str = "file") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, never through a symlink planted at ``path``."""
    write_files({Path(path): text.encode()}, what)


def npy_bytes(array: Any) -> memoryview:
    """``array`` in the ``.npy`` format (``np.save``, ``allow_pickle=False``), in memory."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getbuffer()


def open_append(path: Path | str, what: str = "file") -> IO[str]:
    """``path`` opened for appending text (created if missing); a symlink there is refused, never followed."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WriteError(f"{path} is a symlink; the {what} is never written through one (remove it)") from None
        raise write_error(exc, path, what) from None
    return os.fdopen(fd, "a")


def remove_temps(folder: Path | str) -> list[Path]:
    """Remove this writer's temporary files in ``folder`` (left by a process killed while writing); others stay."""
    d = Path(folder)
    gone: list[Path] = []
    if d.is_dir():
        for p in d.iterdir():
            if is_temp(p.name) and p.is_file() and not p.is_symlink():
                p.unlink()
                gone.append(p)
    return gone
