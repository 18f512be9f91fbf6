"""``--dataset fake`` (random images of any size and class count) and the optional loggers."""

import json

import numpy as np
import pytest

from idealssl.cli import main
from idealssl.data.datasets import load_dataset, load_fake
from idealssl.errors import InputError

from ._tiny import FAST

QUICK = [o for o in FAST if "fraction" not in o] + ["eval.at_end=[]", "optim.warmup_epochs=0"]


def test_fake_images_any_size_and_class_count_seeded():
    a = load_fake(size=12, n_classes=3, n_images=30, channels=1, seed=5)
    assert a.train_x.shape == (30, 1, 12, 12) and a.train_x.dtype == np.uint8 and a.test_x.shape == (6, 1, 12, 12)
    assert a.n_classes == 3 and set(a.train_y) == {0, 1, 2} and a.name == "fake"
    b = load_fake(size=12, n_classes=3, n_images=30, channels=1, seed=5)
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.test_x, b.test_x)
    assert not np.array_equal(a.train_x, load_fake(12, 3, 30, 1, seed=6).train_x)
    c = load_dataset("fake", "/nonexistent", {"fake_size": 40, "fake_classes": 100, "fake_images": 200})
    assert c.train_x.shape == (200, 3, 40, 40) and c.n_classes == 100 and c.test_x.shape[0] == 100


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"size": 0}, "data.fake_size must be an integer >= 1"),
        ({"n_classes": 2.5}, "data.fake_classes must be an integer"),
        ({"channels": 2}, "data.fake_channels must be 1 or 3"),
        ({"n_images": 10**6, "size": 256}, "more than 2 GiB"),
    ],
)
def test_fake_bad_settings_are_one_line(kw, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(")):
        load_fake(**kw)


def test_train_on_fake_images(tmp_path, capsys):
    run = tmp_path / "run"
    argv = [
        "train",
        "--method",
        "tinytest",
        "--dataset",
        "fake",
        "--arch",
        "convnet",
        "--epochs",
        "1",
        "--out",
        str(run),
        *QUICK,
        "data.fake_size=16",
        "data.fake_classes=4",
        "data.fake_images=128",
        "optim.batch_size=32",
        "eval.at_end=[knn]",
        "eval.knn_k=5",
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "tinytest on fake: 128 pretraining images" in err
    res = json.loads((run / "results.json").read_text())
    assert res["steps"] == 4 and res["eval"]["knn"]["top1"] > 0.25  # 4 classes: above chance
