"""What a run says before its first step: how long it should take, and how often it reports progress.

A newcomer who types the README's first command should see at once that it is working and how long to
wait. Two sources, each stated with where it comes from:

* the preset's recorded measurement (a ``timing:`` section in ``idealssl/configs/<dataset>.yaml``: the
  command it was measured with, its wall seconds in all and for training, its CPU seconds, and the
  machine's condition then: cores and load average), printed when the run is that configuration (same
  method, architecture, width, global batch, number of steps, evaluations and device kind). No idle-machine
  figure is derived from it: under oversubscription CPU time grows too (threads spin), so the record says
  what was measured and under which load, and no more;
* the run's own pace: the progress lines time the steps from the end of the first one (which pays for
  allocations and first calls), so their ETA is a measurement on this machine, now.

The ``timing:`` section is not a setting: :func:`idealssl.train.config.build` drops it.
"""

from __future__ import annotations

from typing import Any

from .defaults import RunConfig
from .presets import preset

#: the keys a recorded measurement must have
KEYS = ("command", "method", "arch", "width", "batch_size", "steps", "eval", "device", "cores")


def recorded(dataset: str) -> dict[str, Any] | None:
    """The preset's ``timing:`` section, or None when it has none (or an incomplete one)."""
    t = preset(dataset).get("timing")
    if not isinstance(t, dict) or any(k not in t for k in KEYS) or not isinstance(t.get("measured"), list):
        return None
    return t


def matches(t: dict[str, Any], cfg: RunConfig, steps: int, batch: int, device: str) -> bool:
    """Whether this run is the configuration the recorded measurement was taken with."""
    m = cfg.model
    return (
        cfg.method == t["method"]
        and str(m.arch) == t["arch"]
        and int(m.width) == int(t["width"])
        and int(batch) == int(t["batch_size"])
        and int(steps) == int(t["steps"])
        and list(cfg.eval.at_end) == list(t["eval"])
        and device == t["device"]
    )


def describe(t: dict[str, Any]) -> str:
    """The recorded measurements: wall seconds in all and of training, each at its load average, and when."""
    runs = "; ".join(
        f"{r['total_wall_s']:.0f} s in all ({r['train_wall_s']:.0f} s of training) at load average {r['load']}"
        for r in t["measured"]
    )
    when = ", ".join(sorted({str(r["when"]) for r in t["measured"]}))
    return f"on a {t['cores']}-core CPU shared with other jobs, {runs} (measured {when})"


def expectation(cfg: RunConfig, steps: int, batch: int, device: str, progress: str | bool) -> str:
    """The line printed before the first step: expected duration (recorded, or 'measured after step 2') and
    how progress is shown."""
    shown = {
        "off": "progress display off (--no-progress)",
        "bar": "progress: a bar with img/s and ETA",
    }.get(str(progress), "progress: a line every 10 s with img/s and ETA (a bar on a terminal)")
    t = recorded(cfg.dataset)
    if t is not None and matches(t, cfg, steps, batch, device):
        when = f"expected for `{t['command']}`, as measured: {describe(t)}; less on an idle machine"
    else:
        when = f"expected: {steps} steps of {batch} images; no recorded time for this configuration"
    return f"{when}; {shown}, timed from the end of the first step"
