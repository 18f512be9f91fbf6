"""Build configuration beyond pyproject.toml: one optional C extension.

``idealssl.check._deviation_kernel`` fuses the checker's per-row gather-subtract-norm (see
idealssl/check/stats.py). It is optional: without a C compiler the install still succeeds and the
checker uses its NumPy path (same results, slower at scale).
"""
import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-fopenmp-simd"]

setup(
    ext_modules=[
        Extension(
            "idealssl.check._deviation_kernel",
            sources=["idealssl/check/_deviation_kernel.c"],
            extra_compile_args=flags,
            optional=True,
        )
    ]
)
