"""Regenerate the small example problems in this folder (all generated here, no outside data).

    python examples/make_examples.py

* ``simplex.npy`` + ``simplex_orbits.json``: C = 5 orbits, 4 augmented views each, every view mapped
  to its orbit's vertex of a regular simplex in R^4 (ideal for linear probes);
* ``span_counterexample.npy`` + ``span_orbits.json``: codes (1,0), (1,1), (1,2) — the paper's
  "dim span >= C-1" holds, yet {b} vs {a, c} is not linearly separable (not ideal);
* ``noisy.npy``: the simplex with visible within-orbit noise (not invariant);
* ``task.json``: a 3-class task on the 5 simplex orbits, for ``--task``.
"""

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main():
    rng = np.random.default_rng(0)
    C, views = 5, 4
    V = np.eye(C) - 1.0 / C  # regular simplex, in the hyperplane sum = 0
    Q, _ = np.linalg.qr(rng.standard_normal((C, C)))
    Z = np.repeat(V @ Q, views, axis=0)[:, :]  # 20 x 5, rank 4
    labels = np.repeat(np.arange(C), views)
    np.save(HERE / "simplex.npy", Z.astype(np.float32))
    (HERE / "simplex_orbits.json").write_text(
        json.dumps({"orbits": [np.flatnonzero(labels == m).tolist() for m in range(C)]})
    )
    np.save(HERE / "noisy.npy", (Z + 0.05 * rng.standard_normal(Z.shape)).astype(np.float32))
    np.save(HERE / "span_counterexample.npy", np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]))
    (HERE / "span_orbits.json").write_text(json.dumps({"labels": ["a", "b", "c"]}))
    (HERE / "task.json").write_text(json.dumps({"orbit_labels": ["cat", "dog", "cat", "bird", "dog"]}))


if __name__ == "__main__":
    main()
