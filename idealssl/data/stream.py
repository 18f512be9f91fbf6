"""Batches of a dataset too large for memory: image files decoded per batch in DataLoader workers.

The in-memory path (``idealssl.train.loop``) indexes one uint8 tensor with the epoch's permutation; the
streamed path draws the SAME indices (:func:`epoch_permutation`, :func:`batch_indices`: one definition for
both) through :class:`EpochBatches`, a batch sampler, and a ``torch.utils.data.DataLoader`` whose workers
decode the files (:class:`~idealssl.data.datasets.FileImages`, the in-memory path's decode and resize) into
fixed-size uint8 batches. The batched on-device view generator then makes every view, as in memory. So:

* the order is a function of (seed, epoch) only, and process ``r`` of ``W`` takes the images
  ``r*B/W .. (r+1)*B/W - 1`` of each global batch of ``B``: the shards are disjoint and together make the
  global batch;
* a resumed run starts the sampler at the checkpoint's position in the epoch (``step % steps_per_epoch``)
  and continues the same order; the position is a global sample index (``position * B``), so it does not
  depend on the number of processes;
* streamed and in-memory runs see the same pixels in the same order and give the same losses.

Workers ignore SIGINT/SIGTERM: a stop signal (torchrun delivers it to the whole process group) is for the
training process, which finishes its step, checkpoints and then shuts its workers down.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .datasets import FileImages


def epoch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The order of the ``n`` pretraining images in ``epoch``: a function of (seed, epoch) only."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000003 + epoch))


def batch_indices(perm: torch.Tensor, pos: int, batch: int, rank: int, b_local: int) -> torch.Tensor:
    """Process ``rank``'s ``b_local`` indices of the global batch at position ``pos`` (``batch`` images)."""
    lo = pos * batch + rank * b_local
    return perm[lo : lo + b_local]


class EpochBatches(Sampler[list[int]]):
    """This process's batches of one epoch, from position ``start`` up to (not including) ``stop``.

    Parameters
    ----------
    n : int
        Number of pretraining images.
    seed, epoch : int
        Define the epoch's permutation (:func:`epoch_permutation`).
    batch, rank, world : int
        Global batch size, this process's rank and the number of processes (``batch % world == 0``).
    start, stop : int
        Positions (global batches) in the epoch: a resumed run starts at its checkpoint's position.
    """

    def __init__(self, n: int, seed: int, epoch: int, batch: int, rank: int, world: int, start: int, stop: int):
        if batch % world:
            raise ValueError(f"global batch {batch} is not divisible by {world} processes")
        self.n, self.seed, self.epoch = n, seed, epoch
        self.batch, self.rank, self.b_local = batch, rank, batch // world
        self.start, self.stop = start, stop

    def __iter__(self) -> Iterator[list[int]]:
        perm = epoch_permutation(self.seed, self.epoch, self.n)
        for pos in range(self.start, self.stop):
            yield batch_indices(perm, pos, self.batch, self.rank, self.b_local).tolist()

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


class DecodedFiles(Dataset):
    """``(uint8 image tensor (C, S, S), label)`` pairs read from image files (one decode per access)."""

    def __init__(self, images: FileImages, labels: np.ndarray):
        self.images, self.labels = images, np.asarray(labels, np.int64)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.images[int(i)].copy()), int(self.labels[int(i)])  # PIL's arrays are read-only


def _worker_init(_: int) -> None:
    """DataLoader workers leave stop signals to the training process and use one thread each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)


def default_workers(requested: int) -> int:
    """``data.num_workers`` (0: one per core this process may use, at most 8: cores / local processes)."""
    if requested:
        return int(requested)
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(8, (os.cpu_count() or 1) // local))


def batch_loader(dataset: DecodedFiles, sampler: EpochBatches, workers: int, pin: bool) -> DataLoader:
    """A DataLoader yielding ``(uint8 images (b, C, S, S), int64 labels (b,))`` in ``sampler``'s order;
    ``workers`` processes decode ahead (two batches each), ``pin`` pins the batches for a CUDA copy."""
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=pin,
        worker_init_fn=_worker_init if workers else None,
        prefetch_factor=2 if workers else None,
    )
