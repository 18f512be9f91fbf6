"""Test-wide settings: hypothesis profiles.

``CI`` set (any value but "" or "0"): the ``ci`` profile, ``derandomize=True``, so that every CI run draws
the same examples (a failure reproduces); locally the ``dev`` profile draws fresh examples each run.
``HYPOTHESIS_PROFILE=thorough`` runs many more examples (the equivalence harness uses it for long runs).
Per-test ``@settings`` still set ``max_examples``; a profile supplies what they leave out.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_default = "ci" if os.environ.get("CI", "") not in ("", "0") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
