"""Training-step throughput: idealssl's loop vs a reference loop written the common way.

Both loops train the *same* model (encoder + objective heads + online probe, same initial weights),
with the same optimiser and the same global batch, for the same number of steps, in the same
process, alternating rounds so that machine load affects both alike. They differ only in how
the augmented views are made:

* ``idealssl``: the dataset is a uint8 tensor on the device; each step indexes a batch and
  :class:`idealssl.data.views.ViewGenerator` makes all views with batched tensor operations
  (this is the hot path of :mod:`idealssl.train.loop`).
* ``reference``: a ``torch.utils.data.Dataset`` of PIL images whose ``__getitem__`` applies a
  torchvision ``Compose`` twice per image (RandomResizedCrop, flip or rotation, ColorJitter in
  RandomApply, RandomGrayscale, ToTensor, Normalize), batched by a ``DataLoader`` with
  ``num_workers`` in {0, 2} (this machine has 2 cores); the better of the two is the baseline.

Timing excludes the first ``--warmup`` steps of every round (DataLoader worker start-up included
in the reference's first steps is thus not counted against it). Reported: steps/s and images/s
per loop (median over rounds) and the ratio idealssl / best reference.

Run:  python benches/throughput.py            (writes benches/results/throughput.json)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from idealssl.data.datasets import load_digits_set
from idealssl.data.views import ViewConfig, ViewGenerator
from idealssl.models import build_encoder
from idealssl.objectives import build
from idealssl.train.loop import SSLModel

HERE = Path(__file__).resolve().parent


class TwoViewPIL(Dataset):
    """The common way: per-sample transforms, two views per image, in ``__getitem__``.

    ``as_pil=True`` (default) holds PIL images, as torchvision's dataset classes return them;
    ``as_pil=False`` holds per-image uint8 (C, H, W) tensors, the input torchvision's v2 transforms
    are fastest on (used by ``benches/gpu.py``, which times both).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, transform, as_pil: bool = True):
        if as_pil:
            mode = "L" if x.shape[1] == 1 else "RGB"
            self.images = [Image.fromarray(a[0] if mode == "L" else a.transpose(1, 2, 0), mode) for a in x]
        else:
            self.images = list(torch.from_numpy(np.ascontiguousarray(x)).unbind(0))
        self.y, self.t = y, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        im = self.images[i]
        return self.t(im), self.t(im), int(self.y[i])


def reference_transform(setting: dict, mean, std):
    v = setting["views"]
    ops = [T.RandomResizedCrop(v["size"], scale=tuple(v["scale"]), antialias=True)]
    if v.get("rotate"):
        ops.append(T.RandomRotation(v["rotate"]))
    if v.get("flip_p"):
        ops.append(T.RandomHorizontalFlip(v["flip_p"]))
    ops.append(T.RandomApply([T.ColorJitter(*v["jitter"])], p=v["jitter_p"]))
    if v.get("gray_p"):
        ops.append(T.RandomGrayscale(v["gray_p"]))
    ops += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(ops)


def make_model(setting, channels, size, seed=0):
    torch.manual_seed(seed)
    enc = build_encoder(setting["arch"], channels, size, width=setting["width"])
    obj = build(setting["method"], dim=enc.dim, **setting["objective"])
    return SSLModel(enc, obj, 10)


def train_step(model, opt, views, y):
    loss, probe_loss, _ = model(views, None, y)
    opt.zero_grad(set_to_none=True)
    (loss + probe_loss).backward()
    torch.nn.utils.clip_grad_norm_(opt.param_groups[0]["params"], 2.0)
    opt.step()
    return float(loss.detach())


def make_opt(model):
    main = [p for n, p in model.named_parameters() if not n.startswith("probe.")]
    return torch.optim.AdamW(
        [{"params": main}, {"params": list(model.probe.parameters()), "weight_decay": 0.0}], lr=2e-3, weight_decay=1e-6
    )


def run_ours(setting, x, y, mean, std, model0, steps, warmup):
    model = copy.deepcopy(model0)
    opt = make_opt(model)
    dev = torch.device("cpu")
    images, labels = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
    vc = dict(setting["views"])
    vc = {k: tuple(v) if isinstance(v, list) else v for k, v in vc.items()}
    gen = ViewGenerator(ViewConfig(**vc), mean, std, torch.Generator(device=dev).manual_seed(0))
    B = setting["batch_size"]
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    t0 = None
    for s in range(steps + warmup):
        if s == warmup:
            t0 = time.perf_counter()
        j = (s * B) % (len(images) - B + 1)
        idx = perm[j : j + B]
        train_step(model, opt, gen(images[idx]), labels[idx])
    return steps / (time.perf_counter() - t0)


