"""Shared helpers for the objective tests (independent reference implementations live in the tests)."""
import numpy as np
import pytest
import torch


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
    """Small heads so the tests run fast on CPU."""
    return {
        "simclr": dict(hidden_dim=32, out_dim=16),
        "cissl": dict(out_dim=16, teacher_hidden_dim=32, probe_hidden_dim=32),
        "dissl": dict(n_classes=32, teacher_hidden_dim=32, bottleneck=16, probe_hidden_dim=32),
        "dino": dict(hidden_dim=32, bottleneck_dim=16, out_dim=64),
        "swav": dict(hidden_dim=32, out_dim=16, n_prototypes=24),
        "byol": dict(hidden_dim=32, out_dim=16),
        "vicreg": dict(hidden_dim=32, out_dim=32),
        "barlow": dict(hidden_dim=32, out_dim=32),
        "vje": dict(hidden_dim=16),
    }[name]
