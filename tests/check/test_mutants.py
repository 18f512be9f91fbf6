"""The checker's mutation test (``tests/check/mutants.py``): every mutant of a condition is killed by a default-run
test. The full run is slow (one pytest process per mutant, about 3 minutes on 2 cores); that each mutant still
applies to the source is checked in the default run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .mutants import MUTANTS, ROOT


def test_every_mutant_applies_to_the_current_source():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names))
    for m in MUTANTS:
        for rel, old, new in m.edits:
            assert (ROOT / rel).read_text().count(old) == 1, (m.name, rel, old)
            assert old != new


@pytest.mark.slow
def test_every_mutant_of_the_checker_is_killed():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.check.mutants"], cwd=ROOT, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
