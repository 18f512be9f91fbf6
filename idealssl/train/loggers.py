"""Optional metric loggers beside ``metrics.jsonl`` (which is always written): ``--logger jsonl,csv,tb,wandb``.

* ``csv``: ``RUN/metrics.csv``, rewritten from ``metrics.jsonl`` at every epoch end and when the run stops (one
  row per record, the union of the keys as columns; so a resumed run's CSV matches its JSONL).
* ``tb``: TensorBoard event files in ``RUN/tb/`` through ``torch.utils.tensorboard.SummaryWriter`` (scalars
  ``train/<key>`` per logged step, ``epoch/<key>`` per epoch). Needs the ``tb`` extra
  (``pip install 'idealssl[tb]'``); without it the run stops before training with one line naming the extra.
* ``wandb``: Weights & Biases (the ``wandb`` extra). Never prompts: ``WANDB_MODE`` is respected when set;
  otherwise the mode is ``online`` when ``WANDB_API_KEY`` is set and ``offline`` (files under ``RUN/wandb``)
  when not. Project ``WANDB_PROJECT`` (default ``idealssl``), run name the run directory's name. The wandb run id
  is kept in ``RUN/wandb_run_id`` so that ``--resume`` continues the same wandb run (``resume="allow"``); wandb keeps
  what the interrupted session logged after the checkpoint and ignores steps logged again below its last step
  (``metrics.jsonl``, cut to the checkpoint's step, is the record).

Only the main process logs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import InputError

LOGGERS = ("jsonl", "csv", "tb", "wandb")
_SKIP = ("step", "epoch", "end_of_epoch")


def parse(text: str | list | tuple | None) -> list[str]:
    """``"jsonl,csv"`` or a list -> the chosen loggers (``jsonl`` always first); one-line error for an unknown name."""
    if text is None:
        return ["jsonl"]
    items = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    names = [t.strip().lower() for t in items if str(t).strip()]
    bad = [n for n in names if n not in LOGGERS]
    if bad:
        raise InputError(f"unknown logger {bad[0]!r}; choose from {', '.join(LOGGERS)} (comma-separated)")
    return ["jsonl"] + [n for n in dict.fromkeys(names) if n != "jsonl"]


def _scalars(rec: dict) -> dict[str, float]:
    out = {}
    for k, v in rec.items():
        if k in _SKIP or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        out[k] = float(v)
    return out


def jsonl_to_csv(jsonl: Path, out: Path) -> None:
    """Every record of ``jsonl`` as a CSV row (columns: the union of the keys, in order of appearance)."""
    recs = [json.loads(line) for line in Path(jsonl).read_text().splitlines() if line.strip()]
    cols: list[str] = []
    for r in recs:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=cols, restval="")
    w.writeheader()
    w.writerows(recs)
    atomic.write_text(out, buf.getvalue(), "metrics CSV")


class CSVLogger:
    def __init__(self, run_dir: Path):
        self.jsonl, self.out = Path(run_dir) / "metrics.jsonl", Path(run_dir) / "metrics.csv"

    def log(self, rec: dict) -> None:
        if rec.get("end_of_epoch"):
            self.flush()

    def flush(self) -> None:
        if self.jsonl.is_file():
            try:
                jsonl_to_csv(self.jsonl, self.out)
            except OSError as exc:  # reading metrics.jsonl (the writer's own errors are one line already)
                raise InputError(f"cannot write {self.out}: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.flush()


class TensorBoardLogger:
    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise InputError(
                "--logger tb needs TensorBoard, which is not installed: pip install 'idealssl[tb]' "
                "(or pip install tensorboard)"
            ) from None
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tb"))

    def log(self, rec: dict) -> None:
        prefix = "epoch/" if rec.get("end_of_epoch") else "train/"
        for k, v in _scalars(rec).items():
            self.writer.add_scalar(prefix + k, v, int(rec["step"]))

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


class WandbLogger:
    def __init__(self, run_dir: Path, recorded: dict[str, Any]):
        try:
            import wandb
        except ImportError:
            raise InputError(
                "--logger wandb needs Weights & Biases, which is not installed: pip install 'idealssl[wandb]' "
                "(or pip install wandb)"
            ) from None
        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "idealssl"),
            name=Path(run_dir).name,
            dir=str(run_dir),
            config=recorded,
            mode=mode,
            reinit=True,
            id=wandb_run_id(run_dir),
            resume="allow",
        )

    def log(self, rec: dict) -> None:
        prefix = "epoch/" if rec.get("end_of_epoch") else "train/"
        self.run.log({prefix + k: v for k, v in _scalars(rec).items()}, step=int(rec["step"]))

    def close(self) -> None:
        self.run.finish()


def wandb_run_id(run_dir: Path) -> str:
    """The run directory's wandb run id: read from ``RUN/wandb_run_id``, or made (16 random hex digits, a valid
    wandb id) and written there atomically on the first session, so that every resume logs into the same wandb run."""
    path = Path(run_dir) / "wandb_run_id"
    if path.is_file():
        got = path.read_text().strip()
        if got:
            return got
    new = uuid.uuid4().hex[:16]
    atomic.write_text(path, new + "\n", "wandb run id")
    return new


def check_available(names: list[str]) -> None:
    """Fail before anything is written when a chosen optional logger is not installed (one line naming the extra)."""
    for n, module, extra in (("tb", "torch.utils.tensorboard", "tb"), ("wandb", "wandb", "wandb")):
        if n in names:
            try:
                __import__(module)
            except ImportError:
                raise InputError(
                    f"--logger {n} needs the optional '{extra}' extra, which is not installed: "
                    f"pip install 'idealssl[{extra}]'"
                ) from None


def build(names: list[str], run_dir: Path, recorded: dict[str, Any]) -> list[Any]:
    """The loggers besides JSONL (which the training session writes itself); ``recorded``: the run's configuration
    as config.yaml holds it (W&B records it with the run)."""
    out: list[Any] = []
    for n in names:
        if n == "csv":
            out.append(CSVLogger(run_dir))
        elif n == "tb":
            out.append(TensorBoardLogger(run_dir))
        elif n == "wandb":
            out.append(WandbLogger(run_dir, recorded))
    return out
