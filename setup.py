"""Build configuration beyond pyproject.toml: one optional C extension.

``idealssl.inputs._kernels`` (idealssl/inputs/_kernels.c) holds the checker's fused per-row gather-subtract-norm
and its streaming pass over a ``.npy`` (idealssl/checker/stats.py), positioned reads of scattered rows
(idealssl/inputs/representation.py) and a strict parser for large JSON integer lists (idealssl/inputs/orbits.py). It is
optional: without a C compiler the install still succeeds and those callers use NumPy / Python (same
results, slower at scale).
"""

import sys

from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so the sums of squares are the same bits on every platform
flags = [] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"]

setup(
    ext_modules=[
        Extension(
            "idealssl.inputs._kernels",
            sources=["idealssl/inputs/_kernels.c"],
            extra_compile_args=flags,
            optional=True,
        )
    ]
)
