"""The training loop: data -> views -> encoder -> objective -> optimiser, then evaluation.

One function, :func:`train`, runs a whole experiment from a resolved configuration
(:mod:`idealssl.train.config`) and writes a run directory::

    config.yaml      resolved configuration
    env.json         versions, git revision, device, world size, threads
    metrics.jsonl    one JSON object per logged step / epoch (loss, lr, objective logs, monitors)
    results.json     final numbers, each with its protocol; throughput and peak memory
    checkpoints/last.pt   atomic, every ``train.ckpt_every_epochs`` epochs, at the end, on SIGTERM/SIGINT

Determinism and resuming: the epoch's permutation is a function of (seed, epoch) only, the views
are drawn from a device ``torch.Generator`` whose state is checkpointed (per process), and the
checkpoint holds every other piece of state (model, objective buffers, EMA backbone, online probe,
optimiser, step counter, torch RNG). A run stopped at step t (SIGTERM, SIGINT, or killed and
resumed from its last epoch checkpoint) and resumed with ``--resume`` computes the same losses as
an uninterrupted run on CPU.

Distributed: under ``torchrun`` the model (backbone + objective heads + online probe) is wrapped in
``DistributedDataParallel``; each of the W processes takes a disjoint slice of size B/W of every
global batch B; objectives gather batch statistics themselves (objectives.base). Optional SyncBN
(``model.sync_bn``).
"""
from __future__ import annotations

import copy
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from .. import metrics as monitors
from ..data.datasets import ImageSet, load_dataset
from ..data.views import ViewConfig, ViewGenerator
from ..errors import InputError
from ..models import build_encoder
from . import checkpoint as ckpt_mod
from . import distributed as D
from . import evaluate as E
from .config import lr_for


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


class Interrupted(RuntimeError):
    def __init__(self, signum: int, path: Path):
        super().__init__(f"stopped by signal {signum}; checkpoint written to {path}")
        self.signum, self.path = signum, path


# ------------------------------------------------------------------------------------------------ model
class SSLModel(nn.Module):
    """Backbone + objective (heads, teacher state) + detached online linear probe.

    ``forward`` encodes views of the same resolution in one pass, evaluates the objective, and fits
    the probe on the first global view's features with the gradient stopped, so the probe never
    shapes the representation (solo-learn's online probe).
    """

    def __init__(self, backbone: nn.Module, objective: nn.Module, n_classes: int):
        super().__init__()
        self.backbone = backbone
        self.objective = objective
        self.probe = nn.Linear(backbone.dim, max(1, n_classes))

    def encode(self, views: List[torch.Tensor], net: Optional[nn.Module] = None) -> List[torch.Tensor]:
        net = net or self.backbone
        out: List[Optional[torch.Tensor]] = [None] * len(views)
        groups: Dict[tuple, List[int]] = {}
        for i, v in enumerate(views):
            groups.setdefault(tuple(v.shape[1:]), []).append(i)
        for idx in groups.values():
            z = net(torch.cat([views[i] for i in idx]))
            for j, i in enumerate(idx):
                out[i] = z[j * views[i].shape[0]:(j + 1) * views[i].shape[0]]
        return out  # type: ignore[return-value]

    def forward(self, views, targets, labels):
        feats = self.encode(views)
        out = self.objective([f.float() for f in feats], targets)
        logits = self.probe(feats[0].detach().float())
        lab = labels.long()
        n = (lab >= 0).sum()
        probe_loss = F.cross_entropy(logits, lab.clamp_min(0), reduction="none")
        probe_loss = (probe_loss * (lab >= 0)).sum() / n.clamp_min(1)
        return out.loss, probe_loss, out.logs


# ------------------------------------------------------------------------------------------------ helpers
def _git_rev() -> Optional[str]:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                           text=True, timeout=5)
        return r.stdout.strip() or None
    except Exception:  # noqa: BLE001
        return None


