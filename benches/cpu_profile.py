"""Where idealssl's training step spends its time on a CPU at 32 px, and what channels_last, bf16 and
torch.compile change there.

Each configuration is a real trainer run (:func:`idealssl.train.loop.setup` through
:class:`gpu.Bench`, ``--dataset fake`` at 32 px) stepped by :func:`idealssl.train.loop.train_step`, the
code ``idealssl train`` runs. The step is cut into sections by timestamps taken around the trainer's own
calls, without changing them (on a CPU every operation is synchronous, so wall-clock marks are exact):

* ``views``: the batched :class:`~idealssl.data.views.ViewGenerator` (wrapped);
* ``encoder_forward``: the backbone's forward (module pre/post hooks; every call of the step);
* ``loss``: the rest of the model's forward, i.e. the objective's heads and loss and the online probe
  (the model's forward hooks minus the encoder);
* ``backward``: from the end of the forward to the optimiser's step pre-hook: the loss check,
  ``zero_grad``, ``backward`` and gradient clipping;
* ``optimizer``: the optimiser's step (its pre/post hooks);
* ``other``: the remainder (batch indexing, schedules, ``objective.update``, EMA, logging).

With ``torch.compile`` the model's forward is one compiled graph, so ``encoder_forward`` and ``loss``
are reported together as ``forward`` (hooks inside a compiled module would be traced, not timed).

The settings of one configuration alternate in rounds (each round times ``steps`` steps of every
setting), so that the load of the machine's other jobs hits them alike; each setting's first step
(compilation, allocator warm-up) is not timed. Ratios are fp32's median step time over the setting's,
from the same run. Settings other than fp32 are compared at batch 32 where batch 256 would not fit the
time budget (see ``PLAN``): this CPU has no bf16 instructions (no AVX512-BF16/AMX), so one bf16 step of
ResNet-18 at batch 256 would take about half an hour.

Run:  OMP_NUM_THREADS=1 python benches/cpu_profile.py      (writes benches/results/cpu_profile.json)
      python benches/cpu_profile.py --smoke                 (a tiny convnet in seconds: checks that it runs)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from idealssl.objectives import available

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gpu import Bench, Setting, device_name  # noqa: E402  (benches/ is not a package)

SECTIONS = ("views", "encoder_forward", "loss", "forward", "backward", "optimizer", "other")

SETTINGS = {
    "fp32": Setting("fp32", "idealssl"),
    "channels_last": Setting("channels_last", "idealssl", channels_last=True),
    "bf16": Setting("bf16", "idealssl", bf16=True),
    "compile": Setting("compile", "idealssl", compile=True),
}

#: (name, arch, width, batch, settings). The default plan fits in about 10 minutes on the shared 2-core CPU
#: at 1 thread: ResNet-18's step at batch 256 takes about a minute there, so its settings are compared at
#: batch 32, and bf16 (20-40x slower than fp32 on this CPU) at batch 32; the last two run only with --only.
PLAN = [
    ("convnet_b256", "convnet", 32, 256, ["fp32", "channels_last", "compile"]),
    ("convnet_b32", "convnet", 32, 32, ["fp32", "bf16"]),
    ("resnet18_b256", "resnet18", 64, 256, ["fp32"]),
    ("resnet18_b32", "resnet18", 64, 32, ["fp32", "channels_last"]),
    ("resnet18_b32_bf16", "resnet18", 64, 32, ["fp32", "bf16"]),
    ("resnet18_b32_compile", "resnet18", 64, 32, ["fp32", "compile"]),
    ("smoke", "convnet", 8, 16, ["fp32", "channels_last", "bf16"]),  # --smoke: every eager path in seconds
]
DEFAULT = ["convnet_b256", "convnet_b32", "resnet18_b256", "resnet18_b32"]


class TimedViews:
    """Wraps the run's view generator and adds its time to the ``views`` section."""

    def __init__(self, inner, clock: Sections):
        self.inner, self.clock = inner, clock

    def __call__(self, xb):
        t0 = time.perf_counter()
        out = self.inner(xb)
        self.clock.acc["views"] += time.perf_counter() - t0
        return out


class Sections:
    """Timestamps around the trainer's calls of one run (see the module docstring); one dict per step."""

    def __init__(self, bench: Bench, inner_hooks: bool):
        run = bench.run
        self.acc: dict[str, float] = defaultdict(float)
        self.marks: dict[str, float] = {}
        run.views_fn = TimedViews(run.views_fn, self)  # type: ignore[assignment]
        run.dmodel.register_forward_pre_hook(lambda *a: self._mark("fwd0"))
        run.dmodel.register_forward_hook(lambda *a: self._mark("fwd1"))
        run.opt.register_step_pre_hook(lambda *a: self._mark("opt0"))
        run.opt.register_step_post_hook(lambda *a: self._mark("opt1"))
        self.inner = inner_hooks
        if inner_hooks:
            for net in [run.model.backbone] + ([run.ema] if run.ema is not None else []):
                net.register_forward_pre_hook(lambda *a: self._mark("enc0"))
                net.register_forward_hook(lambda *a: self._add("encoder_forward", "enc0"))

    def _mark(self, key: str) -> None:
        self.marks[key] = time.perf_counter()

    def _add(self, section: str, since: str) -> None:
        self.acc[section] += time.perf_counter() - self.marks[since]

    def timed_step(self, bench: Bench) -> dict[str, float]:
        """One ``bench.step()``, cut into sections (seconds)."""
        self.acc.clear()
        t0 = time.perf_counter()
        bench.step()
        total = time.perf_counter() - t0
        m = self.marks
        out = {"views": self.acc["views"], "backward": m["opt0"] - m["fwd1"], "optimizer": m["opt1"] - m["opt0"]}
        fwd = m["fwd1"] - m["fwd0"]
        if self.inner:
            out["encoder_forward"] = self.acc["encoder_forward"]
            out["loss"] = fwd - out["encoder_forward"]
        else:
            out["forward"] = fwd
        out["other"] = total - out["views"] - fwd - out["backward"] - out["optimizer"]
        out["total"] = total
        return out


