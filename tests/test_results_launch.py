"""results/launch.py: the one launcher of ``idealssl train`` for the scripts that write the results folders."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _launch():
    spec = importlib.util.spec_from_file_location("results_launch", ROOT / "results" / "launch.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_the_command_is_idealssl_train_with_the_scripts_flags_last(tmp_path):
    cmd = _launch().train_command("dissl", "digits", 3, tmp_path / "r", ["--probe", "linear", "optim.epochs=30"])
    assert cmd == [
        sys.executable,
        "-m",
        "idealssl.cli",
        "train",
        "--method",
        "dissl",
        "--dataset",
        "digits",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "r"),
        "--no-progress",
        "--probe",
        "linear",
        "optim.epochs=30",
    ]


def test_a_failed_run_returns_its_one_line_error_and_a_stale_directory_is_removed(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "left-over").write_text("an interrupted run")
    r = _launch().train("no-such-method", "digits", 0, out, [])
    assert not r.ok and r.returncode == 2
    assert "no-such-method" in (r.last_error_line or "")
    assert not (out / "left-over").exists()
    assert r.seconds > 0


def test_every_results_writer_launches_through_it():
    writers = sorted((ROOT / "results").glob("*/*.py"))
    assert writers, "no results writer found"
    for path in writers:
        text = path.read_text()
        assert "subprocess" not in text, f"{path.relative_to(ROOT)} runs a subprocess itself: use results/launch.py"
    users = [p.name for p in writers if "launch.train(" in p.read_text()]
    assert users == ["one_class.py", "run.py", "vje_study.py"]
