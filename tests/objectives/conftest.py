"""Shared helpers for the objective tests (independent reference implementations live in the tests)."""

import numpy as np
import pytest
import torch

from idealssl.objectives.presets import compact


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


def np_log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def np_normalize(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def small_kwargs(name, dim):
    """Small heads so the tests run fast on CPU: presets.compact at width 32, with these differences."""
    diff = {"dissl": dict(categories=32), "dino": dict(use_bn=False), "swav": dict(n_prototypes=24)}
    return {**compact(name, width=32), **diff.get(name, {})}
