import os
import textwrap
from pathlib import Path

import pytest

from . import _tiny  # noqa: F401  (registers tinytest / tinyema)
from ._tiny import FAST

HERE = Path(__file__).parent


@pytest.fixture
def runner(tmp_path):
    """A script that registers the tiny test objectives and runs the idealssl CLI (for subprocesses)."""
    p = tmp_path / "run_idealssl.py"
    p.write_text(
        textwrap.dedent(f"""
        import importlib.util
        import sys
        spec = importlib.util.spec_from_file_location("_tiny", {str(HERE / "_tiny.py")!r})
        spec.loader.exec_module(importlib.util.module_from_spec(spec))  # registers tinytest / tinyema
        from idealssl.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    )
    return p


@pytest.fixture
def sub_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def train_args(
    method: str = "tinytest",
    *overrides: str,
    dataset: str | None = "digits",
    out=None,
    epochs: int | None = None,
    flags: tuple[str, ...] | list[str] = (),
    fast: bool = True,
) -> list[str]:
    """The argv of ``idealssl train`` as the tests give it: ``--method``, ``--dataset`` (None: none), ``--epochs``,
    ``--out``, other ``flags``, then the dotted overrides: :data:`FAST` (the tiny run's settings) unless ``fast`` is
    false, and ``overrides`` after it (a later override wins)."""
    argv = ["train", "--method", method]
    if dataset is not None:
        argv += ["--dataset", dataset]
    if epochs is not None:
        argv += ["--epochs", str(epochs)]
    if out is not None:
        argv += ["--out", str(out)]
    return [*argv, *flags, *(FAST if fast else []), *overrides]


@pytest.fixture(name="train_args")
def train_args_fixture():
    """The builder of ``idealssl train`` argv lists (:func:`train_args`)."""
    return train_args
