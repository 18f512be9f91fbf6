"""Checkpoints and run files, written so that nothing previously written is lost or silently corrupted.

* Atomic: a temporary file in the same directory, fsync, ``os.replace``; a run killed while writing
  never leaves a truncated ``last.pt`` (the old one stays). ``os.replace`` replaces a symlink planted at
  the destination instead of writing through it. :func:`write_text_atomic` does the same for
  ``config.yaml``, ``env.json``, ``results.json`` and the rewritten ``metrics.jsonl``.
* Verified: the state is serialised to bytes, and the file holds ``{"format", "sha256", "payload"}``
  (the payload as a uint8 tensor, stored raw); :func:`load` recomputes the SHA-256 of the payload and refuses a
  mismatch (one line naming the file, exit 2), as it refuses an empty, truncated or foreign file. Checkpoints of the
  earlier format (``idealssl-checkpoint-1``, no digest) still load, with a note that they could not be verified.
* Disk full: an ``OSError`` or torch's stream-writer error while writing becomes one line, "no space
  left on ... (the previous checkpoint is kept)"; the temporary file is removed.
* Read with ``weights_only=True`` (no code runs from a checkpoint).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError

FORMAT = "idealssl-checkpoint-2"


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]


def _serialise(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _write_atomic(path: Path, write: Callable[[Any], None], what: str) -> None:
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise InputError(f"{path} is a directory; give a file name for the {what}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    except OSError as exc:
        raise InputError(f"cannot write the {what} {path}: {exc.strerror or first_line(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InputError(f"no space left on the device while writing {path} (the previous file is kept)") from None
        if isinstance(exc, OSError):
            raise InputError(f"cannot write the {what} {path}: {exc.strerror or first_line(exc)}") from None
        raise


def write_text_atomic(path, text: str, what: str = "file") -> None:
    """Write ``text`` to ``path`` atomically (never through a symlink planted at ``path``)."""
    _write_atomic(Path(path), lambda fh: fh.write(text.encode()), what)


def save_atomic(obj, path, digest: bool = True) -> None:
    """Save ``obj`` atomically; with ``digest`` (idealssl checkpoints) wrapped with its SHA-256."""
    path = Path(path)
    try:
        data = _serialise(obj)
        if digest:
            payload = torch.frombuffer(bytearray(data), dtype=torch.uint8)
            data = _serialise({"format": FORMAT, "sha256": hashlib.sha256(data).hexdigest(), "payload": payload})
    except RuntimeError as exc:  # torch's writer reports a full disk as "file write failed" / "unexpected pos"
        msg = first_line(exc)
        if "write failed" not in msg and "unexpected pos" not in msg:
            raise
        raise InputError(
            f"no space left on the device while writing {path} ({msg}); the previous checkpoint is kept"
        ) from None
    _write_atomic(path, lambda fh: fh.write(data), "checkpoint")


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


def remove_orphans(ckpt_dir) -> list:
    """Remove the temporary files a process killed while writing left behind (``.NAME.XXXX.tmp``)."""
    d = Path(ckpt_dir)
    gone = []
    if d.is_dir():
        for p in d.glob(".*.tmp"):
            if p.is_file() and not p.is_symlink():
                p.unlink()
                gone.append(p)
    return gone


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
