"""What a resume runs with: the configuration of the run being continued, and what this command may change in it.

* ``--resume`` (bare) continues ``--out``'s ``checkpoints/last.pt``, or starts that run over from its ``config.yaml``
  when it has none (a process killed before its first checkpoint); with neither, it is refused.
  ``--resume FILE`` continues FILE's run (``RUN/checkpoints/NAME``), ``--resume FILE --out DIR`` branches it into
  DIR (:mod:`idealssl.train.rundir` has the rules of the directories).
* The configuration read back (the checkpoint's, or ``config.yaml``) is checked whole and named in any error
  (:func:`idealssl.train.config.from_run`). It takes the place of the defaults and the preset: what this command
  does not set comes from it (method, dataset, seed included).
* When a run continues in place from a checkpoint, an edit of its ``config.yaml`` is read as if given on this command
  line (:func:`_edits`): neither dropped nor applied silently.
* The checkpoint's configuration is kept (:func:`merge_on_resume`). This command's ``--device``, ``--data-dir``,
  ``eval.*``, ``train.limit_steps``, ``train.progress`` and ``train.loggers`` apply (they do not change the
  trajectory); device, limit_steps and progress are per session (defaults when not given), the others are the run's
  unless given. So are ``data.stream``, ``data.num_workers`` and ``data.memory_budget_gb`` (how the images are read:
  the same pixels either way). A larger ``--epochs`` extends the run (the lr and EMA schedules then run to the new
  end; said on one line). Any other change (``--lr``, ``--batch-size``, ``optim.*``, ``views.*``, ...) is refused
  unless ``--allow-changes``, which applies it and lists it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from . import checkpoint as C
from .config import SESSION_KEYS, flatten, from_run, get_dotted, load_yaml, validate, with_values
from .defaults import RunConfig

#: explicit settings that a resume takes from the command (they do not change the trajectory)
RESUME_SAFE = ("device", "data_dir", "out", "eval", "train.limit_steps", "train.progress", "train.loggers")
#: how the images are read (decoded once or per batch, by how many workers): the same pixels either way, so a
#: resume may change them; the run's values are kept unless the command gives them
DATA_READING = ("data.stream", "data.num_workers", "data.memory_budget_gb")
#: what a run directory holds from its first moments (a bare --resume on a directory with none of them is refused)
RUN_TRACES = ("config.yaml", "checkpoints", "metrics.jsonl")


@dataclass
class ResumeOptions:
    """How a run starts (the rules: this module and :mod:`idealssl.train.rundir`)."""

    resume: str | None = None  #: None, "auto" (``--out``'s last checkpoint), a checkpoint file or run directory
    explicit: dict[str, Any] = field(default_factory=dict)  #: settings the command gave explicitly (dotted keys)
    allow_changes: bool = False
    overwrite: bool = False


@dataclass
class Resumed:
    """The run a ``--resume`` continues: its configuration (None: nothing to continue, a fresh start), where it was
    read, and the settings of its edited ``config.yaml`` that differ from the checkpoint's."""

    config: RunConfig | None = None
    source: str = ""
    edits: dict[str, Any] = field(default_factory=dict)


def is_safe(key: str) -> bool:
    """Whether a resume may take ``key`` from the command without ``--allow-changes``."""
    return any(key == s or key.startswith(s + ".") for s in RESUME_SAFE + DATA_READING)


def resumed_config(resume: str | None, out: str | None, allow_changes: bool) -> Resumed:
    """The configuration of the run ``--resume`` continues, checked whole and named in any error; a bare
    ``--resume`` with nothing to continue is refused. Nothing without ``--resume``."""
    if not resume:
        return Resumed()
    if resume == "auto":
        path = C.find_last(out) if out else None
        run_dir = out
    else:
        path = C.resolve_checkpoint(resume)
        found = C.run_dir_of(path)
        run_dir = str(found) if found is not None else None
        if out and run_dir is not None and os.path.realpath(out) != os.path.realpath(run_dir):
            run_dir = None  # a branch: the new directory's files are not the checkpoint's run
    yaml_path = os.path.join(run_dir, "config.yaml") if run_dir else None
    if path is not None:
        base = from_run(C.load(path)["cfg"], str(path))
        edits: dict[str, Any] = {}
        if yaml_path and os.path.isfile(yaml_path) and not os.path.islink(yaml_path):  # a planted link: replaced
            edits = _edits(base, from_run(load_yaml(yaml_path), yaml_path), yaml_path, allow_changes)
        return Resumed(with_values(base, edits), str(path), edits)
    if yaml_path and os.path.isfile(yaml_path):  # killed before its first checkpoint: the same run again
        return Resumed(from_run(load_yaml(yaml_path), yaml_path), yaml_path)
    if out and not any(os.path.lexists(os.path.join(out, f)) for f in RUN_TRACES):
        raise InputError(
            f"--resume: nothing to continue in {out} (no checkpoints/last.pt, no config.yaml); "
            f"drop --resume to start a new run there"
        )
    return Resumed()


