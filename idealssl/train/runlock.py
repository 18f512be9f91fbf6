"""The run-directory lock: one idealssl process writes into a run directory at a time.

``RUN/.idealssl-lock`` holds one JSON line naming its holder (``pid``, ``host``, the command, the UTC start time)
and carries a POSIX record lock (``fcntl.lockf``) for as long as the holder runs. ``idealssl train`` (fresh,
``--resume``, a branch's new directory) holds it from before the first file it writes until it exits; ``idealssl eval``,
``export`` and ``plot`` hold it while they write into a run. Under DDP only rank 0 holds it.

* Held: another process is refused with one line naming the holder (exit 2), before it reads or writes anything of
  the run. A lock naming a live process on this host counts as held even when the record lock is free (the line
  says which file to delete if that process is not an idealssl run); so does a lock of another host (on a shared
  file system) that its holder refreshed within :data:`STALE_AFTER_S` seconds: the holder refreshes the file's time
  every :data:`HEARTBEAT_S` seconds.
* Stale: a lock left by a process that is no longer running on this host (killed with SIGKILL, power loss), or one
  of another host not refreshed for :data:`STALE_AFTER_S` seconds (a job requeued on another node), is reported on
  one line and taken over.
* Released on every exit path: return, exceptions, Ctrl-C (KeyboardInterrupt unwinds) and SIGTERM (outside the
  training loop, which checkpoints on SIGTERM itself, the holder turns SIGTERM into :class:`Terminated`, exit 143,
  so that the lock is released on the way out). A SIGKILL leaves the file, which the next run finds stale; the
  kernel drops the record lock with the process. Record locks are not inherited by forked DataLoader workers, so a
  killed run's workers never keep its directory locked.
* The holder removes the file on release, and a directory it created for nothing (a run refused during setup).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..outdir import LOCK_NAME

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the pid in the file is the only record
    fcntl = None  # type: ignore[assignment]

#: the holder refreshes the lock file's modification time this often (seconds)
HEARTBEAT_S = 30
#: a lock of another host not refreshed for this long (seconds) is stale
STALE_AFTER_S = 300


class Terminated(SystemExit):
    """SIGTERM while a run directory is locked (outside the training loop): unwinds, releasing the lock; exit 143."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + int(signum))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _record_lock(fd: int) -> bool:
    """Take the record lock on ``fd`` without waiting: False when another process holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        return True  # no record locks on this file system (ENOLCK, EOPNOTSUPP): the pid in the file decides
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_holder(fd: int) -> dict[str, Any] | None:
    """The holder recorded in the file (None when empty); ``{}`` when the file holds something else."""
    raw = os.pread(fd, 4096, 0)
    if not raw.strip():
        return None
    try:
        got = json.loads(raw.decode())
    except (UnicodeDecodeError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def describe(holder: dict[str, Any]) -> str:
    """``pid 123 on host h (idealssl train ..., since 2026-01-01T12:00:00+00:00)``."""
    what = ", ".join(str(holder[k]) for k in ("command", "since") if holder.get(k))
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}" + (f" ({what})" if what else "")


class RunLock:
    """The lock of one run directory, taken by :meth:`acquire` and given back by :meth:`release` (idempotent)."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.path: Path | None = None
        self.fd: int | None = None
        self.created: Path | None = None
        self._old_term: Any = None
        self._stop_beat: threading.Event | None = None

    def acquire(self, run_dir: Path, create: bool = False) -> str | None:
        """Hold ``run_dir``'s lock (creating ``run_dir`` when ``create``); the one-line note when a stale lock was
        taken over. :class:`InputError` naming the holder when another process holds it."""
        run_dir = Path(run_dir)
        if create:
            self.created = make_dir(run_dir)
        path = run_dir / LOCK_NAME
        for _ in range(20):  # a holder releasing meanwhile unlinks the file: open the new one
            fd = _open(path)
            free = _record_lock(fd)
            if free and not _same_file(fd, path):
                os.close(fd)
                continue
            holder = _read_holder(fd)
            try:
                note = self._decide(run_dir, path, free, holder, time.time() - os.fstat(fd).st_mtime)
            except InputError:
                os.close(fd)
                raise
            me = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command}
            me["since"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
            self.path, self.fd = path, fd
            self._catch_sigterm()
            self._start_heartbeat()
            return note
        raise InputError(f"{path}: the lock changed hands too often to be taken; try again")

    def _decide(self, run_dir: Path, path: Path, free: bool, holder: dict[str, Any] | None, age: float) -> str | None:
        """Raise when the lock is held; the note for a stale lock taken over (None for a free one). ``age``: seconds
        since the holder last refreshed the file."""
        name = describe(holder) if holder else "a process still starting (no holder recorded yet)"
        if not free:
            raise InputError(f"{run_dir} is in use by {name}; wait until it ends, or pick another --out")
        if holder is None:
            return None
        if not holder:
            return f"note: {path} held something other than a lock record; taken over"
        here = holder.get("host") == socket.gethostname()
        pid = holder.get("pid")
        if here and pid == os.getpid():
            return None  # this process's own lock, not released by an earlier command in it
        if here and isinstance(pid, int) and pid != os.getpid() and _alive(pid):
            raise InputError(
                f"{run_dir} is in use by {name}, which is running; wait until it ends, or pick another --out "
                f"(if that process is not an idealssl run, delete {path})"
            )
        if not here and age <= STALE_AFTER_S:
            raise InputError(
                f"{run_dir} is locked by {name}, another host, which refreshed the lock {age:.0f} s ago; wait until "
                f"it ends (a lock not refreshed for {STALE_AFTER_S} s is taken over), or pick another --out"
            )
        if not here:
            return f"note: {run_dir} was locked by {name}, not refreshed for {age:.0f} s; its lock is taken over"
        return f"note: {run_dir} was locked by {name}, which is no longer running; its lock is taken over"

    def _start_heartbeat(self) -> None:
        """Refresh the lock file's time every :data:`HEARTBEAT_S` seconds while it is held (a daemon thread), so
        that another host can tell a live holder from one that has gone."""
        stop, fd = threading.Event(), self.fd

        def beat() -> None:
            while not stop.wait(HEARTBEAT_S):
                try:
                    os.utime(fd if os.utime in os.supports_fd else str(self.path))  # type: ignore[arg-type]
                except OSError:
                    pass

        self._stop_beat = stop
        threading.Thread(target=beat, name="idealssl-lock-heartbeat", daemon=True).start()

    def _catch_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            self._old_term = signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, signum, frame) -> None:  # noqa: ARG002
        print(f"idealssl: stopped by signal {signum}; {self.path} released", file=sys.stderr, flush=True)
        raise Terminated(signum)

    def release(self) -> None:
        """Remove the lock file (when it is still this holder's) and close it; remove a created, empty directory."""
        if self._stop_beat is not None:
            self._stop_beat.set()
            self._stop_beat = None
        if self._old_term is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._old_term)
        self._old_term = None
        if self.fd is not None and self.path is not None:
            if _same_file(self.fd, self.path):
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            os.close(self.fd)
        self.fd = None
        if self.created is not None:
            try:
                self.created.rmdir()  # only when empty: a run refused before it wrote anything
            except OSError:
                pass
            self.created = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path} is a symlink, not a lock file; remove it") from None
        raise InputError(f"cannot lock {path.parent}: {exc.strerror or exc}") from None


def make_dir(d: Path) -> Path | None:
    """Create ``d`` (and its parents) when missing; the path created, or None when it existed. One-line
    :class:`InputError` when it cannot be: under a file, on a read-only file system, without permission."""
    if d.is_dir():
        return None
    if d.exists() or d.is_symlink():
        raise InputError(f"--out {d} exists and is not a directory")
    try:
        d.mkdir(parents=True)
    except FileExistsError:
        if d.is_dir():
            return None
        raise InputError(f"--out {d}: cannot create it (a file is in the way)") from None
    except OSError as exc:
        raise InputError(f"--out {d}: cannot create it ({exc.strerror or exc})") from None
    return d
