"""Import every objective module of this package so that each registers itself."""

import importlib
import pkgutil
from pathlib import Path

_SKIP = {"base", "defaults", "distributed", "ema", "functional", "heads", "presets"}
for _m in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if not _m.name.startswith("_") and _m.name not in _SKIP:
        importlib.import_module(f"idealssl.objectives.{_m.name}")
