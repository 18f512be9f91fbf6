"""``idealssl.train(method=..., dataset=..., **overrides)``: a run from Python, the results dict returned.

The same path as ``idealssl train``: one :class:`~idealssl.train.config.Command` built from the keywords, the
configuration resolved once (:func:`idealssl.train.config.for_command`: defaults < preset < ``config`` file <
keywords), then :func:`idealssl.train.loop.train` in this process. Torch is imported when a run starts, not before.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import InputError
from ..jsonutil import plain


def train(  # noqa: PLR0913 (one keyword per option of idealssl train)
    method: str | None = None,
    dataset: str | None = None,
    *,
    config: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    fast_dev_run: bool = False,
    resume: str | os.PathLike | bool | None = None,
    overwrite: bool = False,
    allow_changes: bool = False,
    verbose: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Pretrain and evaluate as ``idealssl train`` does; return the results (``RUN/results.json``'s mapping).

    Parameters
    ----------
    method, dataset : str, optional
        ``--method``, ``--dataset`` (defaults: the preset's, ``digits``).
    config : path, optional
        ``--config``: a YAML file of settings.
    out : path, optional
        ``--out``, the run directory (default ``runs/<dataset>-<method>/<time>-s<seed>``).
    fast_dev_run : bool
        ``--fast-dev-run``: a smoke test in seconds (numbers not reportable).
    resume : path or True, optional
        ``--resume``: True continues ``out``'s last checkpoint; a checkpoint or run directory otherwise.
    overwrite, allow_changes : bool
        ``--overwrite``, ``--allow-changes``.
    verbose : bool
        Print the start-up lines, progress and results to stderr, as the command does.
    **overrides
        Settings by name: a flag's name (``epochs``, ``batch_size``, ``lr``, ``seed``, ``arch``, ``data_dir``,
        ``device``, ...: :data:`idealssl.train.config.FLAG_KEYS`), or a dotted key with ``__`` for the dot
        (``optim__lr=0.1``, ``views__strength=2``), or a dotted key itself through ``**{"optim.lr": 0.1}``. Each is
        checked, type and range, as on the command line.

    Returns
    -------
    dict
        The run's results, equal to ``json.load(open(RUN/results.json))``: every number with its protocol.

    Raises
    ------
    InputError
        A bad setting, dataset or run directory (the command's exit 2), with the command's one-line message.
    """
    from .config import FLAG_KEYS, Command, for_command
    from .resume import ResumeOptions, resumed_config

    flags = {FLAG_KEYS.get(k, k.replace("__", ".")): v for k, v in overrides.items()}
    flags["out"] = str(out) if out is not None else None
    unknown = [k for k in flags if k not in FLAG_KEYS.values() and "." not in k]
    if unknown:
        raise InputError(
            f"idealssl.train: unknown keyword {unknown[0]!r}; use a flag's name ({', '.join(FLAG_KEYS)}) or a "
            f"dotted key (optim__lr=0.1, or **{{'optim.lr': 0.1}})"
        )
    how = "auto" if resume is True else (str(resume) if resume else None)
    resumed = resumed_config(how, flags["out"], allow_changes)
    cmd = Command(method, dataset, str(config) if config else None, flags, [], flags["out"], bool(fast_dev_run))
    cfg, explicit = for_command(cmd, resumed.config, resumed.edits)
    from .loop import train as run_loop

    res = run_loop(cfg, ResumeOptions(how, explicit, allow_changes, overwrite), verbose=verbose)
    return json.loads(json.dumps(plain(res), default=str))  # as results.json holds it