def profile_config(args, name: str, arch: str, width: int, batch: int, names: list[str], tmp: Path) -> dict:
    """Alternate the settings of one configuration in rounds; median step time and sections per setting."""
    a = argparse.Namespace(**vars(args))
    a.arch, a.width, a.batch, a.images = arch, width, batch, max(args.images, batch)
    runs = {}
    first = {}
    for n in names:
        t0 = time.perf_counter()
        b = Bench(a, SETTINGS[n], tmp / f"{name}-{n}")
        b.step()  # compilation, allocator warm-up: never timed
        first[n] = time.perf_counter() - t0
        runs[n] = (b, Sections(b, inner_hooks=not SETTINGS[n].compile))
        print(f"{name} {n}: set up and first step in {first[n]:.1f} s", file=sys.stderr, flush=True)
    steps: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for n in names:
            b, sec = runs[n]
            for _ in range(args.steps):
                steps[n].append(sec.timed_step(b))
            print(f"{name} round {r} {n}: {steps[n][-1]['total']:.2f} s/step", file=sys.stderr, flush=True)
    out = {"arch": arch, "width": width if arch == "convnet" else None, "batch_size": batch, "settings": {}}
    for n in names:
        keys = [k for k in (*SECTIONS, "total") if k in steps[n][0]]
        med = {k: statistics.median(s[k] for s in steps[n]) for k in keys}
        out["settings"][n] = {
            **SETTINGS[n].describe(),
            "setup_and_first_step_seconds": first[n],
            "step_seconds": med["total"],
            "step_seconds_all": [s["total"] for s in steps[n]],
            "sections_seconds": {k: v for k, v in med.items() if k != "total"},
            "sections_share": {k: v / med["total"] for k, v in med.items() if k != "total"},
            "images_per_s": batch / med["total"],
        }
    base = out["settings"]["fp32"]["step_seconds"]
    out["speedup_vs_fp32"] = {n: base / out["settings"][n]["step_seconds"] for n in names}
    return out


def main(argv=None) -> int:
    """Run the plan (or ``--only`` some of its configurations) and write the JSON."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=DEFAULT, choices=[c[0] for c in PLAN], help="configurations to run")
    ap.add_argument("--steps", type=int, default=1, help="timed steps per setting per round (1)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--method", default="dissl")
    ap.add_argument("--images", type=int, default=1024, help="fake training images (the step cost does not use them)")
    ap.add_argument("--smoke", action="store_true", help="tiny convnet, 1 round: checks that it runs (seconds)")
    ap.add_argument("--out", default=None, help="JSON path (results/cpu_profile.json; smoke cpu_profile_smoke.json)")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        ap.error("--steps and --rounds must be >= 1")
    if args.images < 2:
        ap.error("--images must be >= 2")
    if args.method not in available():
        ap.error(f"unknown method {args.method!r}; available: {', '.join(available())}")
    if args.smoke:
        args.only, args.rounds, args.images = ["smoke"], 1, min(args.images, 64)
    args.out = args.out or str(HERE / "results" / ("cpu_profile_smoke.json" if args.smoke else "cpu_profile.json"))
    args.device, args.size, args.classes = "cpu", 32, 10
    load0, t0 = os.getloadavg(), time.perf_counter()
    configs = {}
    with tempfile.TemporaryDirectory(prefix="idealssl-cpu-profile-") as tmp:
        for name, arch, width, batch, names in PLAN:
            if name in args.only:
                configs[name] = profile_config(args, name, arch, width, batch, names, Path(tmp))
    out = {
        "benchmark": "sections of idealssl's training step (loop.train_step of a loop.setup run) on a CPU at 32 px, "
        "and the speed-up of channels_last, bf16 autocast and torch.compile over fp32, same run, rounds alternated",
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} python benches/cpu_profile.py "
        + " ".join(argv),
        "conditions": {
            "cpu": device_name("cpu"),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average_at_start": load0,
            "load_average_at_end": os.getloadavg(),
            "wall_seconds": time.perf_counter() - t0,
            "data": "--dataset fake, 32 px RGB, 10 classes; method " + args.method + ", the trainer's optimiser",
        },
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "configs": configs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    for name, c in configs.items():
        for n, s in c["settings"].items():
            share = ", ".join(f"{k} {v:.0%}" for k, v in s["sections_share"].items())
            print(f"{name} {n}: {s['step_seconds']:.2f} s/step ({c['speedup_vs_fp32'][n]:.2f}x fp32): {share}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
