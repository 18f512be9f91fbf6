"""Synthetic benchmarks: finite worlds where the maximal invariant M(X) is known exactly.

* :mod:`.worlds` — vector worlds (finite groups acting on R^D), image worlds (sklearn's 8x8 digits
  under enumerated translations, flips, intensity steps), coarseness families, export for
  ``idealssl check``.
* :mod:`.evaluate` — geometry (invariance, affine rank, distance to the simplex), the ideal ISSL
  log loss, probe accuracy on random invariant tasks (full data and few-shot vs W_n).
* :mod:`.train` — a small training loop taking views from the exact augmentation set, for any
  registered objective.
* :mod:`.experiments` — the experiments that test the paper's claims; :mod:`.cli` is
  ``idealssl bench``.

Importing this package does not import torch.
"""

from .worlds import World, digits_world, export, vector_world

__all__ = ["World", "vector_world", "digits_world", "export"]
