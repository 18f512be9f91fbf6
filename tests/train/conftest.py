import os
import textwrap
from pathlib import Path

import pytest

from . import _tiny  # noqa: F401  (registers tinytest / tinyema)

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
