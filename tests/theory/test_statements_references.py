"""theory/statements.md names, for each statement, the code and the tests that check it: every test function and
test file it names exists (a renamed test must not leave the statement pointing at nothing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATEMENTS = ROOT / "theory" / "statements.md"


def _test_functions() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_every_test_file_named_in_the_statements_exists():
    text = STATEMENTS.read_text()
    files = set(re.findall(r"tests/[\w/]+\.py", text))
    assert files, "the statements name no test file"
    assert sorted(f for f in files if not (ROOT / f).is_file()) == []


def test_every_test_function_named_in_the_statements_exists():
    text = STATEMENTS.read_text()
    named = set(re.findall(r"`(test_\w+?)`", text)) | set(re.findall(r"::(test_\w+)", text))
    named = {n for n in named if not n.endswith("_")}  # `test_dissl_*`-style patterns name a family of tests
    files = {Path(f).stem for f in re.findall(r"\b(test_\w+)\.py", text)}
    defined = _test_functions()  # parsed once, not once per name
    missing = sorted(n for n in named - files if n not in defined)
    assert missing == []
