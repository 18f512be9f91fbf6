"""Findings about tests that could not fail and a document's statistics: read from the tree's files."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from tests.adversarial._util import ROOT, Outcome

FINDINGS: dict[str, tuple[str, Callable[[Path], Outcome]]] = {}


def finding(statement: str):
    def register(fn):
        FINDINGS[fn.__name__] = (statement, fn)
        return fn

    return register


def _tests(path: str) -> dict[str, str]:
    """Test function name -> its source, for a test file."""
    src = (ROOT / path).read_text()
    tree = ast.parse(src)
    return {
        n.name: ast.get_source_segment(src, n) or ""
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    }


@finding(
    "the disk-full test reaches the disk (no patched _serialise) and one runs unprivileged (RLIMIT_FSIZE or ENOSPC at os.write)"  # noqa: E501
)
def disk_full_test_reaches_the_disk(tmp: Path) -> Outcome:
    bad = []
    for path in ("tests/train/test_reliability.py", "tests/train/test_faults.py"):
        for name, src in _tests(path).items():
            if re.search(r"setattr\([^)]*_serialise", src):
                bad.append(f"{path}::{name} patches _serialise")
    texts = {p: p.read_text() for p in (ROOT / "tests").rglob("test_*.py")}
    unprivileged = [
        str(p.relative_to(ROOT))
        for p, t in texts.items()
        if ("RLIMIT_FSIZE" in t or "ENOSPC" in t) and "disk" in t.lower()
    ]
    if not unprivileged:
        bad.append("no disk-full test with RLIMIT_FSIZE or an injected ENOSPC")
    return Outcome(bool(bad), "; ".join(bad) or "disk-full tests write for real: " + ", ".join(sorted(unprivileged)))


@finding(
    "the kill -9 test checks the process was killed (rc -9); the records test checks every step; 'missing out' is tested"  # noqa: E501
)
def fault_tests_can_fail(tmp: Path) -> Outcome:
    bad = []
    faults = _tests("tests/train/test_faults.py")
    kill = [s for n, s in faults.items() if "kill9" in n and "random" in n]
    if not kill or not any(re.search(r"returncode\s*==\s*-(9|signal\.SIGKILL)", s) for s in kill):
        bad.append("the kill -9 test does not assert rc -9")
    records = [s for n, s in faults.items() if "truncated_metrics" in n]
    if not records or not any(re.search(r"range\(|== list\(|set\(", s) for s in records):
        bad.append("the truncated-metrics test does not compare the full list of steps")
    rel = _tests("tests/train/test_reliability.py")
    missing = [s for n, s in rel.items() if "missing_out" in n]
    if not missing or not any("missing" in s.split(":", 1)[1] for s in missing):
        bad.append("the 'empty or missing out' test does not try a missing folder")
    return Outcome(bool(bad), "; ".join(bad) or "kill asserted, steps compared in full, missing out tried")


@finding("results/digits/README.md claims no within-method link past Bonferroni from spearmanr on de-meaned values")
def grouped_statistics(tmp: Path) -> Outcome:
    text = (ROOT / "results" / "digits" / "README.md").read_text()
    bad = []
    within = [ln for ln in text.splitlines() if ln.lstrip("* ").lower().startswith("within methods")]
    for ln in within:
        for part in ln.split(";"):
            if "pass" in part and "none pass" not in part:
                bad.append(f"within-method claim: {part.strip()[:120]}")
    if "permutation" not in text:
        bad.append("no permutation test named")
    for p in ("0.0011", "0.00073"):
        for ln in text.splitlines():
            if f"p = {p}" in ln and "anti-conservative" not in ln and "gives" not in ln:
                bad.append(f"p = {p} quoted as a result")
    return Outcome(
        bool(bad), "; ".join(bad) or "within-method p-values are permutation p-values; none claimed past Bonferroni"
    )