def _edits(ck: RunConfig, edited: RunConfig, yaml_path: str, allow_changes: bool) -> dict[str, Any]:
    """The settings of ``config.yaml`` that differ from the checkpoint's (per-session ones aside): a resume reads
    them as if given on the command line, so what a resume may change (``eval.*``, a longer ``optim.epochs``, ...)
    applies and is said, and a change of the training trajectory is refused unless ``--allow-changes``."""
    was = flatten(ck.to_dict())
    edits = {
        k: v for k, v in flatten(edited.to_dict()).items() if k not in SESSION_KEYS and (k not in was or was[k] != v)
    }
    if not edits:
        return {}

    def trajectory(k: str) -> bool:
        grows = k == "optim.epochs" and isinstance(was.get(k), int) and edits[k] > was[k]
        return not is_safe(k) and not grows

    changed = [k for k in edits if trajectory(k)]
    if changed and not allow_changes:
        k = changed[0]
        more = f" (and {', '.join(changed[1:])})" if len(changed) > 1 else ""
        raise InputError(
            f"--resume: {yaml_path} sets {k}={edits[k]!r} but the checkpoint was trained with {was.get(k)!r}{more}; a "
            f"resume keeps the checkpoint's settings: restore the file, or pass --allow-changes to apply the edit"
        )
    if os.environ.get("RANK", "0") == "0":
        print(
            f"{yaml_path} differs from the checkpoint in {', '.join(edits)}: read as if given on the command line",
            file=sys.stderr,
        )
    return edits


def merge_on_resume(
    rc: RunConfig, ck: Mapping[str, Any], explicit: Mapping[str, Any], allow_changes: bool, source: str
) -> tuple[RunConfig, list[str]]:
    """The configuration a resume runs with (validated), and the lines that say what was kept / changed.

    ``rc`` is this command's configuration, ``ck`` the checkpoint read (under the run's lock) from ``source``,
    ``explicit`` the settings the command gave (dotted key -> value)."""
    old = from_run(ck["cfg"], source)
    for k in ("method", "dataset", "seed"):
        if get_dotted(old, k) != get_dotted(rc, k):
            raise InputError(
                f"--resume: checkpoint was trained with {k}={get_dotted(old, k)!r}, this command asks "
                f"{get_dotted(rc, k)!r}"
            )
    t = rc.train
    merged = dataclasses.replace(
        old,
        device=rc.device,
        eval=rc.eval,
        data_dir=rc.data_dir,
        out=rc.out,
        train=dataclasses.replace(old.train, limit_steps=t.limit_steps, progress=t.progress, loggers=t.loggers),
    )
    merged = with_values(merged, {k: get_dotted(rc, k) for k in DATA_READING if k in explicit})
    notes = [
        f"resuming at step {ck['step']}: method, dataset, seed and the training settings are kept from the "
        f"checkpoint; this command's device, data_dir, eval.*, train.limit_steps, train.progress and train.loggers "
        f"apply"
    ]
    changes = {k: (get_dotted(old, k), v) for k, v in explicit.items() if not is_safe(k) and get_dotted(old, k) != v}
    merged = _extend(merged, changes, int(ck["step"]), int(ck.get("steps_per_epoch") or 1), notes)
    if changes and not allow_changes:
        k, (was, new) = next(iter(changes.items()))
        more = f" (and {', '.join(list(changes)[1:])})" if len(changes) > 1 else ""
        raise InputError(
            f"--resume: this command changes {k} from {was!r} to {new!r}{more}; a resume keeps the "
            f"checkpoint's settings. Pass --allow-changes to apply the change (the run then differs from "
            f"an uninterrupted one), or start a new run with another --out"
        )
    merged = with_values(merged, {k: new for k, (_, new) in changes.items()})
    notes += [f"--allow-changes: {k} {was!r} -> {new!r}" for k, (was, new) in changes.items()]
    return validate(merged), notes


def _extend(merged: RunConfig, changes: dict[str, tuple[Any, Any]], done: int, spe: int, notes: list[str]) -> RunConfig:
    """A larger ``optim.epochs`` extends the run (taken out of ``changes``, said in ``notes``); fewer epochs than
    already trained are refused."""
    if "optim.epochs" not in changes:
        return merged
    was, new = changes["optim.epochs"]
    if not isinstance(new, int) or new * spe < done:
        raise InputError(f"--resume: optim.epochs={new!r} is fewer than the {done / spe:g} epochs already trained")
    if new <= was:
        return merged
    changes.pop("optim.epochs")
    notes.append(
        f"optim.epochs {was} -> {new}: the run is extended (the lr and EMA schedules now run to step "
        f"{new * spe}; steps before {done} followed the schedules of {was} epochs)"
    )
    return with_values(merged, {"optim.epochs": new})
