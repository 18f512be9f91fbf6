"""Process-group setup for ``torchrun`` (NCCL on GPU, gloo on CPU); one process without it."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import InputError


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(device_pref: str) -> tuple[DistInfo, torch.device]:
    """Initialise the default process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_pref == "auto":
        use_cuda = torch.cuda.is_available()
    else:
        use_cuda = device_pref.startswith("cuda")
        if use_cuda and not torch.cuda.is_available():
            raise InputError("--device cuda requested but no CUDA device is available")
    if use_cuda:
        idx = local if world > 1 or device_pref in ("auto", "cuda") else int(device_pref.split(":")[1])
        device = torch.device("cuda", idx)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local), device


def teardown() -> None:
    """Destroy the default group after collecting unreachable DDP reducers (often held in reference
    cycles), so that no gloo state is left to be destroyed during interpreter shutdown, where it can
    abort the process (pytorch/pytorch#65237)."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def all_mean(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        x = x.detach().clone()
        dist.all_reduce(x)
        x /= info.world
    return x


def broadcast_obj(obj, info: DistInfo):
    if not info.enabled:
        return obj
    lst = [obj]
    dist.broadcast_object_list(lst, src=0)
    return lst[0]


def gather_obj(obj, info: DistInfo):
    if not info.enabled:
        return [obj]
    out = [None] * info.world
    dist.all_gather_object(out, obj)
    return out
