"""Where a run writes, and what a resume keeps: the rules that keep earlier runs intact.

* A fresh run (no ``--resume``) needs an empty or new ``--out``. A non-empty one is refused (one line
  naming it) unless ``--overwrite``, which moves the old contents to ``OUT.replaced-<UTC time>`` and
  says where: nothing is deleted, nothing is moved silently.
* ``--resume`` (bare) continues ``--out``'s ``checkpoints/last.pt``, or starts that run over when it has
  none (a process killed before its first checkpoint).
* ``--resume FILE`` continues FILE's run directory (FILE must be ``RUN/checkpoints/NAME``).
  ``--resume FILE --out DIR`` (DIR another directory) branches: DIR (empty or new, or ``--overwrite``)
  receives the continued run, starting with FILE's run's metrics up to the checkpoint's step; FILE's run
  is not touched.
* On every resume ``metrics.jsonl`` is cut back to the records up to the checkpoint's step (0 without
  one) and the temporary files of a process killed while writing a checkpoint are removed.
* On resume the checkpoint's configuration is kept. This command's ``--device``, ``--data-dir``,
  ``eval.*``, ``train.limit_steps`` and ``train.progress`` apply (they do not change the trajectory);
  device, limit_steps and progress are per session (defaults when not given), data_dir and eval.*
  are the run's unless given. So are ``data.stream``, ``data.num_workers`` and ``data.memory_budget_gb``
  (how the images are read: the same pixels either way).
  A larger ``--epochs`` extends the run (the lr and EMA schedules then run to the new end; said on one
  line). Any other change (``--lr``, ``--batch-size``, ``optim.*``, ``views.*``, ...) is refused unless
  ``--allow-changes``, which applies it and lists it.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import checkpoint as ckpt_mod

#: explicit settings that a resume takes from the command (they do not change the trajectory)
RESUME_SAFE = ("device", "data_dir", "out", "eval", "train.limit_steps", "train.progress", "train.loggers")
#: how the images are read (decoded once or per batch, by how many workers): the same pixels either way, so a
#: resume may change them; the run's values are kept unless the command gives them
DATA_READING = ("data.stream", "data.num_workers", "data.memory_budget_gb")


def is_nonempty(d: Path) -> bool:
    return d.is_dir() and any(d.iterdir())


def claim_empty(run_dir: Path, overwrite: bool, main: bool) -> Path | None:
    """Refuse a non-empty ``run_dir``, or (``overwrite``) move its contents aside; returns where they went."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"--out {run_dir} exists and is not a directory")
    if not is_nonempty(run_dir):
        return None
    if not overwrite:
        raise InputError(
            f"--out {run_dir} is not empty (an earlier run?); continue it with --resume, start over with "
            f"--overwrite (moves its contents to {run_dir.name}.replaced-<time>), or pick another --out"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    dest = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}")
    i = 1
    while dest.exists():
        dest = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}-{i}")
        i += 1
    if main:
        run_dir.rename(dest)
    return dest


def _get(cfg: dict, key: str) -> Any:
    node: Any = cfg
    for p in key.split("."):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def _set(cfg: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = cfg
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = copy.deepcopy(value)


def _safe(key: str) -> bool:
    return any(key == s or key.startswith(s + ".") for s in RESUME_SAFE + DATA_READING)


def merge_on_resume(cfg: dict, ck: dict, explicit: dict[str, Any], allow_changes: bool) -> tuple[dict, list[str]]:
    """The configuration a resume runs with, and the lines that say what was kept / changed."""
    old = ck["cfg"]
    for k in ("method", "dataset", "seed"):
        if old.get(k) != cfg.get(k):
            raise InputError(
                f"--resume: checkpoint was trained with {k}={old.get(k)!r}, this command asks {cfg.get(k)!r}"
            )
    merged = copy.deepcopy(old)
    for k in ("device", "eval", "data_dir"):
        merged[k] = copy.deepcopy(cfg[k])
    merged["train"] = dict(old["train"], limit_steps=cfg["train"]["limit_steps"], progress=cfg["train"]["progress"])
    merged["out"] = cfg.get("out")
    for k in DATA_READING:  # checkpoints older than data.stream lack these: the defaults (cfg's) then
        if k in explicit or _get(old, k) is None:
            _set(merged, k, _get(cfg, k))
    notes = [
        f"resuming at step {ck['step']}: method, dataset, seed and the training settings are kept from the "
        f"checkpoint; this command's device, data_dir, eval.*, train.limit_steps and train.progress apply"
    ]
    changes = {k: (_get(old, k), v) for k, v in explicit.items() if not _safe(k) and _get(old, k) != v}
    done = int(ck["step"])
    spe = int(ck.get("steps_per_epoch") or 1)
    if "optim.epochs" in changes:
        was, new = changes["optim.epochs"]
        if not isinstance(new, int) or new * spe < done:
            raise InputError(f"--resume: optim.epochs={new!r} is fewer than the {done / spe:g} epochs already trained")
        if new > was:
            changes.pop("optim.epochs")
            _set(merged, "optim.epochs", new)
            notes.append(
                f"optim.epochs {was} -> {new}: the run is extended (the lr and EMA schedules now run to step "
                f"{new * spe}; steps before {done} followed the schedules of {was} epochs)"
            )
    if changes and not allow_changes:
        k, (was, new) = next(iter(changes.items()))
        more = f" (and {', '.join(list(changes)[1:])})" if len(changes) > 1 else ""
        raise InputError(
            f"--resume: this command changes {k} from {was!r} to {new!r}{more}; a resume keeps the "
            f"checkpoint's settings. Pass --allow-changes to apply the change (the run then differs from "
            f"an uninterrupted one), or start a new run with another --out"
        )
    for k, (was, new) in changes.items():
        _set(merged, k, new)
        notes.append(f"--allow-changes: {k} {was!r} -> {new!r}")
    return merged, notes


def read_metrics(path: Path, step: int) -> str:
    """The records of ``path`` with ``step`` at most ``step`` (unreadable or partial lines dropped)."""
    if not path.is_file():
        return ""
    keep = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step", 0), (int, float)) and rec.get("step", 0) <= step:
            keep.append(line)
    return "".join(line + "\n" for line in keep)


def reset_metrics(dest: Path, step: int, source: Path | None = None) -> None:
    """``dest`` := the records of ``source`` (default ``dest``) up to ``step``, written atomically."""
    src = dest if source is None else source
    if src.exists() or dest.exists() or dest.is_symlink():
        ckpt_mod.write_text_atomic(dest, read_metrics(src, step), "metrics file")
