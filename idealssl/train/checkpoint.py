"""Checkpoints: written atomically (temporary file in the same directory, fsync, ``os.replace``),
so a run killed while writing never leaves a truncated ``last.pt``; read with ``weights_only=True``."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import torch

from ..errors import InputError


def save_atomic(obj, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {path} does not exist")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is bad input
        raise InputError(f"{path}: not an idealssl checkpoint ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(ck, dict) or "backbone" not in ck or "cfg" not in ck:
        raise InputError(f"{path}: not an idealssl checkpoint (no 'backbone'/'cfg' entries)")
    return ck


def find_last(run_dir) -> Optional[Path]:
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
