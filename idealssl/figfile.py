"""Figure files: matplotlib on demand and figures written whole, for the checker's figure and a run's figures.

matplotlib (the ``plot`` extra) is imported when a figure is drawn, never at import time.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from . import atomic
from .errors import InputError

__all__ = ["pyplot", "figure_target", "save"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend; one InputError line when matplotlib is not installed."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise InputError(
            "plots need matplotlib, which is not installed: pip install 'idealssl[plot]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_target(path: str | Path) -> Path:
    """Check, before anything is computed, that a figure can be written to ``path``: matplotlib installed, an
    extension naming a format it writes, not a directory, and a writable place for it (folders to be created
    below the nearest existing one). Returns the path. One InputError line otherwise."""
    path = Path(path)
    pyplot()  # matplotlib installed
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = sorted(FigureCanvasAgg.get_supported_filetypes())
    if path.is_dir():
        raise InputError(f"{path} is a directory; give a figure file such as {path / 'check.png'}")
    ext = path.suffix[1:].lower()
    if not ext:
        raise InputError(f"{path}: a figure file needs an extension naming its format ({', '.join(formats)})")
    if ext not in formats:
        raise InputError(f"{path}: matplotlib cannot write '.{ext}' figures (it writes {', '.join(formats)})")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write in {parent} (permission denied)")
    return path


def save(fig, path: Path) -> Path:
    """``fig`` drawn into memory in the format of ``path``'s suffix (:func:`figure_target` checks it), then written
    to exactly ``path`` by :func:`idealssl.atomic.write_bytes` (atomically, never through a symlink)."""
    buf = io.BytesIO()
    try:
        path = figure_target(path)
        fig.savefig(buf, format=path.suffix[1:].lower(), dpi=110, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    atomic.write_bytes(path, buf.getbuffer(), "figure")
    return path
