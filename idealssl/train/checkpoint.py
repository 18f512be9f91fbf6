"""Checkpoints and run files, written so that nothing previously written is lost or silently corrupted.

* Atomic, never through a symlink: written by :func:`idealssl.atomic.write_bytes` (a temporary file in the same
  folder, fsync, ``os.replace``), as every run file is; a run killed while writing never leaves a truncated
  ``last.pt`` (the old one stays).
* Verified: the state is serialised to bytes, and the file holds ``{"format", "sha256", "payload"}``
  (the payload as a uint8 tensor, stored raw); :func:`load` recomputes the SHA-256 of the payload and refuses a
  mismatch (one line naming the file, exit 2), as it refuses an empty, truncated or foreign file. Checkpoints of the
  earlier format (``idealssl-checkpoint-1``, no digest) still load, with a note that they could not be verified.
* Disk full (or a file size limit): one line, "no space left on the device while writing ... the previous file is
  kept" (:class:`idealssl.atomic.WriteError`, exit 2); the temporary file is removed.
* Read with ``weights_only=True`` (no code runs from a checkpoint).
"""

from __future__ import annotations

import hashlib
import io
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from .. import atomic
from ..errors import InputError

FORMAT = "idealssl-checkpoint-2"


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]


def _serialise(obj: Any) -> memoryview:
    """``torch.save(obj)`` in memory: a writable view of the buffer itself (no copy of a checkpoint's size)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getbuffer()


def save_atomic(obj, path, digest: bool = True) -> None:
    """Save ``obj`` atomically (:func:`idealssl.atomic.write_bytes`); with ``digest`` (idealssl checkpoints)
    wrapped with its SHA-256. The state is serialised in memory first, so a full disk meets the file write only.
    The payload tensor shares the serialised state's memory: no copy of a checkpoint's size is made besides the
    two serialisations."""
    _write_serialised(_serialise(obj), Path(path), digest)


def _write_serialised(data: memoryview, path: Path, digest: bool = True) -> None:
    """The serialised state ``data`` written to ``path``: with ``digest``, as ``{"format", "sha256", "payload"}``."""
    if digest:
        payload = torch.frombuffer(data, dtype=torch.uint8)
        data = _serialise({"format": FORMAT, "sha256": hashlib.sha256(data).hexdigest(), "payload": payload})
    atomic.write_bytes(path, data, "checkpoint")


class Writer:
    """Checkpoints written beside the work that follows them: :func:`save_atomic` in two parts.

    :meth:`save` serialises the state at once, in the caller's thread (the snapshot: training changes the tensors
    right after), and hands the rest (the SHA-256, the verified wrapper, the atomic write and its fsync) to one
    background thread; :meth:`wait` returns once that write is on disk and raises its error in the caller (a full
    disk: :class:`idealssl.atomic.WriteError`, the previous file kept). At most one write is pending: :meth:`save`
    waits for the previous one first, so checkpoints land in order and a second one never races the first. The
    file is the same, byte for byte, as :func:`save_atomic` writes (``tests/train/test_checkpoint_writer.py``). A
    process killed before the write ends keeps the previous file (the write is atomic), as when killed during a
    synchronous write. Measured on this project's 2-core CPU (benches/README.md, ``--fast-dev-run``): a ResNet-18
    checkpoint with its EMA target and AdamW's moments (180 MB) took 1.2-1.4 s to save synchronously and 0.4 s to
    hand over; the rest runs beside the end-of-run evaluations or the next epoch's steps."""

    def __init__(self) -> None:
        self._pending: Future | None = None
        self._pool: ThreadPoolExecutor | None = None

    def save(self, obj: Any, path: Path | str) -> None:
        """Serialise ``obj`` now; write it to ``path`` in the background (after any pending write)."""
        self.wait()
        data = _serialise(obj)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-writer")
        self._pending = self._pool.submit(_write_serialised, data, Path(path))

    def wait(self) -> None:
        """Block until the pending write (if any) is on disk; its error, if it failed, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> BaseException | None:
        """Wait for the pending write and stop the thread; returns the write's error instead of raising it (for a
        caller already handling another)."""
        try:
            self.wait()
        except Exception as exc:  # noqa: BLE001 - returned to the caller, who reports it
            return exc
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        return None


def _torch_load(source, path: Path):
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is bad input
        raise InputError(f"{path}: not an idealssl checkpoint, or a damaged one ({first_line(exc)})") from None


def load(path, map_location="cpu") -> dict:
    """Load and verify an idealssl checkpoint (one-line :class:`InputError` naming the file otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the checkpoint file is empty (0 bytes); a write was cut short or the disk was full")
    ck = _torch_load(path, path)
    if isinstance(ck, dict) and ck.get("format") == FORMAT:
        payload = ck.get("payload")
        raw = payload.numpy().tobytes() if isinstance(payload, torch.Tensor) and payload.dtype == torch.uint8 else None
        if raw is None or hashlib.sha256(raw).hexdigest() != ck.get("sha256"):
            raise InputError(
                f"{path}: the checkpoint's SHA-256 digest does not match its contents (the file is "
                f"damaged); use an earlier checkpoint or start over"
            )
        ck = _torch_load(io.BytesIO(raw), path)
    elif isinstance(ck, dict) and "backbone" in ck and "cfg" in ck:
        print(
            f"note: {path} has no digest (written by an earlier idealssl); loaded without verification", file=sys.stderr
        )
    if not isinstance(ck, dict) or "backbone" not in ck or "cfg" not in ck:
        raise InputError(f"{path}: not an idealssl checkpoint (no 'backbone'/'cfg' entries)")
    if map_location != "cpu":
        ck = _torch_load_to(ck, map_location)
    return ck


def _torch_load_to(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _torch_load_to(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_torch_load_to(v, device) for v in obj]
    return obj


def find_last(run_dir) -> Path | None:
    """``run_dir/checkpoints/last.pt`` when present."""
    p = Path(run_dir) / "checkpoints" / "last.pt"
    return p if p.is_file() else None


def resolve_checkpoint(path) -> Path:
    """A checkpoint file, or a run directory (its last checkpoint)."""
    p = Path(path)
    if p.is_dir():
        last = find_last(p)
        if last is None:
            raise InputError(f"{p}: no checkpoints/last.pt in this run directory")
        return last
    if not p.is_file():
        raise InputError(f"checkpoint {p} does not exist")
    return p


def run_dir_of(path) -> Path | None:
    """The run directory a checkpoint file belongs to (``RUN/checkpoints/FILE``), or None for a loose file."""
    p = Path(path)
    return p.parent.parent if p.parent.name == "checkpoints" else None
