"""idealssl: idealized self-supervised representations, as software.

Top-level API (imports are lazy so that ``import idealssl`` stays cheap):

* :func:`idealssl.check` — decide and certify whether a representation is ideal for a probe family.
* :func:`idealssl.train` — pretrain and evaluate as ``idealssl train`` does, the results dict returned
  (``idealssl.train(method="dissl", dataset="digits", epochs=5)``; the ``train`` extra; torch is imported by the call).
* :mod:`idealssl.objectives` — CISSL, DISSL, the baselines and VJE under one interface.
"""

__version__ = "0.1.0"

__all__ = ["check", "train", "load_representation", "load_orbits", "__version__"]


def __getattr__(name: str):
    if name == "check":  # the function idealssl.checker.check, imported on first use
        from .checker.api import check

        return check
    if name == "train":  # the package idealssl.train, callable as idealssl.train.api.train (torch-free until called)
        import importlib

        return importlib.import_module(".train", __name__)
    if name == "load_representation":
        from .inputs.representation import load_representation

        return load_representation
    if name == "load_orbits":
        from .inputs.orbits import load_orbits

        return load_orbits
    raise AttributeError(f"module 'idealssl' has no attribute {name!r}")
