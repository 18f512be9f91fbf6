"""``--dataset folder`` on the layouts a user has: ``ROOT/train`` + ``ROOT/val``, a plain ImageFolder root
(``ROOT/<class>/*``, split stratified and seeded, the split recorded in results.json) and a flat folder of unlabelled
images (pretraining only; the evaluations that need labels skipped with a line, or refused when asked explicitly);
images of another size than ``data.image_size`` are resized with one line saying so."""

import json

import numpy as np
import pytest
from PIL import Image

from idealssl.cli import main
from idealssl.data.datasets import load_dataset
from idealssl.errors import InputError
from idealssl.train.defaults import DataConfig

from .conftest import train_args


def _images(directory, n, size, colour, start=0):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start + sum(colour))
    for i in range(n):
        a = np.clip(np.array(colour) + rng.normal(0, 30, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(directory / f"{start + i}.png")


@pytest.fixture(scope="module")
def plain_root(tmp_path_factory):
    """ROOT/<class>/*.png: 3 classes of 10, 10 and 5 images of 16 x 16 px."""
    root = tmp_path_factory.mktemp("plain") / "animals"
    for name, n, col in (("cat", 10, (200, 30, 30)), ("dog", 10, (30, 200, 30)), ("owl", 5, (30, 30, 200))):
        _images(root / name, n, (16, 16), col)
    return root


@pytest.fixture(scope="module")
def flat_root(tmp_path_factory):
    """ROOT/*.png: 24 unlabelled images of 16 x 16 px."""
    root = tmp_path_factory.mktemp("flat") / "unlabelled"
    _images(root, 24, (16, 16), (120, 120, 120))
    return root


def _fast(root, out, *extra, method="simclr"):
    return train_args(
        method,
        "model.width=8",
        "optim.batch_size=8",
        "data.image_size=16",
        "train.progress=off",
        *extra,
        dataset="folder",
        out=out,
        flags=["--data-dir", str(root), "--arch", "convnet", "--fast-dev-run"],
        fast=False,
    )


def test_a_plain_imagefolder_root_is_split_stratified_and_seeded(plain_root):
    ds = load_dataset("folder", plain_root, DataConfig(image_size=16))
    assert ds.n_classes == 3 and len(ds.train_x) + len(ds.test_x) == 25
    assert np.bincount(ds.test_y).tolist() == [2, 2, 1]  # 20% of each class, at least one
    assert np.bincount(ds.train_y).tolist() == [8, 8, 4]
    split = ds.split
    assert split["kind"] == "stratified" and split["seed"] == 0 and split["test_fraction"] == 0.2
    assert split["test_per_class"] == {"cat": 2, "dog": 2, "owl": 1} and len(split["test_files"]) == 5
    again = load_dataset("folder", plain_root, DataConfig(image_size=16))
    assert again.split["test_files"] == split["test_files"]
    other = load_dataset("folder", plain_root, DataConfig(image_size=16, split_seed=1))
    assert other.split["test_files"] != split["test_files"]
    half = load_dataset("folder", plain_root, DataConfig(image_size=16, test_fraction=0.5))
    assert np.bincount(half.test_y).tolist() == [5, 5, 2]


def test_train_on_a_plain_root_records_the_split_in_results(plain_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_fast(plain_root, out, "data.split_seed=3")) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["data_split"]["seed"] == 3 and len(res["data_split"]["test_files"]) == 5
    assert "knn" in res["eval"]
    assert "split" in capsys.readouterr().err


def test_a_flat_folder_of_unlabelled_images_pretrains_and_skips_the_evaluations(flat_root, tmp_path, capsys):
    ds = load_dataset("folder", flat_root, DataConfig(image_size=16))
    assert ds.n_classes == 0 and len(ds.train_x) == 24 and len(ds.test_x) == 0 and (ds.train_y == -1).all()
    out = tmp_path / "run"
    assert main(_fast(flat_root, out)) == 0
    err = capsys.readouterr().err
    assert "unlabelled" in err and "skipped" in err
    res = json.loads((out / "results.json").read_text())
    assert "eval" not in res and res["steps"] >= 1 and "skipped" in res["eval_skipped"]


def test_asking_for_an_evaluation_on_unlabelled_images_is_refused_with_the_reason(flat_root, tmp_path, capsys):
    assert main(_fast(flat_root, tmp_path / "run", "eval.at_end=[knn]")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eval.at_end" in err[0] and "labels" in err[0] and "Traceback" not in err[0]


def test_images_of_another_size_are_resized_with_one_line(plain_root, tmp_path, capsys):
    same = load_dataset("folder", plain_root, DataConfig(image_size=16))
    assert not [x for x in same.notices if "resized" in x]  # every image is 16 x 16 already
    lines = [x for x in load_dataset("folder", plain_root, DataConfig(image_size=8)).notices if "resized" in x]
    assert len(lines) == 1 and "25 of 25" in lines[0] and "16x16" in lines[0] and "8x8" in lines[0]
    assert main(_fast(plain_root, tmp_path / "run", "data.image_size=8", "views.size=8")) == 0
    assert len([x for x in capsys.readouterr().err.splitlines() if "resized" in x]) == 1


def test_an_empty_root_says_every_layout_it_reads(tmp_path):
    with pytest.raises(InputError) as ei:
        load_dataset("folder", tmp_path, DataConfig())
    msg = str(ei.value)
    assert "\n" not in msg and "<class>" in msg and "train/<class>" in msg and "unlabelled" in msg


def test_split_settings_are_checked(plain_root, tmp_path, capsys):
    assert main(_fast(plain_root, tmp_path / "r", "data.test_fraction=1.5")) == 2
    assert "data.test_fraction" in capsys.readouterr().err
    assert main(train_args("simclr", "data.split_seed=2", dataset="digits", out=tmp_path / "d", fast=False)) == 2
    assert "data.split_seed" in capsys.readouterr().err