def environment(device: torch.device, info: D.DistInfo) -> dict:
    import torchvision
    import sklearn

    from .. import __version__

    env = {"idealssl": __version__, "git_revision": _git_rev(), "python": sys.version.split()[0],
           "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__,
           "scikit_learn": sklearn.__version__, "platform": platform.platform(), "processor": platform.processor(),
           "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": str(device),
           "world_size": info.world, "backend": (torch.distributed.get_backend() if info.enabled else None),
           "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def view_config(cfg: dict, data: ImageSet, n_global: int) -> ViewConfig:
    v = dict(cfg["views"])
    size = v.pop("size") or data.image_size
    local = v.pop("local_size") or max(4, size // 2)
    v["n_global"] = n_global
    tup = {k: tuple(v[k]) for k in ("scale", "ratio", "jitter", "blur_sigma", "local_scale")}
    v.update(tup)
    return ViewConfig(size=int(size), local_size=int(local), **v)


def _json_default(o):
    if isinstance(o, torch.Tensor):
        return o.item() if o.numel() == 1 else o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    return str(o)


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

    def __init__(self, mode: str, total: int, enabled: bool):
        self.enabled = enabled and mode != "off"
        self.tty = sys.stderr.isatty() if mode == "auto" else mode == "bar"
        self.total, self.t0, self.last = total, time.time(), 0.0

    def update(self, step: int, epoch: int, loss: float, force: bool = False):
        if not self.enabled:
            return
        now = time.time()
        if self.tty:
            if now - self.last > 0.2 or force:
                frac = step / max(1, self.total)
                bar = "#" * int(30 * frac)
                sys.stderr.write(f"\r[{bar:<30}] {step}/{self.total} epoch {epoch} loss {loss:.4f} {now - self.t0:.0f}s")
                sys.stderr.flush()
                self.last = now
        elif force or now - self.last > 10:
            print(f"step {step}/{self.total} epoch {epoch} loss {loss:.4f} elapsed {now - self.t0:.0f}s",
                  file=sys.stderr, flush=True)
            self.last = now

    def close(self):
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def _schedule(step: int, total: int, warmup: int) -> float:
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 (the ISSL protocol)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def _make_optimizer(cfg: dict, model: SSLModel, lr: float):
    o = cfg["optim"]
    main = [p for n, p in model.named_parameters() if not n.startswith("probe.") and p.requires_grad]
    groups = [{"params": main, "lr": lr, "weight_decay": float(o["weight_decay"]), "base_lr": lr},
              {"params": list(model.probe.parameters()), "lr": float(cfg["probe"]["lr"]), "weight_decay": 0.0,
               "base_lr": float(cfg["probe"]["lr"]), "fixed": True}]
    name = str(o["name"]).lower()
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=float(o["momentum"]))
    raise InputError(f"optim.name={name!r} is not supported by this trainer; use adamw, adam or sgd")


def build_objective(cfg: dict, dim: int):
    from ..objectives import build

    try:
        return build(cfg["method"], dim=dim, **(cfg.get("objective") or {}))
    except KeyError as exc:
        raise InputError(str(exc.args[0]) if exc.args else str(exc)) from None
    except TypeError as exc:
        raise InputError(f"method {cfg['method']!r}: bad objective hyperparameters {cfg.get('objective')} ({exc})") from None


def _subset(x: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    if fraction >= 1:
        return x
    n = max(1, int(round(len(x) * fraction)))
    idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return x[idx]


def _new_run_dir(cfg: dict) -> Path:
    if cfg.get("out"):
        return Path(cfg["out"])
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{cfg['dataset']}-{cfg['method']}"
    d = base / f"{stamp}-s{cfg['seed']}"
    i = 1
    while d.exists():
        d = base / f"{stamp}-s{cfg['seed']}-{i}"
        i += 1
    return d


def _truncate_metrics(path: Path, step: int) -> None:
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("step", 0) <= step:
            keep.append(line)
    path.write_text("".join(l + "\n" for l in keep))


# ------------------------------------------------------------------------------------------------ train
def train(cfg: dict, resume: Optional[str] = None, verbose: bool = True) -> dict:
    """Pretrain, checkpoint and evaluate; returns the results dict (also written to results.json).

    Parameters
    ----------
    cfg : dict
        Resolved configuration (:func:`idealssl.train.config.resolve`).
    resume : str, optional
        ``"auto"`` (the run directory's ``checkpoints/last.pt``), a checkpoint path, or a run directory.
    """
    info, device = D.setup(str(cfg["device"]))
    try:
        return _train(cfg, resume, verbose, info, device)
    finally:
        D.teardown()


def _log(verbose: bool, info: D.DistInfo, msg: str) -> None:
    if verbose and info.main:
        print(msg, file=sys.stderr, flush=True)


def _train(cfg: dict, resume, verbose: bool, info: D.DistInfo, device: torch.device) -> dict:
    t_setup = time.time()
    seed = int(cfg["seed"])
    # ---- run directory and resume point
    ck = None
    run_dir = None
    if resume:
        if resume == "auto":
            if not cfg.get("out"):
                raise InputError("--resume without a path needs --out RUN_DIR (the run to continue)")
            run_dir = Path(cfg["out"])
            last = ckpt_mod.find_last(run_dir)
            if last is None:
                _log(verbose, info, f"no checkpoint in {run_dir}/checkpoints; starting from scratch")
            else:
                ck = ckpt_mod.load(last)
        else:
            path = ckpt_mod.resolve_checkpoint(resume)
            ck = ckpt_mod.load(path)
            run_dir = path.parent.parent
    if run_dir is None:
        run_dir = _new_run_dir(cfg)
    run_dir = Path(D.broadcast_obj(str(run_dir), info))
    if ck is not None:
        # the checkpoint's configuration wins, except what does not change the trajectory
        keep = {k: copy.deepcopy(cfg[k]) for k in ("device", "eval", "data_dir")}
        old = ck["cfg"]
        keep["train"] = dict(old["train"], limit_steps=cfg["train"]["limit_steps"], progress=cfg["train"]["progress"])
        for k in ("method", "dataset", "seed"):
            if old.get(k) != cfg.get(k):
                raise InputError(f"--resume: checkpoint was trained with {k}={old.get(k)!r}, this command asks {cfg.get(k)!r}")
        cfg = copy.deepcopy(old)
        cfg.update(keep)
    ckpt_dir = run_dir / "checkpoints"
    data = load_dataset(cfg["dataset"], cfg.get("data_dir"), cfg["data"])
    ssl_y = data.train_y if data.pretrain_x is None else np.full(len(data.ssl_x), -1, np.int64)
    if data.pretrain_x is not None:
        ssl_y[len(data.ssl_x) - len(data.train_y):] = data.train_y  # STL-10: unlabeled then train
    ssl_x = data.ssl_x
    only = cfg["data"].get("only_class")
    if only is not None:
        # one-class protocol: pretrain on the labelled train images of one class only
        if not (isinstance(only, int) and 0 <= only < data.n_classes):
            raise InputError(f"data.only_class must be an integer in 0..{data.n_classes - 1}, got {only!r}")
        ssl_x, ssl_y = data.train_x[data.train_y == only], data.train_y[data.train_y == only]
    ssl_x = _subset(ssl_x, float(cfg["data"]["fraction"]), seed)
    ssl_y = _subset(ssl_y, float(cfg["data"]["fraction"]), seed)
    metrics_path = run_dir / "metrics.jsonl"

    # ---- model
    torch.manual_seed(seed)
    m = cfg["model"]
    backbone = build_encoder(m["arch"], data.channels, int(cfg["views"]["size"] or data.image_size),
                             m["expand_dim"], m["small_stem"], int(m["width"]))
    objective = build_objective(cfg, backbone.dim)
    n_global = int(getattr(objective, "n_global", 2))
    vcfg = view_config(cfg, data, n_global)
    model = SSLModel(backbone, objective, data.n_classes).to(device)
    ema = None
    if getattr(objective, "momentum_backbone", False):
        ema = copy.deepcopy(backbone).to(device)
        for p in ema.parameters():
            p.requires_grad_(False)
    use_cuda = device.type == "cuda"
    if m["sync_bn"] and info.enabled:
        if not use_cuda:
            raise InputError("model.sync_bn=true needs CUDA devices (PyTorch's SyncBatchNorm is GPU-only); "
                             "on CPU each process normalises its own B/W images")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    use_cuda = device.type == "cuda"
    channels_last = (m["channels_last"] == "auto" and use_cuda) or m["channels_last"] is True
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    prec = str(cfg["train"]["precision"])
    autocast = (prec == "auto" and use_cuda) or prec == "bf16"
    if autocast and device.type == "cpu":
        autocast = prec == "bf16"

    # ---- batches
    B = int(cfg["optim"]["batch_size"])
    if B % info.world:
        raise InputError(f"optim.batch_size={B} (global) must be divisible by the number of processes {info.world}")
    if B > len(ssl_x):
        raise InputError(f"optim.batch_size={B} exceeds the {len(ssl_x)} pretraining images of {data.name}")
    b_local = B // info.world
    steps_per_epoch = len(ssl_x) // B
    epochs = int(cfg["optim"]["epochs"])
    total = steps_per_epoch * epochs
    limit = int(cfg["train"]["limit_steps"] or 0)
    warmup = int(round(float(cfg["optim"]["warmup_epochs"]) * steps_per_epoch))
    lr = lr_for(cfg)
    opt = _make_optimizer(cfg, model, lr)

    on_device = bool(cfg["data"]["on_device"])
    images = torch.from_numpy(ssl_x)
    labels = torch.from_numpy(ssl_y)
    if on_device:
        images, labels = images.to(device), labels.to(device)
    elif use_cuda:
        images, labels = images.pin_memory(), labels.pin_memory()
    gen = torch.Generator(device=device)
    gen.manual_seed(seed * 7919 + 104729 * (info.rank + 1))
    views_fn = ViewGenerator(vcfg, data.mean, data.std, gen)

    dmodel: nn.Module = model
    if info.enabled:
        dmodel = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if use_cuda else None)
    if m["compile"]:
        dmodel = torch.compile(dmodel)

    step = 0
    elapsed_prev = 0.0
    if ck is not None:
        model.load_state_dict(ck["model"])
        if ema is not None and ck.get("ema") is not None:
            ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["optimizer"])
        step = int(ck["step"])
        torch.set_rng_state(ck["rng"]["torch"])
        states = ck["rng"]["views"]
        if len(states) != info.world:
            raise InputError(f"--resume: checkpoint written by {len(states)} processes, now {info.world}; resume with the same number")
        gen.set_state(states[info.rank])
        elapsed_prev = float(ck.get("train_seconds", 0.0))

    if info.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(cfg, default=_json_default)), sort_keys=False))
        env = environment(device, info)
        env.update({"encoder": backbone.arch, "stem": backbone.stem, "dim": backbone.dim,
                    "views": json.loads(json.dumps(vcfg.to_dict(), default=_json_default)),
                    "dataset_notes": data.notes, "lr_after_scaling": lr, "batch_size_global": B,
                    "batch_size_per_process": b_local, "autocast_bf16": autocast, "channels_last": channels_last,
                    "data_on_device": on_device})
        (run_dir / "env.json").write_text(json.dumps(env, indent=2, default=_json_default))
        if ck is not None:
            _truncate_metrics(metrics_path, step)
    _log(verbose, info, f"run directory: {run_dir}")
    _log(verbose, info, f"{cfg['method']} on {data.name}: {len(ssl_x)} pretraining images, {backbone.arch} "
                        f"({backbone.stem}), d={backbone.dim}, {epochs} epochs x {steps_per_epoch} steps, "
                        f"global batch {B} ({info.world} process(es)), lr {lr:g}, device {device}"
                        + (f"; resuming at step {step}" if ck is not None else ""))

    # ---- signals
    stop = {"sig": None}
    old_handlers = {}

    def handler(signum, frame):  # noqa: ARG001
        stop["sig"] = signum

    import threading

    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGINT):
            old_handlers[s] = signal.signal(s, handler)

    def save(path_name: str = "last.pt"):
        states = D.gather_obj(gen.get_state().cpu(), info)
        if not info.main:
            return
        state = {"format": "idealssl-checkpoint-1", "cfg": json.loads(json.dumps(cfg, default=_json_default)),
                 "step": step, "epoch": step // max(1, steps_per_epoch), "steps_per_epoch": steps_per_epoch,
                 "model": model.state_dict(), "backbone": model.backbone.state_dict(),
                 "ema": ema.state_dict() if ema is not None else None, "optimizer": opt.state_dict(),
                 "rng": {"torch": torch.get_rng_state(), "views": states},
                 "dim": backbone.dim, "arch": backbone.arch, "in_channels": data.channels,
                 "image_size": vcfg.size, "n_classes": data.n_classes, "mean": list(data.mean),
                 "std": list(data.std), "train_seconds": elapsed_prev + (time.time() - t_train)}
        ckpt_mod.save_atomic(state, ckpt_dir / path_name)

    # ---- loop
    progress = Progress(str(cfg["train"]["progress"]), total if not limit else min(total, limit), verbose and info.main)
    log_every = max(1, int(cfg["train"]["log_every"]))
    ckpt_every = max(1, int(cfg["train"]["ckpt_every_epochs"]))
    metrics_fh = open(metrics_path, "a") if info.main else None
    mon_x = images[:512]
    t_train = time.time()
    steps_this_session = 0
    last_loss = float("nan")
    if use_cuda:
        torch.cuda.reset_peak_memory_stats(device)
    dmodel.train()
    if ema is not None:
        ema.train()
    try:
        while step < total and not (limit and step >= limit):
            epoch, pos = divmod(step, steps_per_epoch)
            perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed * 1000003 + epoch))
            while pos < steps_per_epoch and not (limit and step >= limit):
                idx = perm[pos * B + info.rank * b_local: pos * B + (info.rank + 1) * b_local]
                xb = images[idx.to(images.device)] if on_device else images[idx]
                yb = labels[idx.to(labels.device)] if on_device else labels[idx]
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                factor = _schedule(step, total, warmup)
                for g in opt.param_groups:
                    g["lr"] = g["base_lr"] * (1.0 if g.get("fixed") else factor)
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                    views = views_fn(xb)
                    if channels_last:
                        views = [v.contiguous(memory_format=torch.channels_last) for v in views]
                    targets = None
                    if ema is not None:
                        with torch.no_grad():
                            targets = [t.float() for t in model.encode(views[:n_global], ema)]
                    loss, probe_loss, logs = dmodel(views, targets, yb)
                # one collective per step: the mean loss (for the NaN check and the log) and whether any
                # process received SIGTERM/SIGINT, so that all processes stop at the same step
                flags = torch.stack([loss.detach().float().reshape(()),
                                     torch.tensor(float(stop["sig"] is not None), device=loss.device)])
                if info.enabled:
                    torch.distributed.all_reduce(flags)
                    flags[0] /= info.world
                lval, stop_now = flags[0], bool(flags[1] > 0)
                if not torch.isfinite(lval):
                    last = ckpt_mod.find_last(run_dir)
                    raise NonFiniteLoss(
                        f"loss is {float(lval)} at step {step} (epoch {epoch}) of {cfg['method']} on {data.name}; "
                        f"stopped. Last good checkpoint: {last if last else 'none yet'}. "
                        f"Try a lower optim.lr (now {lr:g}), train.precision=32, or a larger optim.grad_clip")
                opt.zero_grad(set_to_none=True)
                (loss + probe_loss).backward()
                if cfg["optim"]["grad_clip"]:
                    nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], float(cfg["optim"]["grad_clip"]))
                opt.step()
                with torch.no_grad():
                    model.objective.update(step, total)
                    if ema is not None:
                        mom = float(model.objective.momentum(step, total))
                        for pe, po in zip(ema.parameters(), model.backbone.parameters()):
                            pe.mul_(mom).add_(po.detach(), alpha=1 - mom)
                        for be, bo in zip(ema.buffers(), model.backbone.buffers()):
                            be.copy_(bo)
                step += 1
                pos += 1
                steps_this_session += 1
                last_loss = float(lval)
                if metrics_fh is not None and (step % log_every == 0 or step == total):
                    rec = {"step": step, "epoch": epoch, "loss": last_loss, "probe_loss": float(probe_loss.detach()),
                           "lr": opt.param_groups[0]["lr"]}
                    rec.update(_scalar_logs(logs))
                    metrics_fh.write(json.dumps(rec) + "\n")
                    metrics_fh.flush()
                progress.update(step, epoch, last_loss)
                if stop_now:
                    save()
                    raise Interrupted(stop["sig"] or signal.SIGTERM, ckpt_dir / "last.pt")
            if pos >= steps_per_epoch:
                # end of epoch: label-free monitors on a fixed batch, then checkpoint
                if metrics_fh is not None:
                    with torch.no_grad():
                        model.eval()
                        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                            xm = mon_x[:256].to(device)
                            plain = model.backbone(views_fn.plain(xm)).float()
                            state = gen.get_state()
                            v2 = [model.backbone(v).float() for v in views_fn(xm)[:2]]
                            gen.set_state(state)  # monitors must not change the training views
                        model.train()
                    rec = {"step": step, "epoch": epoch, "end_of_epoch": True, "loss": last_loss,
                           "rankme": monitors.rankme(plain), "invariance_ratio": monitors.invariance_ratio(*v2),
                           "train_seconds": elapsed_prev + time.time() - t_train}
                    metrics_fh.write(json.dumps(rec) + "\n")
                    metrics_fh.flush()
                if (epoch + 1) % ckpt_every == 0 or step >= total:
                    save()
                    if info.main and cfg["train"]["keep_epoch_ckpts"]:
                        save(f"epoch={epoch + 1}.pt")
        progress.update(step, step // max(1, steps_per_epoch), last_loss, force=True)
        if limit and step >= limit and step < total:
            save()
    finally:
        progress.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)
        if metrics_fh is not None:
            metrics_fh.close()
    train_seconds = time.time() - t_train
    imgs_per_s = steps_this_session * B / max(train_seconds, 1e-9)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if use_cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    results: dict = {}
    if info.main:
        results = {
            "method": cfg["method"], "dataset": data.name, "seed": seed, "epochs": epochs, "steps": step,
            "encoder": {"arch": backbone.arch, "stem": backbone.stem, "dim": backbone.dim},
            "run_dir": str(run_dir), "world_size": info.world, "device": str(device),
            "throughput": {"images_per_s": imgs_per_s, "views_per_image": vcfg.n_global + vcfg.n_local,
                           "protocol": "pretraining images per second over this session's steps (global batch, "
                                       "all processes; includes view generation, forward, backward, optimiser)"},
            "peak_memory_mib": peak,
            "peak_memory_protocol": ("torch.cuda.max_memory_allocated" if use_cuda else
                                     "process max resident set size (ru_maxrss), rank 0"),
            "train_seconds": elapsed_prev + train_seconds,
            "final_loss": last_loss,
        }
        if cfg["eval"]["at_end"] and step >= total:
            results["eval"] = evaluate_model(model.backbone, model.objective, data, views_fn, device, cfg,
                                             probe=model.probe if cfg["probe"]["online"] else None,
                                             autocast=autocast, verbose=verbose)
        results["setup_seconds"] = time.time() - t_setup - train_seconds
        (run_dir / "results.json").write_text(json.dumps(results, indent=2, default=_json_default))
        _log(verbose, info, summary(results))
    if info.enabled:
        torch.distributed.barrier()
    return results


