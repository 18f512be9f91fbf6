"""The pinned install: ``constraints.txt`` (what CI installs: the project's libraries through
``constraints-libs.txt``, and the torch stack) and ``constraints-libs.txt`` (no torch, so that a working torch, a
CPU-only build for one, is kept), and the README's CPU-only route."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_STACK = re.compile(r"^(torch|torchvision|triton|nvidia-[\w-]+|cuda-[\w-]+)$")


def _pins(name: str) -> tuple[dict[str, str], list[str]]:
    pins, nested = {}, []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-c "):
            nested.append(line[3:].strip())
            continue
        pkg, _, version = line.partition("==")
        assert version, f"{name}: {line!r} is not pinned with =="
        assert pkg.lower() not in pins, f"{name}: {pkg} pinned twice"
        pins[pkg.lower()] = version
    return pins, nested


def test_the_libraries_constraints_pin_no_torch_and_the_full_set_adds_only_the_torch_stack():
    libs, nested_libs = _pins("constraints-libs.txt")
    full, nested = _pins("constraints.txt")
    assert not nested_libs and nested == ["constraints-libs.txt"]
    assert not [p for p in libs if TORCH_STACK.match(p)]
    assert full and all(TORCH_STACK.match(p) for p in full), sorted(p for p in full if not TORCH_STACK.match(p))
    assert {"torch", "torchvision"} <= set(full)
    for dep in ("numpy", "scipy", "scikit-learn", "pyyaml", "threadpoolctl", "pytest", "ruff", "mypy"):
        assert dep in libs, dep


def test_readme_gives_the_cpu_only_route_with_sizes():
    text = (ROOT / "README.md").read_text()
    assert "https://download.pytorch.org/whl/cpu" in text and "constraints-libs.txt" in text
    assert re.search(r"\d(\.\d)? GB", text)
