"""The console script's exit (:func:`idealssl.cli.exit_fast`): everything a normal exit does for the user (the
standard streams flushed, running threads waited for, the ``atexit`` handlers run, the exit status) without the
interpreter's teardown (benches/README.md: 0.6-1.5 s of CPU after a training command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_buffered_output_atexit_handlers_and_the_status_survive(tmp_path):
    marker = tmp_path / "atexit.txt"
    r = _child(
        "import atexit, sys\n"
        "from idealssl.cli import exit_fast\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        "print('verdict line')\n"  # a pipe: block-buffered, not yet written
        "sys.stderr.write('note')\n"
        "exit_fast(3)\n"
    )
    assert r.returncode == 3
    assert r.stdout == "verdict line\n"
    assert r.stderr == "note"
    assert marker.read_text() == "ran"


def test_a_running_thread_is_waited_for():
    r = _child(
        "import threading, time\n"
        "from idealssl.cli import exit_fast\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread finished'))).start()\n"
        "exit_fast(1)\n"
    )
    assert r.returncode == 1
    assert r.stdout == "thread finished\n"


def test_the_console_script_and_python_m_exit_through_it(tmp_path):
    import numpy as np

    assert 'idealssl = "idealssl.cli:entry"' in (ROOT / "pyproject.toml").read_text()
    np.save(tmp_path / "z.npy", np.repeat(np.eye(4)[:, :3], 5, axis=0))  # 4 orbits of 5 equal points: ideal
    (tmp_path / "o.json").write_text(json.dumps({"labels": np.repeat(np.arange(4), 5).tolist()}))
    code = (
        "import sys, idealssl.cli as c\n"
        "c.exit_fast = lambda code: (print('exit_fast', code), sys.stdout.flush(), c.os._exit(code))\n"
        "sys.argv = ['idealssl', 'check', 'z.npy', '--augs', 'o.json', '--json']\n"
        "c.entry()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("exit_fast 0")
    assert '"ideal": true' in r.stdout