def has_likelihood_score(objective) -> bool:
    """Objectives with a per-sample likelihood anomaly score (VJE's ``score(views)``)."""
    return callable(getattr(objective, "score", None))


def likelihood_anomaly(backbone, objective, data: ImageSet, views_fn: ViewGenerator, device, cfg: dict,
                       autocast: bool = False, classes=None) -> dict:
    """One-class anomaly detection with the objective's own likelihood score (VJE).

    For each class c, a copy of the pretrained objective (its heads: posterior and likelihood) is
    fitted on class c alone (``eval.anomaly_fit_steps`` Adam steps, lr ``eval.anomaly_fit_lr``, on
    the frozen backbone's features of two augmented views of c's train images), then every test
    image is scored by ``objective.score`` (negative ELBO, higher = more anomalous) on two
    augmented views; AUROC for "not c" over the whole test split. Views come from a generator
    seeded with the run's seed, so the evaluation is reproducible.
    """
    ev = cfg["eval"]
    steps, lr = int(ev.get("anomaly_fit_steps", 100)), float(ev.get("anomaly_fit_lr", 1e-3))
    g = torch.Generator(device=device).manual_seed(int(cfg["seed"]) + 12345)
    aug = ViewGenerator(views_fn.cfg, views_fn.mean.flatten().tolist(), views_fn.std.flatten().tolist(), g)
    was = backbone.training
    backbone.eval()

    @torch.no_grad()
    def two_views(x):
        outs = [[], []]
        for i in range(0, len(x), 512):
            vs = aug(torch.as_tensor(x[i:i + 512]).to(device))[:2]
            for j in range(2):
                with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
                    outs[j].append(backbone(vs[j]).float())
        return [torch.cat(o) for o in outs]

    tr, te = two_views(data.train_x), two_views(data.test_x)
    backbone.train(was)

    def fit_and_score(normal_idx: np.ndarray) -> torch.Tensor:
        obj = copy.deepcopy(objective).to(device).train()
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr) if params else None
        gi = torch.Generator().manual_seed(int(cfg["seed"]))
        idx_all = torch.as_tensor(normal_idx)
        for _ in range(steps if opt is not None else 0):
            idx = idx_all[torch.randperm(len(idx_all), generator=gi)[:256]].to(device)
            loss = obj([tr[0][idx], tr[1][idx]]).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        obj.eval()
        with torch.no_grad():
            return obj.score([te[0], te[1]], generator=torch.Generator(device=device).manual_seed(0)).float().cpu()

    res = E.anomaly(None, data.train_y, None, data.test_y, max_train=int(ev["anomaly_max_train"]),
                    class_score_fn=fit_and_score, score_name=f"{cfg['method']} negative ELBO (objective.score)",
                    seed=int(cfg["seed"]), classes=classes)
    res["protocol"] += (f"; the objective's heads are fitted on class c alone ({steps} Adam steps, lr {lr}) on the "
                        f"frozen backbone's features of two augmented views, and test images are scored on two "
                        f"augmented views")
    return res


