"""Reproduce every finding of the adversarial pass over the CLI (bad input given a verdict, a wrong exit code, a
traceback, a user's file lost), each as a user would meet it: ``idealssl`` in a subprocess, in a temporary folder.

``python -m tests.adversarial.findings`` prints one line per finding (``REPRODUCED``, ``not reproduced`` or
``skipped`` with the reason) and exits 1 when any reproduces. ``--group check`` (the ``check``/``derive``/``bench
export`` findings and the theory's fixtures, about a minute), ``--group train`` (the run-directory findings: real
``idealssl train`` runs on the fake dataset, several minutes), ``--group static`` (the tests and documents the pass
found unable to fail); ``-k TEXT`` selects findings by name; ``--list`` names them. Each finding tries the
statement as written and a few variants (other suffixes, other commands reaching the same writer).
``tests/adversarial/test_findings.py`` runs each finding as a test (the ``train`` group in the slow step).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.adversarial import check_findings, static_findings, train_findings
from tests.adversarial._util import Outcome

Finding = tuple[str, str, str, Callable[[Path], Outcome]]


def all_findings() -> list[Finding]:
    """(group, name, statement, function) of every finding."""
    out: list[Finding] = []
    for group, module in (("check", check_findings), ("static", static_findings), ("train", train_findings)):
        for name, (statement, fn) in module.FINDINGS.items():
            out.append((group, name, statement, fn))
    return out


def run_one(fn: Callable[[Path], Outcome]) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="idealssl-adv-") as d:
        try:
            return fn(Path(d))
        except Exception as exc:  # the script's own failure is reported, never taken for "not reproduced"
            return Outcome(True, f"the reproduction itself failed: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.adversarial.findings", description=__doc__.split("\n\n")[0])
    ap.add_argument("--group", choices=["check", "train", "static", "all"], default="all")
    ap.add_argument("-k", dest="select", default="", help="only findings whose name contains this text")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    chosen = [f for f in all_findings() if args.group in ("all", f[0]) and args.select in f[1]]
    if args.list:
        for group, name, statement, _ in chosen:
            print(f"{group:6s} {name}: {statement}")
        return 0
    bad = 0
    t0 = time.monotonic()
    for group, name, statement, fn in chosen:
        t = time.monotonic()
        o = run_one(fn)
        status = {True: "REPRODUCED", False: "not reproduced", None: "skipped"}[o.reproduced]
        bad += o.reproduced is True
        print(f"{status:15s} {group}/{name} ({time.monotonic() - t:.0f} s): {statement} -- {o.detail}", flush=True)
    print(f"{bad} of {len(chosen)} findings reproduced ({time.monotonic() - t0:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
