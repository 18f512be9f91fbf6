"""The training loop: data -> views -> encoder -> objective -> optimiser, then evaluation.

:func:`train` runs a whole experiment from a resolved configuration (:mod:`idealssl.train.config`):
:func:`resume_point` (checkpoint and configuration merge) -> :func:`setup` (data, model, objective, EMA
backbone, precision, optimiser, schedules, DDP) -> :func:`write_run_files` -> :func:`fit` (epochs of
:func:`train_one_epoch`, each step :func:`idealssl.train.step.training_step`; :func:`epoch_monitors`;
:func:`save_checkpoint`) -> :func:`finalise` (evaluation, results). It writes a run directory::

    config.yaml      resolved configuration
    env.json         versions, git revision, device, world size, threads
    metrics.jsonl    one JSON object per logged step / epoch (loss, lr, objective logs, monitors)
    results.json     final numbers, each with its protocol; throughput and peak memory (and the check's failure,
                     when its files could not be written: the command then exits 2)
    checkpoints/last.pt   atomic, every ``train.ckpt_every_epochs`` epochs, at the end, on SIGTERM/SIGINT
    check/           the end-of-run check's orbit set and report (idealssl.train.orbit_sets), replaced as a set
    check-projector/ the same for the objective's projector (check.features: projector or both)
    .idealssl-lock   while a process writes into the run (idealssl.train.runlock)

Determinism and resuming: the epoch's permutation is a function of (seed, epoch) only, the views
are drawn from a device ``torch.Generator`` whose state is checkpointed (per process), and the
checkpoint holds every other piece of state (model, objective buffers, EMA backbone, online probe,
optimiser, step counter, torch RNG). A run stopped at step t (SIGTERM, SIGINT, or killed and
resumed from its last epoch checkpoint) and resumed with ``--resume`` computes the same losses as
an uninterrupted run on CPU.

Data: the pretraining images are one uint8 tensor indexed per batch, or, when they stream from disk
(``data.stream``, :mod:`idealssl.data.stream`), image files decoded per batch by DataLoader workers; both read
the same indices of the same permutation, so they give the same losses.

Distributed: under ``torchrun`` the model (backbone + objective heads + online probe) is wrapped in
``DistributedDataParallel``; each of the W processes takes a disjoint slice of size B/W of every
global batch B; objectives gather batch statistics themselves (objectives.base). Optional SyncBN
(``model.sync_bn``). Rank 0 alone holds the run directory's lock (:mod:`idealssl.train.runlock`) and writes the
run files and checkpoints, each through :mod:`idealssl.atomic` (whole or not at all, never through a symlink). A
checkpoint may be resumed by another number of processes: the step counts global batches, so the run continues
from the same global sample (step x B) with B/W' images per process and the same learning rate; only the view
generators are re-seeded (:func:`world_change_line` says so at start).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
import yaml
from torch import nn

from .. import atomic
from .. import metrics as monitors
from ..data import stream as streaming
from ..data.datasets import FileImages, ImageSet, load_dataset, take
from ..data.views import ViewConfig, ViewGenerator
from ..derive.prescriptions import Prescriptions
from ..errors import InputError
from ..jsonutil import plain
from ..models import build_encoder
from ..models.timm_backbone import TimmEncoder, check_input_sizes
from ..objectives import build as build_objective_of
from ..objectives.ema import frozen_copy
from ..step import Schedules, training_step
from . import checkpoint as ckpt_mod
from . import distributed as D
from . import evaluate, orbit_sets, theory_config, timing
from .config import with_values
from .defaults import RunConfig, ViewsConfig
from .evaluate import evaluate_model, has_likelihood_score, likelihood_anomaly  # noqa: F401  (re-exported)
from .loggers import build as build_loggers
from .model import SSLModel
from .optim import LARS
from .resume import ResumeOptions, merge_on_resume
from .rundir import claim_empty, reset_metrics
from .runlock import RunLock

__all__ = ["train", "SSLModel", "build_objective", "view_config", "evaluate_model", "NonFiniteLoss", "Interrupted"]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


class Interrupted(RuntimeError):
    def __init__(self, signum: int, path: Path):
        super().__init__(f"stopped by signal {signum}; checkpoint written to {path}")
        self.signum, self.path = signum, path


# ------------------------------------------------------------------------------------------------ helpers
def _git_rev() -> str | None:
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        )
        return r.stdout.strip() or None
    except Exception:  # noqa: BLE001
        return None


def environment(device: torch.device, info: D.DistInfo) -> dict:
    import sklearn
    import torchvision

    from .. import __version__  # the package root's constant (tests/test_layout.py: ROOT_CONSTANTS)

    env = {
        "idealssl": __version__,
        "git_revision": _git_rev(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "world_size": info.world,
        "backend": (torch.distributed.get_backend() if info.enabled else None),
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def view_config(views: ViewsConfig, data: ImageSet, n_global: int) -> ViewConfig:
    """The augmentation recipe of the ``views`` settings for ``data``: null sizes resolved (the images' side, half of
    it for local crops), ``n_global`` the objective's number of global views."""
    size = int(views.size or data.image_size)
    return ViewConfig(
        size=size,
        n_global=n_global,
        scale=_pair(views.scale),
        ratio=_pair(views.ratio),
        flip_p=views.flip_p,
        rotate=views.rotate,
        jitter=_pair(views.jitter),
        jitter_p=views.jitter_p,
        gray_p=views.gray_p,
        blur_p=views.blur_p,
        blur_sigma=_pair(views.blur_sigma),
        solarize_p=views.solarize_p,
        strength=views.strength,
        n_local=views.n_local,
        local_size=int(views.local_size or max(4, size // 2)),
        local_scale=_pair(views.local_scale),
    )


def _pair(values: list) -> Any:
    """A validated list of numbers as the tuple :class:`ViewConfig` holds (values kept as they are)."""
    return tuple(values)


def _scalar_logs(logs: dict) -> dict:
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v.detach().float().mean()) if isinstance(v, torch.Tensor) else float(v)
        except (TypeError, ValueError):
            continue
    return out


class Progress:
    """A one-line bar on a terminal; plain periodic lines otherwise (CI, SLURM, pipes)."""

    def __init__(self, mode: str, total: int, enabled: bool, batch: int = 0, start_step: int = 0):
        self.enabled = enabled and mode != "off"
        self.tty = sys.stderr.isatty() if mode == "auto" else mode == "bar"
        self.total, self.t0, self.last = total, time.time(), 0.0
        self.batch, self.start = batch, start_step  # images per step (global); the step this session began at
        self.first: tuple[int, float] | None = None  # (step, time) at the end of this session's first step

    def speed(self, step: int, now: float) -> str:
        """``N img/s, ETA h:mm:ss`` from this session's steps so far ("" before the first). Timed from the end of
        the session's first step once a later one is done: the first pays for allocations and first calls, and
        counting it made the first ETAs several times too long."""
        done, dt = step - self.start, now - self.t0
        if self.first is not None and step > self.first[0] and now > self.first[1]:
            done, dt = step - self.first[0], now - self.first[1]
        if done <= 0 or dt <= 0:
            return ""
        rate = done / dt
        eta = int(round(max(0, self.total - step) / rate))
        return f" {rate * self.batch:.0f} img/s ETA {eta // 3600}:{eta % 3600 // 60:02d}:{eta % 60:02d}"

    def update(self, step: int, epoch: int, loss: float, force: bool = False):
        if not self.enabled:
            return
        now = time.time()
        if self.first is None:
            self.first = (step, now)
        if self.tty:
            if now - self.last > 0.2 or force:
                frac = step / max(1, self.total)
                bar = "#" * int(30 * frac)
                sys.stderr.write(
                    f"\r[{bar:<30}] {step}/{self.total} epoch {epoch} loss {loss:.4f} "
                    f"{now - self.t0:.0f}s{self.speed(step, now)}\033[K"
                )
                sys.stderr.flush()
                self.last = now
        elif force or now - self.last > 10:
            print(
                f"step {step}/{self.total} epoch {epoch} loss {loss:.4f} elapsed {now - self.t0:.0f}s"
                f"{self.speed(step, now)}",
                file=sys.stderr,
                flush=True,
            )
            self.last = now

    def close(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def _make_optimizer(cfg: RunConfig, model: SSLModel, lr: float):
    o = cfg.optim
    main = [p for n, p in model.named_parameters() if not n.startswith("probe.") and p.requires_grad]
    groups = [
        {"params": main, "lr": lr, "weight_decay": float(o.weight_decay), "base_lr": lr},
        {
            "params": list(model.probe.parameters()),
            "lr": float(cfg.probe.lr),
            "weight_decay": 0.0,
            "base_lr": float(cfg.probe.lr),
            "fixed": True,
        },
    ]
    name = str(o.name).lower()
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=float(o.momentum))
    if name == "lars":
        return LARS(groups, lr=lr, momentum=float(o.momentum))
    raise InputError(f"optim.name={name!r} is not supported by this trainer; use adamw, adam, sgd or lars")


def build_objective(cfg: RunConfig, dim: int):
    """The configured objective (``method`` with the ``objective.*`` hyperparameters) on ``dim``-dimensional
    features."""
    try:
        return build_objective_of(cfg.method, dim=dim, **cfg.objective)
    except KeyError as exc:
        raise InputError(str(exc.args[0]) if exc.args else str(exc)) from None
    except TypeError as exc:
        raise InputError(f"method {cfg.method!r}: bad objective hyperparameters {cfg.objective} ({exc})") from None


def _subset(x: Any, fraction: float, seed: int) -> Any:
    """A seeded random ``fraction`` of the rows of ``x`` (an array, or FileImages kept on disk), in order."""
    if fraction >= 1:
        return x
    n = max(1, int(round(len(x) * fraction)))
    idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return take(x, idx)


def _new_run_dir(cfg: RunConfig) -> Path:
    if cfg.out:
        return Path(cfg.out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{cfg.dataset}-{cfg.method}"
    d = base / f"{stamp}-s{cfg.seed}"
    i = 1
    while d.exists():
        d = base / f"{stamp}-s{cfg.seed}-{i}"
        i += 1
    return d


# ------------------------------------------------------------------------------------------------ setup
@dataclass
class Run:
    """Everything a run needs once set up (:func:`setup`); the loop mutates ``step`` only."""

    cfg: RunConfig  #: the run's configuration, with the theory's prescriptions applied (as config.yaml holds it)
    info: D.DistInfo
    device: torch.device
    run_dir: Path
    data: ImageSet
    model: SSLModel
    dmodel: nn.Module
    ema: nn.Module | None
    opt: torch.optim.Optimizer
    schedules: Schedules
    vcfg: ViewConfig
    views_fn: ViewGenerator
    gen: torch.Generator
    images: torch.Tensor | FileImages  #: FileImages when the images stream from disk (data.stream)
    labels: torch.Tensor
    n_global: int
    batch: int
    b_local: int
    steps_per_epoch: int
    total: int
    limit: int
    lr: float
    autocast: bool
    channels_last: bool
    step: int = 0
    elapsed_prev: float = 0.0
    resumed: bool = False
    scaler: Any = None  #: torch.amp.GradScaler for train.precision=16-mixed
    theory: Prescriptions | None = None  #: the theory's prescriptions as applied (idealssl.derive.prescriptions)
    workers: int = 0  #: DataLoader workers decoding the batches when streaming
    ck_world: int = 0  #: processes that wrote the checkpoint resumed from (0: a fresh run)
    view_seed_step: int = 0  #: the step the view generators were seeded at (:func:`view_seed`; >0: re-seeded)

    @property
    def streaming(self) -> bool:
        """Whether batches are decoded from image files per step (data.stream) instead of indexed in memory."""
        return isinstance(self.images, FileImages)

    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def done(self) -> bool:
        return self.step >= self.total or bool(self.limit and self.step >= self.limit)


def resume_point(cfg: RunConfig, opts: ResumeOptions, info: D.DistInfo, verbose: bool, lock: RunLock):
    """``(cfg, run_dir, checkpoint or None, source run directory or None)``. Rank 0 takes ``run_dir``'s lock first,
    then refuses a non-empty fresh ``--out`` (or moves it aside with ``--overwrite``); the checkpoint is read under
    the lock, and the configuration merged on resume."""
    run_dir, source, path = None, None, None
    out = Path(cfg.out) if cfg.out else None
    claim = True
    if opts.resume == "auto":
        if out is None:
            raise InputError("--resume without a path needs --out RUN_DIR (the run to continue)")
        run_dir, claim = out, False
    elif opts.resume:
        path = ckpt_mod.resolve_checkpoint(opts.resume)
        source = ckpt_mod.run_dir_of(path)
        if out is None and source is None:
            raise InputError(
                f"--resume {path}: the file is not in a run's checkpoints/ folder; give --out DIR for the continued run"
            )
        run_dir = out if out is not None else source
        if source is not None and (out is None or out.resolve() == source.resolve()):
            source, claim = None, False  # continuing in place
    else:
        run_dir = out if out is not None else _new_run_dir(cfg)
    run_dir = Path(D.broadcast_obj(str(run_dir), info))
    _take(run_dir, lock, claim, opts, info, verbose)
    ck, read = None, path
    if opts.resume == "auto":
        read = ckpt_mod.find_last(run_dir)
        if read is None:
            _log(verbose, info, f"no checkpoint in {run_dir}/checkpoints; starting from scratch")
    if read is not None:
        ck = ckpt_mod.load(read)
        cfg, notes = merge_on_resume(cfg, ck, opts.explicit, opts.allow_changes, str(read))
        for line in notes:
            _log(verbose, info, line)
    return cfg, run_dir, ck, source


def _take(run_dir: Path, lock: RunLock, claim: bool, opts: ResumeOptions, info: D.DistInfo, verbose: bool) -> None:
    """Rank 0: lock ``run_dir`` (created when missing) and, for a new run, claim it (:func:`claim_empty`); every
    process raises rank 0's one-line refusal."""
    err = None
    if info.main:
        try:
            note = lock.acquire(run_dir, create=True)
            if note:
                _log(verbose, info, note)
            if claim:
                _moved(claim_empty(run_dir, opts.overwrite), run_dir, verbose, info)
        except InputError as exc:
            err = str(exc)
    err = D.broadcast_obj(err, info)
    if err:
        raise InputError(err)


def _moved(dest: Path | None, run_dir: Path, verbose: bool, info: D.DistInfo) -> None:
    if dest is not None and info.main:
        print(f"--overwrite: the previous contents of {run_dir} were moved to {dest}", file=sys.stderr, flush=True)


def pretraining_set(cfg: RunConfig, data: ImageSet):
    """Images and labels (-1 = unlabelled) the encoder is pretrained on: all, one class, or a fraction (seeded by
    the run's seed)."""
    ssl_y = data.train_y if data.pretrain_x is None else np.full(len(data.ssl_x), -1, np.int64)
    if data.pretrain_x is not None:
        ssl_y[len(data.ssl_x) - len(data.train_y) :] = data.train_y  # STL-10: unlabeled then train
    ssl_x = data.ssl_x
    only = cfg.data.only_class
    if only is not None:
        # one-class protocol: pretrain on the labelled train images of one class only
        if not (isinstance(only, int) and 0 <= only < data.n_classes):
            raise InputError(f"data.only_class must be an integer in 0..{data.n_classes - 1}, got {only!r}")
        ssl_x, ssl_y = take(data.train_x, data.train_y == only), data.train_y[data.train_y == only]
    fraction = float(cfg.data.fraction)
    return _subset(ssl_x, fraction, cfg.seed), _subset(ssl_y, fraction, cfg.seed)


#: the built-in convolutional encoders, measured faster in channels-last on a CPU at 32 px (benches/README.md,
#: ``benches/cpu_profile.py``: convnet 1.39x, ResNet-18 1.14x one step, fp32, one thread, the same losses)
CPU_CHANNELS_LAST = ("resnet18", "resnet50", "convnet")


def uses_channels_last(setting: bool | str, arch: str, device_type: str) -> bool:
    """``model.channels_last``: ``true``/``false`` as set; ``auto`` on CUDA, and on a CPU for the built-in
    convolutional encoders (:data:`CPU_CHANNELS_LAST`; timm models stay contiguous there: not measured)."""
    if setting != "auto":
        return setting is True
    return device_type == "cuda" or str(arch).lower() in CPU_CHANNELS_LAST


def _build_model(cfg: RunConfig, data: ImageSet, info: D.DistInfo, device: torch.device):
    torch.manual_seed(cfg.seed)
    m = cfg.model
    backbone = build_encoder(
        m.arch, data.channels, int(cfg.views.size or data.image_size), m.expand_dim, m.small_stem, int(m.width)
    )
    if isinstance(backbone, TimmEncoder):  # a timm model: refuse view sizes it cannot take, before step 1
        size = int(cfg.views.size or data.image_size)
        local = [int(cfg.views.local_size or max(4, size // 2))] if cfg.views.n_local else []
        check_input_sizes(backbone, data.channels, [size, *local])
    objective = build_objective(cfg, backbone.dim)
    model = SSLModel(backbone, objective, data.n_classes).to(device)
    ema = frozen_copy(backbone).to(device) if getattr(objective, "momentum_backbone", False) else None
    use_cuda = device.type == "cuda"
    if m.sync_bn and info.enabled:
        if not use_cuda:
            raise InputError(
                "model.sync_bn=true needs CUDA devices (PyTorch's SyncBatchNorm is GPU-only); "
                "on CPU each process normalises its own B/W images"
            )
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    channels_last = uses_channels_last(m.channels_last, m.arch, device.type)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, ema, channels_last


def _precision(cfg: RunConfig, device: torch.device) -> bool:
    """Whether to run forward passes under bf16 autocast (``16-mixed``: see :func:`_fp16_scaler`)."""
    prec = str(cfg.train.precision)
    autocast = (prec == "auto" and device.type == "cuda") or prec in ("bf16", "bf16-mixed")
    if autocast and device.type == "cpu":
        autocast = prec in ("bf16", "bf16-mixed")
    return autocast


def _fp16_scaler(cfg: RunConfig, device: torch.device):
    """``train.precision=16-mixed``: a gradient scaler for fp16 autocast (CUDA only); None otherwise."""
    if str(cfg.train.precision) != "16-mixed":
        return None
    if device.type != "cuda":
        raise InputError(
            "train.precision=16-mixed needs a CUDA device (fp16 autocast with a gradient scaler); "
            "on CPU use bf16-mixed or 32"
        )
    return torch.amp.GradScaler("cuda")


def setup(
    cfg: RunConfig,
    run_dir: Path,
    ck: dict | None,
    info: D.DistInfo,
    device: torch.device,
    explicit: Collection[str] = (),
) -> Run:
    """Data, the theory's prescriptions, model, objective, EMA backbone, optimiser, schedules, view generator, DDP;
    state from ``ck``. The run holds ``cfg`` with the prescriptions applied (and, on a dataset without labels,
    ``eval.at_end=[]``: :func:`without_labels`; ``explicit``: the dotted keys the command gave)."""
    data, ssl_x, ssl_y = _pretraining_data(cfg)
    cfg = without_labels(cfg, data, explicit)
    cfg, theory = theory_config.apply(cfg, n_orbits=len(ssl_x), batch=int(cfg.optim.batch_size))
    model, ema, channels_last = _build_model(cfg, data, info, device)
    n_global = int(getattr(model.objective, "n_global", 2))
    vcfg = view_config(cfg.views, data, n_global)
    B, steps_per_epoch, total, warmup = _steps(cfg, len(ssl_x), data.name, info.world)
    lr = cfg.optim.scaled_lr
    opt = _make_optimizer(cfg, model, lr)
    schedules = Schedules.build(total, model.objective, warmup=warmup, ema=ema is not None)
    images, labels = _held(ssl_x, ssl_y, cfg, device)
    gen = torch.Generator(device=device)
    gen.manual_seed(view_seed(cfg.seed, info.rank))
    run = Run(
        cfg,
        info,
        device,
        run_dir,
        data,
        model,
        _wrapped(model, cfg, info, device),
        ema,
        opt,
        schedules,
        vcfg,
        ViewGenerator(vcfg, data.mean, data.std, gen),
        gen,
        images,
        labels,
        n_global,
        B,
        B // info.world,
        steps_per_epoch,
        total,
        int(cfg.train.limit_steps or 0),
        lr,
        _precision(cfg, device),
        channels_last,
    )
    run.scaler = _fp16_scaler(cfg, device)
    run.workers = streaming.default_workers(int(cfg.data.num_workers)) if run.streaming else 0
    run.theory = theory.with_dim(model.backbone.dim)
    if ck is not None:
        _load_state(run, ck)
    return run


def _pretraining_data(cfg: RunConfig) -> tuple[ImageSet, Any, np.ndarray]:
    """The dataset, and the images and labels pretrained on (:func:`pretraining_set`); a dataset of one class is
    refused when evaluations (which classify) are asked."""
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.data)
    if data.n_classes == 1 and cfg.eval.at_end:
        raise InputError(
            f"eval.at_end={cfg.eval.at_end}: the evaluations classify, and {data.name} has {data.n_classes} class; "
            f"add class folders, or pretrain without them (eval.at_end=[])"
        )
    ssl_x, ssl_y = pretraining_set(cfg, data)
    return data, ssl_x, ssl_y


#: what results.json says of a run on a dataset without labels
NO_LABELS = (
    "skipped: the dataset has no labels (unlabelled images, no class folders), which the end-of-training evaluations "
    "(linear, k-NN, few-shot, anomaly), the online probe's accuracy and the online k-NN monitor need"
)


def without_labels(cfg: RunConfig, data: ImageSet, explicit: Collection[str] = ()) -> RunConfig:
    """A dataset without labels (``n_classes`` 0: a flat folder of unlabelled images) pretrains only: the
    evaluations are skipped (``eval.at_end=[]``, a line in ``data.notices``), or refused with the reason when the
    command asked for them (``eval.at_end`` among the ``explicit`` keys)."""
    if data.n_classes or not cfg.eval.at_end:
        return cfg
    if "eval.at_end" in explicit:
        raise InputError(
            f"eval.at_end={list(cfg.eval.at_end)}: {data.name} has no labels (unlabelled images, no class folders) "
            f"and these evaluations classify; give class folders, or pretrain only (eval.at_end=[])"
        )
    data.notices.append(f"{data.name}: evaluations {NO_LABELS}")
    return with_values(cfg, {"eval.at_end": []})


def _steps(cfg: RunConfig, n_images: int, name: str, world: int) -> tuple[int, int, int, int]:
    """(global batch, steps per epoch, total steps, warmup steps) for ``n_images`` pretraining images."""
    B = int(cfg.optim.batch_size)
    if B % world:
        raise InputError(f"optim.batch_size={B} (global) must be divisible by the number of processes {world}")
    if B > n_images:
        raise InputError(f"optim.batch_size={B} exceeds the {n_images} pretraining images of {name}")
    steps_per_epoch = n_images // B
    if cfg.train.limit_batches:  # --limit-batches: shorter epochs (the schedules follow)
        steps_per_epoch = min(steps_per_epoch, int(cfg.train.limit_batches))
    total = steps_per_epoch * int(cfg.optim.epochs)
    return B, steps_per_epoch, total, int(round(float(cfg.optim.warmup_epochs) * steps_per_epoch))


def _wrapped(model: SSLModel, cfg: RunConfig, info: D.DistInfo, device: torch.device) -> nn.Module:
    """The module the steps call: ``model`` in DistributedDataParallel under DDP, compiled with ``model.compile``."""
    dmodel: nn.Module = model
    if info.enabled:
        dmodel = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.model.compile:
        dmodel = torch.compile(dmodel)  # type: ignore[assignment]
    return dmodel


def view_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of process ``rank``'s view generator: at the start of a run (step 0), or re-seeded at ``step`` when
    a checkpoint is resumed by another number of processes (its saved generator states do not fit)."""
    return seed * 7919 + 104729 * (rank + 1) + 15485863 * step


def seed_record(run: Run) -> dict[str, Any]:
    """The seeds the run's processes draw from (env.json and results.json's ``seeds``): the model's initialisation
    (``torch.manual_seed(seed)``), the epoch order (a function of (seed, epoch)) and each process's view generator
    (:func:`view_seed` of (seed, rank, step); a resumed checkpoint's generator states continue instead, unless the
    number of processes changed, when the generators are re-seeded at the resumed step)."""
    seed, step = int(run.cfg.seed), int(run.view_seed_step)
    resumed = bool(run.ck_world) and not step
    return {
        "seed": seed,
        "model_init": seed,
        "epoch_order": "torch.randperm(N) with torch.Generator().manual_seed(seed * 1000003 + epoch), the same in "
        "every process (each takes its shard)",
        "view_generators": [{"rank": r, "seed": view_seed(seed, r, step)} for r in range(run.info.world)],
        "view_generators_step": step,
        "rule": "view generator seed = seed * 7919 + 104729 * (rank + 1) + 15485863 * step (step 0 at the start; "
        "the resumed step when a checkpoint is resumed by another number of processes)"
        + ("; this session continued the checkpoint's saved generator states" if resumed else ""),
    }


def _held(ssl_x, ssl_y: np.ndarray, cfg: RunConfig, device: torch.device):
    """The pretraining images as the loop reads them: a uint8 tensor (on the device with data.on_device, else
    pinned for CUDA), or the :class:`FileImages` themselves when they stream from disk; labels as a tensor."""
    labels = torch.from_numpy(ssl_y)
    if isinstance(ssl_x, FileImages):
        return ssl_x, labels
    images = torch.from_numpy(ssl_x)
    if cfg.data.on_device:
        return images.to(device), labels.to(device)
    if device.type == "cuda":
        return images.pin_memory(), labels.pin_memory()
    return images, labels


def _load_state(run: Run, ck: dict) -> None:
    run.model.load_state_dict(ck["model"])
    if run.ema is not None and ck.get("ema") is not None:
        run.ema.load_state_dict(ck["ema"])
    run.opt.load_state_dict(ck["optimizer"])
    run.step = int(ck["step"])
    torch.set_rng_state(ck["rng"]["torch"])
    states = ck["rng"]["views"]
    if len(states) == run.info.world:
        run.gen.set_state(states[run.info.rank])
    else:  # another world size: the same global batches from the same position; new view streams
        run.gen.manual_seed(view_seed(run.cfg.seed, run.info.rank, run.step))
        run.view_seed_step = run.step
    run.ck_world = len(states)
    run.elapsed_prev = float(ck.get("train_seconds", 0.0))
    if run.scaler is not None and ck.get("scaler"):
        run.scaler.load_state_dict(ck["scaler"])
    run.resumed = True


def write_run_files(run: Run, resuming: bool, source: Path | None) -> None:
    """config.yaml, env.json (atomically, never through a planted symlink); the temporary files of a writer killed
    in ``RUN/``, ``RUN/checkpoints/``, ``RUN/check/`` or ``RUN/check-projector/`` removed
    (:func:`idealssl.atomic.remove_temps`: its own names only); on resume, metrics.jsonl cut back to the checkpoint's
    step (from ``source``'s when branching)."""
    if not run.info.main:
        return
    run.run_dir.mkdir(parents=True, exist_ok=True)
    for folder in (run.run_dir, run.ckpt_dir, run.run_dir / "check", run.run_dir / "check-projector"):
        atomic.remove_temps(folder)
    atomic.write_text(run.run_dir / "config.yaml", yaml.safe_dump(plain(run.cfg.to_dict()), sort_keys=False), "config")
    backbone = run.model.backbone
    env = environment(run.device, run.info)
    env.update(
        {
            "encoder": backbone.arch,
            "stem": backbone.stem,
            "dim": backbone.dim,
            "views": plain(run.vcfg.to_dict()),
            "dataset_notes": run.data.notes,
            "lr_after_scaling": run.lr,
            "batch_size_global": run.batch,
            "batch_size_per_process": run.b_local,
            "autocast_bf16": run.autocast,
            "autocast_fp16_grad_scaler": run.scaler is not None,
            "channels_last": run.channels_last,
            "data_on_device": bool(run.cfg.data.on_device) and not run.streaming,
            "data_stream": data_reading(run),
            "seeds": seed_record(run),
        }
    )
    atomic.write_text(run.run_dir / "env.json", json.dumps(plain(env), indent=2, default=str), "env file")
    if source is not None:
        reset_metrics(run.metrics_path, run.step, source / "metrics.jsonl")
    elif resuming:
        reset_metrics(run.metrics_path, run.step)


def data_reading(run: Run) -> dict:
    """How the pretraining images are read (env.json, results.json): streamed from files or held in memory,
    and why (data.stream, data.memory_budget_gb)."""
    d = run.cfg.data
    return {
        "streamed": run.streaming,
        "setting": _setting(d.stream),
        "memory_budget_gb": d.memory_budget_gb,
        "reason": run.data.stream or f"decoded once into memory (data.stream={_setting(d.stream)})",
        "workers": run.workers,
    }


def _setting(v) -> str:
    """data.stream as the user writes it (YAML's true/false, or auto)."""
    return str(v).lower()


def reading_line(run: Run) -> str:
    """The start-up line saying how the images are read."""
    if run.streaming:
        return (
            f"data: streamed from image files, decoded per batch by {run.workers} DataLoader worker(s) per "
            f"process ({run.data.stream})"
        )
    d = run.cfg.data
    return (
        f"data: {len(run.images)} pretraining images decoded once and held in memory "
        f"(data.stream={_setting(d.stream)}, data.memory_budget_gb={d.memory_budget_gb:g})"
    )


def world_change_line(run: Run) -> str:
    """On a resume with another number of processes: what stays and what changes ("" otherwise)."""
    if not run.ck_world or run.ck_world == run.info.world:
        return ""
    return (
        f"resuming a checkpoint written by {run.ck_world} process(es) with {run.info.world}: the global batch "
        f"stays {run.batch} (now {run.b_local} per process) and continues from the same global position (image "
        f"{(run.step % run.steps_per_epoch) * run.batch} of epoch {run.step // run.steps_per_epoch}), and the lr "
        f"stays {run.lr:g} (optim.lr_scaling={run.cfg.optim.lr_scaling} follows the global batch); the view "
        f"generators are re-seeded from (seed, rank, step), so augmentations (and per-process BatchNorm "
        f"statistics) differ from a {run.ck_world}-process continuation"
    )


# ------------------------------------------------------------------------------------------------ signals, checkpoints
class StopSignals:
    """SIGTERM/SIGINT set a flag (read once per step) instead of killing the process; handlers restored on exit."""

    def __init__(self) -> None:
        self.sig: int | None = None
        self._old: dict[int, object] = {}

    def _handler(self, signum, frame) -> None:  # noqa: ARG002
        self.sig = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)  # type: ignore[arg-type]


def checkpoint_state(run: Run, view_states: list, train_seconds: float) -> dict:
    """Everything a resume needs, at the run's current step."""
    backbone = run.model.backbone
    return {
        "format": "idealssl-checkpoint-1",
        "cfg": plain(run.cfg.to_dict()),
        "step": run.step,
        "epoch": run.step // max(1, run.steps_per_epoch),
        "steps_per_epoch": run.steps_per_epoch,
        "model": run.model.state_dict(),
        "backbone": backbone.state_dict(),
        "ema": run.ema.state_dict() if run.ema is not None else None,
        "optimizer": run.opt.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "views": view_states},
        "dim": backbone.dim,
        "arch": backbone.arch,
        "in_channels": run.data.channels,
        "image_size": run.vcfg.size,
        "n_classes": run.data.n_classes,
        "mean": list(run.data.mean),
        "std": list(run.data.std),
        "train_seconds": train_seconds,
        "scaler": run.scaler.state_dict() if run.scaler is not None else None,
    }


def non_finite_state(run: Run) -> str | None:
    """The name of the first parameter or buffer (model, EMA backbone) that is NaN or infinite, if any."""
    mods = [("", run.model)] + ([("ema.", run.ema)] if run.ema is not None else [])
    for prefix, mod in mods:
        for name, t in list(mod.named_parameters()) + list(mod.named_buffers()):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return prefix + name
    return None


def save_checkpoint(run: Run, session: Session, name: str = "last.pt", background: bool = False) -> None:
    """Gather every process's view-generator state, then rank 0 writes ``checkpoints/<name>`` atomically;
    never a checkpoint whose weights are not finite (the last good one is kept, :class:`NonFiniteLoss`). With
    ``background`` the state is serialised here and written by ``session.writer`` while the run goes on
    (:class:`idealssl.train.checkpoint.Writer`); a pending write always lands before the next checkpoint."""
    session.writer.wait()
    bad = non_finite_state(run)
    if bad is not None:
        last = ckpt_mod.find_last(run.run_dir)
        raise NonFiniteLoss(
            f"parameters are not finite at step {run.step} ({bad}; the loss was {session.last_loss:g}); the checkpoint "
            f"was not written. Last good checkpoint: {last if last else 'none yet'}. Try a lower optim.lr "
            f"(now {run.lr:g}) or optim.grad_clip"
        )
    states = D.gather_obj(run.gen.get_state().cpu(), run.info)
    if run.info.main:
        state = checkpoint_state(run, states, session.train_seconds(run))
        if background:
            session.writer.save(state, run.ckpt_dir / name)
        else:
            ckpt_mod.save_atomic(state, run.ckpt_dir / name)


# ------------------------------------------------------------------------------------------------ loop
@dataclass
class Session:
    """This process's training session: timing, counters, the open metrics file."""

    t_train: float
    metrics: IO[str] | None
    progress: Progress
    steps: int = 0
    last_loss: float = float("nan")
    extra: list = field(default_factory=list)  #: optional loggers (csv, tb, wandb; idealssl.train.loggers)
    #: writes the end-of-epoch checkpoints while the run goes on (rank 0)
    writer: ckpt_mod.Writer = field(default_factory=ckpt_mod.Writer)
    #: process CPU seconds at the start of training; replaced by the training CPU seconds when training ends
    cpu_train: float = field(default_factory=time.process_time)
    load_start: float | None = field(default_factory=lambda: _load_average())  #: 1-min load average then

    def train_seconds(self, run: Run) -> float:
        return run.elapsed_prev + (time.time() - self.t_train)

    def log(self, rec: dict) -> None:
        if self.metrics is not None:
            try:
                self.metrics.write(json.dumps(rec) + "\n")
                self.metrics.flush()
            except OSError as exc:
                raise InputError(
                    f"cannot write {self.metrics.name}: "
                    f"{exc.strerror or exc} (no space left on the device?); the last checkpoint is kept, "
                    f"continue with --resume once there is room"
                ) from None
        for lg in self.extra:
            lg.log(rec)


def _batch(run: Run, perm: torch.Tensor, pos: int):
    idx = streaming.batch_indices(perm, pos, run.batch, run.info.rank, run.b_local)
    if run.cfg.data.on_device and isinstance(run.images, torch.Tensor):  # FileImages stream: never on the device
        xb, yb = run.images[idx.to(run.images.device)], run.labels[idx.to(run.labels.device)]
    else:
        xb, yb = run.images[idx], run.labels[idx]
    return xb.to(run.device, non_blocking=True), yb.to(run.device, non_blocking=True)


def _batches(run: Run, epoch: int, pos: int):
    """This process's ``(images, labels)`` batches of ``epoch`` from position ``pos`` on, on the device: indexed
    from the images in memory, or decoded from their files by DataLoader workers (data.stream); the same
    indices either way (:mod:`idealssl.data.stream`)."""
    stop = run.steps_per_epoch
    if run.limit:
        stop = min(stop, pos + max(0, run.limit - run.step))
    if not run.streaming:
        perm = streaming.epoch_permutation(run.cfg.seed, epoch, len(run.images))
        for p in range(pos, stop):
            yield _batch(run, perm, p)
        return
    sampler = streaming.EpochBatches(
        len(run.images), run.cfg.seed, epoch, run.batch, run.info.rank, run.info.world, pos, stop
    )
    dataset = streaming.DecodedFiles(run.images, run.labels.numpy())  # type: ignore[arg-type]
    for xb, yb in streaming.batch_loader(dataset, sampler, run.workers, run.device.type == "cuda"):
        yield xb.to(run.device, non_blocking=True), yb.to(run.device, non_blocking=True)


def _loss_check(run: Run, stop: StopSignals, epoch: int):
    """One collective per step: the mean loss (NaN check, log) and whether any process received
    SIGTERM/SIGINT, so that all processes stop at the same step."""

    def check(loss: torch.Tensor):
        flags = torch.stack(
            [loss.detach().float().reshape(()), torch.tensor(float(stop.sig is not None), device=loss.device)]
        )
        if run.info.enabled:
            torch.distributed.all_reduce(flags)
            flags[0] /= run.info.world
        lval = flags[0]
        if not torch.isfinite(lval):
            last = ckpt_mod.find_last(run.run_dir)
            raise NonFiniteLoss(
                f"loss is {float(lval)} at step {run.step} (epoch {epoch}) of {run.cfg.method} on {run.data.name}; "
                f"stopped. Last good checkpoint: {last if last else 'none yet'}. "
                f"Try a lower optim.lr (now {run.lr:g}), train.precision=32, or a larger optim.grad_clip"
            )
        return float(lval), bool(flags[1] > 0)

    return check


def train_step(run: Run, session: Session, stop: StopSignals, xb: torch.Tensor, yb: torch.Tensor, epoch: int) -> bool:
    """One optimisation step (:func:`idealssl.train.step.training_step`); True when a stop signal arrived."""

    def forward():
        views = run.views_fn(xb)
        if run.channels_last:
            views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        targets = None
        if run.ema is not None:
            with torch.no_grad():
                targets = [t.float() for t in run.model.encode(views[: run.n_global], run.ema)]
        return run.dmodel(views, targets, yb)

    out = training_step(
        forward,
        run.opt,
        run.model.objective,
        run.step,
        run.schedules,
        ema=run.ema,
        online=run.model.backbone,
        grad_clip=float(run.cfg.optim.grad_clip or 0.0),
        autocast=run.autocast or run.scaler is not None,
        device_type=run.device.type,
        check=_loss_check(run, stop, epoch),
        autocast_dtype=torch.float16 if run.scaler is not None else torch.bfloat16,
        scaler=run.scaler,
    )
    lval, stop_now = out.checked
    run.step += 1
    session.steps += 1
    session.last_loss = lval
    if run.step % max(1, int(run.cfg.train.log_every)) == 0 or run.step == run.total:
        rec = {
            "step": run.step,
            "epoch": epoch,
            "loss": lval,
            "probe_loss": float("nan") if out.aux_loss is None else float(out.aux_loss.detach()),
            "lr": run.opt.param_groups[0]["lr"],
        }
        rec.update(_scalar_logs(out.logs))
        session.log(rec)
    session.progress.update(run.step, epoch, lval)
    return stop_now


def train_one_epoch(run: Run, session: Session, stop: StopSignals) -> None:
    """The remaining steps of the current epoch (or up to ``train.limit_steps``). The permutation is a
    function of (seed, epoch) only, so a resumed epoch continues the same order."""
    epoch, pos = divmod(run.step, run.steps_per_epoch)
    batches = _batches(run, epoch, pos)
    try:
        for xb, yb in batches:
            if train_step(run, session, stop, xb, yb, epoch):
                save_checkpoint(run, session)
                raise Interrupted(stop.sig or signal.SIGTERM, run.ckpt_dir / "last.pt")
    finally:
        batches.close()  # a streamed epoch's DataLoader workers stop here


@torch.no_grad()
def epoch_monitors(run: Run, session: Session, epoch: int) -> dict:
    """Label-free monitors on a fixed batch: RankMe of plain features, invariance ratio of two views."""
    model = run.model
    model.eval()
    with torch.autocast(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.autocast):
        xm = torch.as_tensor(run.images[: min(256, int(run.cfg.eval.max_images) or 256)]).to(run.device)
        plain = model.backbone(run.views_fn.plain(xm)).float()
        state = run.gen.get_state()
        v2 = [model.backbone(v).float() for v in run.views_fn(xm)[:2]]
        run.gen.set_state(state)  # monitors must not change the training views
    model.train()
    rec = {
        "step": run.step,
        "epoch": epoch,
        "end_of_epoch": True,
        "loss": session.last_loss,
        "rankme": monitors.rankme(plain),
        "invariance_ratio": monitors.invariance_ratio(*v2),
    }
    every = int(run.cfg.eval.online_knn_every)
    if every and (epoch + 1) % every == 0:
        rec.update(online_knn(run))
    rec["train_seconds"] = session.train_seconds(run)
    return rec


def online_knn(run: Run) -> dict:
    """The online k-NN monitor (as solo-learn's): top-1 of the weighted cosine k-NN of the first ``eval.knn_k`` /
    ``eval.knn_t`` setting, plain eval-mode backbone features, a memory bank of ``eval.online_knn_bank`` train
    images and ``eval.online_knn_queries`` test images, both fixed seeded subsets (the same at every epoch and
    after a resume; no random state of training is touched). Empty when the data has fewer than 2 classes."""
    data = run.data
    if data.n_classes < 2 or len(data.train_x) == 0 or len(data.test_x) == 0:
        return {}
    rng = np.random.default_rng(int(run.cfg.seed) + 13)
    e = run.cfg.eval

    def subset(n_all: int, n: int) -> np.ndarray:
        return np.arange(n_all) if n >= n_all else np.sort(rng.choice(n_all, size=n, replace=False))

    ib, iq = subset(len(data.train_x), int(e.online_knn_bank)), subset(len(data.test_x), int(e.online_knn_queries))
    ks, ts = evaluate.knn_axes(e.knn_k, e.knn_t)
    k, temp = ks[0], ts[0]
    feats = [
        evaluate.extract(
            run.model.backbone, run.views_fn.plain, take(x, i), run.device, int(e.batch_size), run.autocast
        )
        for x, i in ((data.train_x, ib), (data.test_x, iq))
    ]
    got = evaluate.knn(feats[0], data.train_y[ib], feats[1], data.test_y[iq], data.n_classes, k, temp)
    return {"online_knn": got["top1"]}


def fit(run: Run, session: Session, stop: StopSignals) -> None:
    """Epochs until the end (or ``train.limit_steps``): steps, end-of-epoch monitors, checkpoints."""
    ckpt_every = max(1, int(run.cfg.train.ckpt_every_epochs))
    if run.resumed and ckpt_mod.find_last(run.run_dir) is None:
        save_checkpoint(run, session)  # a branch (--resume FILE --out NEW): NEW holds its own start from step one
    run.dmodel.train()
    if run.ema is not None:
        run.ema.train()
    while not run.done():
        epoch = run.step // run.steps_per_epoch
        train_one_epoch(run, session, stop)
        if run.step == (epoch + 1) * run.steps_per_epoch:  # the epoch is complete
            if session.metrics is not None:
                session.log(epoch_monitors(run, session, epoch))
            if (epoch + 1) % ckpt_every == 0 or run.step >= run.total:
                save_checkpoint(run, session, background=True)
                if run.info.main and run.cfg.train.keep_epoch_ckpts:
                    save_checkpoint(run, session, f"epoch={epoch + 1}.pt", background=True)
    session.progress.update(run.step, run.step // max(1, run.steps_per_epoch), session.last_loss, force=True)
    if run.limit and run.step >= run.limit and run.step < run.total:
        save_checkpoint(run, session, background=True)


# ------------------------------------------------------------------------------------------------ results
def finalise(run: Run, session: Session, train_seconds: float, t_setup: float, verbose: bool) -> dict:
    """results.json (rank 0): throughput, peak memory, the end-of-training evaluations."""
    if not run.info.main:
        return {}
    use_cuda = run.device.type == "cuda"
    peak = (
        torch.cuda.max_memory_allocated(run.device) / 2**20
        if use_cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    backbone = run.model.backbone
    results = {
        "method": run.cfg.method,
        "dataset": run.data.name,
        "seed": run.cfg.seed,
        "seeds": seed_record(run),
        "epochs": int(run.cfg.optim.epochs),
        "steps": run.step,
        "encoder": {"arch": backbone.arch, "stem": backbone.stem, "dim": backbone.dim},
        "run_dir": str(run.run_dir),
        "world_size": run.info.world,
        "device": str(run.device),
        "throughput": _throughput(run, session, train_seconds),
        "data_stream": data_reading(run),
        "peak_memory_mib": peak,
        "peak_memory_protocol": (
            "torch.cuda.max_memory_allocated" if use_cuda else "process max resident set size (ru_maxrss), rank 0"
        ),
        "train_seconds": run.elapsed_prev + train_seconds,
        "final_loss": session.last_loss,
    }
    if run.data.split is not None:
        results["data_split"] = run.data.split
    if run.data.n_classes == 0:
        results["eval_skipped"] = NO_LABELS
    t_eval, cpu_eval = time.time(), time.process_time()
    if run.cfg.eval.at_end and run.step >= run.total:
        results["eval"] = evaluate_model(
            backbone,
            run.model.objective,
            run.data,
            run.views_fn,
            run.device,
            run.cfg,
            probe=run.model.probe if run.cfg.probe.online else None,
            autocast=run.autocast,
            verbose=verbose,
        )
    orbit_sets.finalise_hook(run, results, verbose)
    results["timing"] = _timing(session, train_seconds, time.time() - t_eval, time.process_time() - cpu_eval)
    results["setup_seconds"] = time.time() - t_setup - train_seconds
    session.writer.wait()  # the last checkpoint is on disk before the results say the run ended
    atomic.write_text(run.run_dir / "results.json", json.dumps(plain(results), indent=2, default=str), "results file")
    _log(verbose, run.info, summary(results))
    return results


def _throughput(run: Run, session: Session, train_seconds: float) -> dict:
    """Pretraining images per second over this session's steps; null when the session trained none (a finished
    run resumed or branched: only its evaluation ran)."""
    rate = session.steps * run.batch / max(train_seconds, 1e-9) if session.steps else None
    return {
        "images_per_s": rate,
        "views_per_image": run.vcfg.n_global + run.vcfg.n_local,
        "protocol": "pretraining images per second over this session's steps (global batch, all processes; includes "
        "view generation, forward, backward, optimiser)"
        + ("" if session.steps else "; null: no training step in this session (the run was complete)"),
    }


def train(cfg: RunConfig, opts: ResumeOptions | None = None, verbose: bool = True) -> dict:
    """Pretrain, checkpoint and evaluate; returns the results dict (also written to results.json).

    Parameters
    ----------
    cfg : RunConfig
        The run's configuration (:func:`idealssl.train.config.build`).
    opts : ResumeOptions, optional
        How the run starts: ``resume`` (None, ``"auto"``: the run directory's ``checkpoints/last.pt``, a checkpoint
        path, or a run directory), the settings the command gave explicitly (dotted keys), ``--allow-changes`` and
        ``--overwrite`` (:mod:`idealssl.train.resume`, :mod:`idealssl.train.rundir`). Default: a fresh run.
    verbose : bool
        Print the start-up lines, progress and results (rank 0).
    """
    opts = opts or ResumeOptions()
    info, device = D.setup(str(cfg.device))
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.get_num_threads(),
    )
    lock = RunLock("idealssl train")
    try:
        with run_threads(int(cfg.train.threads)):
            return _train(cfg, opts, verbose, info, device, lock)
    finally:
        lock.release()
        D.teardown()
        torch.use_deterministic_algorithms(before[0])  # train.deterministic holds for this run only
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[1], before[2]
        torch.set_num_threads(before[3])  # train.threads holds for this run only


@contextlib.contextmanager
def run_threads(n: int) -> Iterator[None]:
    """``train.threads``: ``n`` torch intra-op threads and ``n`` BLAS/OpenMP threads of NumPy and SciPy
    (threadpoolctl, scikit-learn's dependency) while the run lasts; 0 leaves both as they are. On a 2-core machine
    shared with other work, two threads per process wait for each other on busy cores: one NumPy least-squares
    check of the end-of-run check took 2.4-7.3 s with 2 BLAS threads and 0.15-0.3 s with 1 (load average 7-9)."""
    if not n:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    with threadpool_limits(n):
        yield


def _log(verbose: bool, info: D.DistInfo, msg: str) -> None:
    if verbose and info.main:
        print(msg, file=sys.stderr, flush=True)


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def deterministic(on: bool) -> None:
    """train.deterministic: deterministic kernels (an error for an op without one), cuDNN autotuning off."""
    if not on:
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def _train(
    cfg: RunConfig, opts: ResumeOptions, verbose: bool, info: D.DistInfo, device: torch.device, lock: RunLock
) -> dict:
    t_setup = time.time()
    cfg, run_dir, ck, source = resume_point(cfg, opts, info, verbose, lock)
    deterministic(bool(cfg.train.deterministic))
    run = setup(cfg, run_dir, ck, info, device, opts.explicit)
    write_run_files(run, bool(opts.resume), source)
    _log(verbose, info, f"run directory: {run.run_dir}")
    for line in run.data.notices:
        _log(verbose, info, line)
    if info.enabled and not run.cfg.model.sync_bn and _has_batchnorm(run.model):
        _log(
            verbose,
            info,
            f"warning: BatchNorm statistics are computed per process ({run.b_local} of {run.batch} "
            f"images each), so results depend on the number of processes ({info.world}); "
            f"model.sync_bn=true (CUDA) makes them global",
        )
    _log(
        verbose,
        info,
        f"{run.cfg.method} on {run.data.name}: {len(run.images)} pretraining images, "
        f"{run.model.backbone.arch} ({run.model.backbone.stem}), d={run.model.backbone.dim}, "
        f"{run.cfg.optim.epochs} epochs x {run.steps_per_epoch} steps, global batch {run.batch} "
        f"({info.world} process(es)), lr {run.lr:g}, device {device}"
        + (f"; resuming at step {run.step}" if run.resumed else ""),
    )
    _log(verbose, info, reading_line(run))
    if world_change_line(run):
        _log(verbose, info, world_change_line(run))
    if run.theory is not None:
        _log(verbose, info, run.theory.describe())
    total = run.total if not run.limit else min(run.total, run.limit)
    _log(verbose, info, timing.expectation(run.cfg, total - run.step, run.batch, device.type, run.cfg.train.progress))
    progress = Progress(
        str(run.cfg.train.progress),
        total,
        verbose and info.main,
        batch=run.batch,
        start_step=run.step,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    metrics = atomic.open_append(run.metrics_path, "metrics file") if info.main else None
    session = Session(time.time(), metrics, progress)
    results = _fit_and_finalise(run, session, info, t_setup, verbose)
    if info.enabled:
        torch.distributed.barrier()
    failed = (results.get("check") or {}).get("failed")
    if failed:  # results.json holds the run's results and says the check failed; the exit status says so too
        raise atomic.WriteError(
            f"the end-of-run check failed: {failed}; the run's other results are in {run.run_dir / 'results.json'} "
            f"(idealssl eval check {run.run_dir} redoes the check)"
        )
    return results


def _fit_and_finalise(run: Run, session: Session, info: D.DistInfo, t_setup: float, verbose: bool) -> dict:
    """Train (:func:`fit`), close the display, the loggers and the metrics file, then :func:`finalise`; the
    background checkpoint write lands before any error propagates (:func:`_drain`)."""
    try:
        try:
            if info.main:
                session.extra = build_loggers(list(run.cfg.train.loggers), run.run_dir, plain(run.cfg.to_dict()))
            with StopSignals() as stop:
                fit(run, session, stop)
        finally:
            session.progress.close()
            for lg in session.extra:
                lg.close()
            if session.metrics is not None:
                try:
                    session.metrics.close()
                except OSError:  # the failed write is reported already
                    pass
        session.cpu_train = time.process_time() - session.cpu_train  # now: this session's training CPU seconds
        results = finalise(run, session, time.time() - session.t_train, t_setup, verbose)
    except BaseException:
        _drain(session, info)
        raise
    session.writer.close()
    return results


def _drain(session: Session, info: D.DistInfo) -> None:
    """On an error: the checkpoint being written lands before the error propagates; if that write failed too, one
    line says so (the previous checkpoint is kept) and the first error is the one raised."""
    err = session.writer.close()
    if err is not None and info.main:
        print(f"note: the last checkpoint could not be written either ({ckpt_mod.first_line(err)})", file=sys.stderr)


def _load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _timing(session: Session, train_s: float, eval_s: float, eval_cpu_s: float) -> dict:
    """Wall and CPU seconds of this session's training and of the evaluation, with the machine's load then:
    on a shared machine the wall time says little without the load, and CPU time hardly depends on it."""
    return {
        "train_wall_s": round(train_s, 2),
        "train_cpu_s": round(session.cpu_train, 2),
        "eval_wall_s": round(eval_s, 2),
        "eval_cpu_s": round(eval_cpu_s, 2),
        "load_average_1min": {"train_start": session.load_start, "end": _load_average()},
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "protocol": "wall: time.time(); CPU: time.process_time() of rank 0 (every thread of the process); "
        "evaluation = the end-of-training evaluations and the check (its CPU time includes the last checkpoint's "
        "write, which runs beside them); load average: os.getloadavg()[0]",
    }


def summary(results: dict) -> str:
    ev = results.get("eval", {})
    parts = [f"{results['method']} / {results['dataset']} seed {results['seed']}:"]
    if "online_linear" in ev:
        parts.append(f"online linear {ev['online_linear']['top1']:.4f}")
    if "linear" in ev:
        parts.append(f"linear {ev['linear']['top1']:.4f} (wd {ev['linear']['chosen_wd']:g} chosen on val)")
    if "knn" in ev:
        parts.append(f"knn@k={ev['knn']['k']},T={ev['knn']['temperature']},cosine {ev['knn']['top1']:.4f}")
    for s in (ev.get("knn_grid") or {}).get("settings", [])[1:]:
        parts.append(f"knn@k={s['k']},T={s['temperature']} {s['top1']:.4f}")
    if "fewshot" in ev:
        f = ev["fewshot"]
        parts.append(f"{f['k_per_class']}-shot {f['top1']:.4f} (raw pixels {f['raw_pixels_top1']:.4f})")
    if "anomaly" in ev:
        parts.append(f"anomaly AUROC (k-NN) {ev['anomaly']['auroc_mean']:.4f}")
    if "anomaly_likelihood" in ev:
        parts.append(f"anomaly AUROC (likelihood) {ev['anomaly_likelihood']['auroc_mean']:.4f}")
    rate = results["throughput"]["images_per_s"]
    speed = "no training step in this session" if rate is None else f"{rate:.0f} img/s"
    parts.append(f"{speed}, {results['train_seconds']:.1f}s training")
    return " | ".join(parts)