def evaluate_model(backbone, objective, data: ImageSet, views_fn: ViewGenerator, device, cfg: dict,
                   probe: Optional[nn.Module] = None, autocast: bool = False, verbose: bool = False,
                   which: Optional[List[str]] = None) -> dict:
    """All end-of-training evaluations (``eval.at_end`` or ``which``); each entry carries its protocol."""
    ev = cfg["eval"]
    which = list(which if which is not None else ev["at_end"])
    bs = int(ev["batch_size"])
    ftr = E.extract(backbone, views_fn.plain, data.train_x, device, bs, autocast)
    fte = E.extract(backbone, views_fn.plain, data.test_x, device, bs, autocast)
    out: dict = {"features": f"backbone output (d={ftr.shape[1]}), eval mode, un-augmented images resized to "
                             f"{views_fn.cfg.size}px, normalised with the dataset mean/std",
                 "train_split": f"{len(ftr)} labelled train images", "test_split": f"{len(fte)} test images"}
    yte = torch.as_tensor(data.test_y)
    if probe is not None:
        with torch.no_grad():
            pred = probe(fte.to(device)).argmax(1).cpu()
        out["online_linear"] = {"top1": float((pred == yte).float().mean()),
                                "protocol": "online linear probe: trained during pretraining on detached features of "
                                            "the first augmented global view (train-mode BatchNorm), same optimiser "
                                            f"(lr {cfg['probe']['lr']}, constant), evaluated on test with eval-mode "
                                            "features of un-augmented images"}
    if "linear" in which:
        out["linear"] = E.linear_probe(ftr, data.train_y, fte, data.test_y, data.n_classes, ev["linear_wd"],
                                       int(ev["linear_steps"]), float(cfg["data"]["val_fraction"]), int(cfg["seed"]))
    if "knn" in which:
        out["knn"] = E.knn(ftr, data.train_y, fte, data.test_y, data.n_classes, int(ev["knn_k"]), float(ev["knn_t"]))
    if "fewshot" in which:
        out["fewshot"] = E.fewshot(ftr, data.train_y, fte, data.test_y, data.train_x, data.test_x,
                                   int(ev["fewshot_k"]), int(ev["fewshot_trials"]), int(cfg["seed"]))
    if "anomaly" in which:
        only = cfg["data"].get("only_class")
        classes = None if only is None else [int(only)]
        out["anomaly"] = E.anomaly(ftr, data.train_y, fte, data.test_y, int(ev["anomaly_k"]),
                                   int(ev["anomaly_max_train"]), seed=int(cfg["seed"]), classes=classes)
        if has_likelihood_score(objective):
            out["anomaly_likelihood"] = likelihood_anomaly(backbone, objective, data, views_fn, device, cfg, autocast,
                                                           classes=classes)
        for key in ("anomaly", "anomaly_likelihood"):
            if key in out:
                out[key]["protocol"] += (
                    f"; the encoder was pretrained on the train images of class {only} only (data.only_class={only}, "
                    f"the standard one-class protocol)" if only is not None else
                    "; the encoder was pretrained on all pretraining images (every class, no labels): only the "
                    "detector is one-class (data.only_class=c gives the standard protocol)")
    means = torch.stack([fte[yte == c].mean(0) for c in torch.unique(yte)])
    out["monitors"] = {"rankme_test": monitors.rankme(fte), "simplex_distance_class_means": monitors.simplex_distance(means),
                       "protocol": "RankMe (Garrido et al. 2023) of test features; relative Frobenius distance of the "
                                   "test class means' normalised Gram matrix to a regular simplex's"}
    return out


