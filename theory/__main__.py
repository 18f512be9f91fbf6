"""``python -m theory``: run every derivation and print what it establishes."""

import importlib
import sys

from . import MODULES


def main() -> int:
    failed = 0
    for name in MODULES:
        mod = importlib.import_module(f"theory.{name}")
        print(f"=== theory.{name}")
        failed += 0 if mod.main() == 0 else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
