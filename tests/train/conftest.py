import os
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import _tiny  # noqa: E402,F401  (registers tinytest / tinyema)

from _tiny import FAST  # noqa: E402,F401  (re-exported for fixtures)


@pytest.fixture
def runner(tmp_path):
    """A script that registers the tiny test objectives and runs the idealssl CLI (for subprocesses)."""
    p = tmp_path / "run_idealssl.py"
    p.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import _tiny
        from idealssl.cli import main
        sys.exit(main(sys.argv[1:]))
    """))
    return p


@pytest.fixture
def sub_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env