def summary(results: dict) -> str:
    ev = results.get("eval", {})
    parts = [f"{results['method']} / {results['dataset']} seed {results['seed']}:"]
    if "online_linear" in ev:
        parts.append(f"online linear {ev['online_linear']['top1']:.4f}")
    if "linear" in ev:
        parts.append(f"linear {ev['linear']['top1']:.4f} (wd {ev['linear']['chosen_wd']:g} chosen on val)")
    if "knn" in ev:
        parts.append(f"knn@k={ev['knn']['k']},T={ev['knn']['temperature']},cosine {ev['knn']['top1']:.4f}")
    if "fewshot" in ev:
        f = ev["fewshot"]
        parts.append(f"{f['k_per_class']}-shot {f['top1']:.4f} (raw pixels {f['raw_pixels_top1']:.4f})")
    if "anomaly" in ev:
        parts.append(f"anomaly AUROC (k-NN) {ev['anomaly']['auroc_mean']:.4f}")
    if "anomaly_likelihood" in ev:
        parts.append(f"anomaly AUROC (likelihood) {ev['anomaly_likelihood']['auroc_mean']:.4f}")
    parts.append(f"{results['throughput']['images_per_s']:.0f} img/s, {results['train_seconds']:.1f}s training")
    return " | ".join(parts)