def run_reference(setting, x, y, mean, std, model0, steps, warmup, workers):
    model = copy.deepcopy(model0)
    opt = make_opt(model)
    ds = TwoViewPIL(x, y, reference_transform(setting, mean, std))
    dl = DataLoader(
        ds,
        batch_size=setting["batch_size"],
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    s, t0 = 0, None
    while s < steps + warmup:
        for v1, v2, yb in dl:
            if s == warmup:
                t0 = time.perf_counter()
            train_step(model, opt, [v1, v2], yb)
            s += 1
            if s >= steps + warmup:
                break
    rate = steps / (time.perf_counter() - t0)
    del dl
    return rate


def pipeline_ours(setting, x, mean, std, batches):
    """Views only (no model): batches of 2 views per second, idealssl's batched generator."""
    images = torch.from_numpy(x)
    vc = {k: tuple(v) if isinstance(v, list) else v for k, v in setting["views"].items()}
    gen = ViewGenerator(ViewConfig(**vc), mean, std, torch.Generator().manual_seed(0))
    B = setting["batch_size"]
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    gen(images[perm[:B]])
    t0 = time.perf_counter()
    for s in range(batches):
        j = (s * B) % (len(images) - B + 1)
        gen(images[perm[j : j + B]])
    return batches / (time.perf_counter() - t0)


def pipeline_reference(setting, x, y, mean, std, batches, workers):
    """Views only (no model): batches per second out of the per-sample torchvision DataLoader."""
    ds = TwoViewPIL(x, y, reference_transform(setting, mean, std))
    dl = DataLoader(
        ds,
        batch_size=setting["batch_size"],
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
    )
    n, t0 = 0, None
    while n < batches + 1:
        for _ in dl:
            if n == 1:
                t0 = time.perf_counter()  # the first batch (worker start-up) is not counted
            n += 1
            if n >= batches + 1:
                break
    return batches / (time.perf_counter() - t0)


SETTINGS = {
    "digits-convnet": {
        "desc": "digits 8x8 grayscale (1,437 images), convnet width 32 (d=64), simclr heads of the digits preset, "
        "batch 256, 2 views: the digits preset's recipe (crop scale 0.4-1, rotation 15 deg, "
        "brightness/contrast jitter p=0.8)",
        "data": "digits",
        "arch": "convnet",
        "width": 32,
        "method": "simclr",
        "objective": {"hidden_dim": 256, "out_dim": 64},
        "batch_size": 256,
        "views": {
            "size": 8,
            "scale": [0.4, 1.0],
            "flip_p": 0.0,
            "rotate": 15.0,
            "jitter": [0.4, 0.4, 0.0, 0.0],
            "jitter_p": 0.8,
            "gray_p": 0.0,
        },
    },
    "rgb32-convnet": {
        "desc": "CIFAR-sized 32x32 RGB uint8 images (5,000 random images standing in for CIFAR-10: the pipeline "
        "cost does not depend on content), convnet width 32 (d=64), simclr heads, batch 256, 2 views, "
        "full SimCLR recipe (crop 0.2-1, flip, colour jitter 0.4/0.4/0.4/0.1 p=0.8, grayscale 0.2)",
        "data": "rgb32",
        "arch": "convnet",
        "width": 32,
        "method": "simclr",
        "objective": {"hidden_dim": 256, "out_dim": 64},
        "batch_size": 256,
        "steps_factor": 0.5,
        "views": {
            "size": 32,
            "scale": [0.2, 1.0],
            "flip_p": 0.5,
            "rotate": 0.0,
            "jitter": [0.4, 0.4, 0.4, 0.1],
            "jitter_p": 0.8,
            "gray_p": 0.2,
        },
    },
}


def load(setting):
    if setting["data"] == "digits":
        d = load_digits_set()
        return d.train_x, d.train_y, d.mean, d.std
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5000, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, 5000).astype(np.int64)
    return x, y, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="*", default=list(SETTINGS))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="*", default=[0, 2])
    ap.add_argument("--out", default=str(HERE / "results" / "throughput.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    results = []
    for name in args.settings:
        st = SETTINGS[name]
        steps = max(2, int(round(args.steps * st.get("steps_factor", 1.0))))
        x, y, mean, std = load(st)
        model0 = make_model(st, x.shape[1], st["views"]["size"])
        rates = {"idealssl": []}
        rates.update({f"reference_workers{w}": [] for w in args.workers})
        for r in range(args.rounds):
            rates["idealssl"].append(run_ours(st, x, y, mean, std, model0, steps, args.warmup))
            for w in args.workers:
                rates[f"reference_workers{w}"].append(run_reference(st, x, y, mean, std, model0, steps, args.warmup, w))
            print(name, "round", r, {k: round(v[-1], 3) for k, v in rates.items()}, file=sys.stderr, flush=True)
        pipe = {"idealssl": pipeline_ours(st, x, mean, std, args.steps * 2)}
        for w in args.workers:
            pipe[f"reference_workers{w}"] = pipeline_reference(st, x, y, mean, std, args.steps * 2, w)
        med = {k: statistics.median(v) for k, v in rates.items()}
        best_ref = max((k for k in med if k.startswith("reference")), key=med.get)
        B = st["batch_size"]
        results.append(
            {
                "setting": name,
                "description": st["desc"],
                "batch_size": B,
                "steps_timed": steps,
                "warmup_steps": args.warmup,
                "rounds": args.rounds,
                "steps_per_s": med,
                "images_per_s": {k: v * B for k, v in med.items()},
                "steps_per_s_all_rounds": rates,
                "best_reference": best_ref,
                "ratio_vs_best_reference": med["idealssl"] / med[best_ref],
                "views_only_batches_per_s": pipe,
                "views_only_ratio_vs_best_reference": pipe["idealssl"]
                / max(v for k, v in pipe.items() if k != "idealssl"),
            }
        )
        print(
            f"{name}: idealssl {med['idealssl']:.2f} steps/s, {best_ref} {med[best_ref]:.2f} steps/s, "
            f"ratio {results[-1]['ratio_vs_best_reference']:.2f}x; views only: "
            f"{results[-1]['views_only_ratio_vs_best_reference']:.1f}x",
            flush=True,
        )
    out = {
        "benchmark": "training-step throughput, idealssl batched on-device views vs per-sample torchvision "
        "transforms in a DataLoader; same model, optimiser, batch and steps, same process",
        "command": "OMP_NUM_THREADS=2 python benches/throughput.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": "cpu",
            "load_average_at_end": os.getloadavg(),
        },
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
