"""Helpers of the adversarial findings script: the CLI in a subprocess, input files, outcomes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MAIN = "import sys; from idealssl.cli import main; sys.exit(main())"
NO_MATPLOTLIB = "import sys; sys.modules['matplotlib'] = None; from idealssl.cli import main; sys.exit(main())"


@dataclasses.dataclass
class Outcome:
    """What one finding's reproduction found: ``reproduced`` True / False, or None when it could not be set up."""

    reproduced: bool | None
    detail: str


@dataclasses.dataclass
class Result:
    argv: list[str]
    rc: int
    out: str
    err: str

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.err

    @property
    def clean_refusal(self) -> bool:
        """Exit 2 with a message and no traceback."""
        return self.rc == 2 and not self.traceback and bool(self.err.strip())

    def brief(self) -> str:
        last = (self.err.strip().splitlines() or [""])[-1][:160]
        return f"rc={self.rc}{' TRACEBACK' if self.traceback else ''} [{last}]"


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e.setdefault("OMP_NUM_THREADS", "1")
    e["PYTHONFAULTHANDLER"] = ""
    e.update(extra)
    return e


def idealssl(*args: object, cwd: Path, timeout: float = 300, prelude: str = MAIN, stdout=None, **envx: str) -> Result:
    """``idealssl ARGS`` as a user types it, in ``cwd``; ``stdout`` a file object to redirect to (``> FILE``)."""
    argv = [str(a) for a in args]
    p = subprocess.run(
        [sys.executable, "-c", prelude, *argv],
        cwd=cwd,
        env=env(**envx),
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(argv, p.returncode, p.stdout or "", p.stderr)


def start(*args: object, cwd: Path, **envx: str) -> subprocess.Popen:
    """``idealssl ARGS`` started in the background (its own process group)."""
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, *[str(a) for a in args]],
        cwd=cwd,
        env=env(**envx),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def finish(p: subprocess.Popen, timeout: float = 600) -> Result:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    return Result(list(map(str, p.args))[3:], p.returncode, out, err)


def run_until(*args: object, cwd: Path, started: Callable[[], bool], timeout: float = 240) -> tuple[Result, bool]:
    """Run ``idealssl ARGS``; if ``started()`` becomes true (training began: the finding reproduces), kill it.
    Returns the result and whether it was killed."""
    p = start(*args, cwd=cwd)
    t0 = time.monotonic()
    killed = False
    while p.poll() is None and time.monotonic() - t0 < timeout:
        if started():
            os.killpg(p.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
    else:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            killed = True
    return finish(p), killed


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def tree_digest(root: Path) -> dict[str, str | None]:
    """Relative path -> content digest (symlinks -> their target) of every file under ``root``."""
    out: dict[str, str | None] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = digest(p)
    return out


def save(d: Path, name: str, obj) -> Path:
    p = d / name
    if isinstance(obj, np.ndarray):
        np.save(p, obj)
    else:
        p.write_text(json.dumps(obj))
    return p


def centred_simplex(C: int) -> np.ndarray:
    """C codes of a regular simplex centred at the origin, in R^C (rank C - 1): e_m - 1/C, built here, not by idealssl."""  # noqa: E501
    return np.eye(C) - 1.0 / C


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def npy_header(shape: tuple[int, ...], fortran: bool = False, descr: str = "<f8") -> bytes:
    """A version 1.0 ``.npy`` header declaring ``shape`` (whatever the data that follows)."""
    h = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


def lying_npz(path: Path, shape: tuple[int, ...], fortran: bool = False) -> Path:
    """An ``.npz`` with one stored member ``x.npy`` whose header declares ``shape`` and whose zip64 local header and
    central directory both claim the member holds all of it (8 bytes per value), while 64 bytes of data follow."""
    name = b"x.npy"
    body = npy_header(shape, fortran) + b"\0" * 64
    claimed = len(body) - 64 + 8 * int(np.prod(shape))
    crc = zipfile.crc32(body)  # type: ignore[attr-defined]
    extra = struct.pack("<HHQQ", 1, 16, claimed, claimed)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
    entry = local + name + extra + body
    central = (
        struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            45,
            45,
            0,
            0,
            0,
            0x21,
            crc,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(name),
            20,
            0,
            0,
            0,
            0,
            0,
        )
        + name
        + extra
    )
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(entry), 0)
    path.write_bytes(entry + central + end)
    return path
