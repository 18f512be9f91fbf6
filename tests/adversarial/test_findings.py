"""Each finding of ``tests/adversarial/findings.py`` as a test: the ``check`` and ``static`` groups in the default
run (each a few seconds of subprocesses), the ``train`` group (real ``idealssl train`` runs) and the longest
``check`` findings (``SLOW``) in the slow step."""

import pytest

from tests.adversarial.findings import all_findings, run_one

# over ~20 s each on the 2-core machine under load: with the train group in the slow step
SLOW = {"long_label", "plot_target", "order_free_verdict"}
CASES = [
    pytest.param(fn, id=f"{group}/{name}", marks=[pytest.mark.slow] if group == "train" or name in SLOW else [])
    for group, name, _, fn in all_findings()
]


@pytest.mark.parametrize("fn", CASES)
def test_finding_does_not_reproduce(fn):
    outcome = run_one(fn)
    if outcome.reproduced is None:
        pytest.skip(outcome.detail)
    assert outcome.reproduced is False, outcome.detail
