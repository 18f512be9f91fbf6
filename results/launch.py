"""Run ``idealssl train`` in a subprocess, for the scripts that write the results folders (``results/*/*.py``).

One definition of the command line (this Python's ``-m idealssl.cli train``, the method, dataset and seed, a fresh
run directory, no progress bar, then the script's own flags and ``key=value`` overrides), of the threads a run may
use (``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, so that runs side by side do not oversubscribe the cores), and of
what comes back (:class:`Launched`). Each script keeps its own choice of flags, its messages and what it records.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Launched:
    """A finished ``idealssl train`` subprocess.

    Attributes
    ----------
    out : Path
        Its run directory.
    returncode : int
        0 on success (``idealssl train``'s exit codes: 1 a failure, 2 bad input).
    stderr : str
        Everything it wrote to standard error.
    seconds : float
        Wall time of the subprocess.
    """

    out: Path
    returncode: int
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def last_error_line(self) -> str | None:
        """The last line of standard error (a failed run's one-line message), or None when it wrote nothing."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else None


def train_command(method: str, dataset: str, seed: int, out: Path, args: list[str]) -> list[str]:
    """The command line of one run: ``idealssl train`` for ``method`` on ``dataset`` with ``seed`` into ``out``,
    then ``args`` (flags and ``key=value`` overrides), in this Python."""
    return [
        sys.executable,
        "-m",
        "idealssl.cli",
        "train",
        "--method",
        method,
        "--dataset",
        dataset,
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--no-progress",
        *args,
    ]


def train(method: str, dataset: str, seed: int, out: Path, args: list[str], threads: int = 1) -> Launched:
    """Run :func:`train_command` with ``threads`` threads per process, in a fresh ``out`` (a directory left by an
    interrupted run is removed first); returns when the run ends."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.time()
    r = subprocess.run(train_command(method, dataset, seed, out, args), env=env, capture_output=True, text=True)
    return Launched(out=out, returncode=r.returncode, stderr=r.stderr, seconds=time.time() - t0)
