"""``idealssl train --devices N``: start N training processes on this machine (DDP) without torchrun.

Each process gets torchrun's environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` = 127.0.0.1,
``MASTER_PORT`` = a free port) and runs :func:`idealssl.train.loop.train` on the same resolved configuration,
so ``--devices N`` and ``torchrun --nproc_per_node N -m idealssl.cli train ...`` run the same job (gloo on CPU;
NCCL and one GPU per process on CUDA). Processes are started with the ``spawn`` method; without
``OMP_NUM_THREADS`` each uses ``cpu_count // N`` threads. The first process's one-line error (bad input, NaN
loss, a stop signal) is the command's; its exit status is the command's.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

from ..errors import InputError
from .defaults import RunConfig
from .resume import ResumeOptions


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, cfg: RunConfig, opts: ResumeOptions, queue: Any) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world),
    )
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    from .loop import Interrupted, NonFiniteLoss, train

    code: int = 0
    payload: Any = None
    try:
        payload = train(cfg, opts)
    except InputError as exc:
        code, payload = 2, str(exc)
    except NonFiniteLoss as exc:
        code, payload = 3, str(exc)
    except Interrupted as exc:
        code = 128 + int(exc.signum)
        payload = f"{exc}; continue with: idealssl train --out {exc.path.parent.parent} --resume"
    if rank == 0:
        queue.put((code, payload))
    sys.exit(code)


def spawn(n: int, cfg: RunConfig, opts: ResumeOptions) -> tuple[int, Any]:
    """Run ``train(cfg, opts)`` in ``n`` processes; ``(exit status, rank 0's results or message)``."""
    import torch
    import torch.multiprocessing as mp

    if n < 1:
        raise InputError(f"--devices must be >= 1, got {n}")
    dev = str(cfg.device)
    if dev.startswith("cuda") or (dev == "auto" and torch.cuda.is_available()):
        have = torch.cuda.device_count()
        if n > have:
            raise InputError(f"--devices {n}: only {have} CUDA device(s) on this machine")
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, n, port, cfg, opts, queue), daemon=False) for r in range(n)]
    for p in procs:
        p.start()
    _wait(procs)
    if not queue.empty():
        return queue.get()
    codes = [p.exitcode for p in procs]
    bad = next((c for c in codes if c), 1)
    return (bad if bad > 0 else 128 - bad), f"a training process exited with status {codes} before reporting"


def _wait(procs: list, grace: float = 10.0) -> None:
    """Join every process; once one has failed, the others get ``grace`` seconds (they may be blocked in a
    collective waiting for it) and are then terminated."""
    import time

    deadline = None
    while any(p.is_alive() for p in procs):
        try:
            for p in procs:
                p.join(timeout=0.2)
        except KeyboardInterrupt:  # the children received it too: let them checkpoint and stop
            continue
        if deadline is None and any(p.exitcode not in (None, 0) for p in procs):
            deadline = time.time() + grace
        if deadline is not None and time.time() > deadline:
            for p in procs:
                if p.is_alive():
                    p.terminate()
