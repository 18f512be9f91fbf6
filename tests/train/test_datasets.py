"""Fixture files in each real on-disk format, written here and read back by idealssl.data."""

import pickle

import numpy as np
import pytest
from PIL import Image

from idealssl.data.datasets import load_dataset
from idealssl.errors import InputError
from idealssl.train.defaults import DataConfig


def _cifar_batch(path, n, n_classes, key, rng):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = rng.integers(0, n_classes, size=n).tolist()
    with open(path, "wb") as fh:  # protocol 2 and bytes keys, as in the original python-2 pickles
        pickle.dump({b"batch_label": b"x", key: labels, b"data": data, b"filenames": [b"a"] * n}, fh, protocol=2)
    return data, labels


def test_cifar10_pickle_batches(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    parts = [_cifar_batch(root / f"data_batch_{i}", 4, 10, b"labels", rng) for i in range(1, 6)]
    te = _cifar_batch(root / "test_batch", 3, 10, b"labels", rng)
    ds = load_dataset("cifar10", tmp_path, DataConfig())
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_x.shape == (3, 3, 32, 32)
    # row-major 3x32x32: the first 1024 bytes are the red plane
    np.testing.assert_array_equal(ds.train_x[0, 0].ravel(), parts[0][0][0, :1024])
    np.testing.assert_array_equal(ds.test_y, te[1])
    assert ds.n_classes == 10 and ds.channels == 3 and ds.image_size == 32
    # --data-dir may also point at the folder itself
    assert load_dataset("cifar10", root, DataConfig()).train_x.shape[0] == 20


def test_cifar100_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    _, ytr = _cifar_batch(root / "train", 6, 100, b"fine_labels", rng)
    _cifar_batch(root / "test", 2, 100, b"fine_labels", rng)
    ds = load_dataset("cifar100", tmp_path, DataConfig())
    assert ds.n_classes == 100 and list(ds.train_y) == ytr


def test_cifar_rejects_code_and_garbage(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i in range(1, 6):
        (root / f"data_batch_{i}").write_bytes(b"not a pickle at all")
    (root / "test_batch").write_bytes(b"x")
    with pytest.raises(InputError, match="not a CIFAR python batch"):
        load_dataset("cifar10", tmp_path, DataConfig())

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(root / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(InputError, match="refusing to load builtins.print"):
        load_dataset("cifar10", tmp_path, DataConfig())


def test_stl10_binaries_column_major(tmp_path):
    root = tmp_path / "stl10_binary"
    root.mkdir()
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, size=(2, 3, 96, 96), dtype=np.uint8)  # (N, C, H, W) as we want to read it
    # the file stores each channel column-major: (N, C, W, H) in C order
    img.transpose(0, 1, 3, 2).tofile(root / "train_X.bin")
    np.array([1, 10], np.uint8).tofile(root / "train_y.bin")
    img[:1].transpose(0, 1, 3, 2).tofile(root / "test_X.bin")
    np.array([3], np.uint8).tofile(root / "test_y.bin")
    unl = rng.integers(0, 256, size=(3, 3, 96, 96), dtype=np.uint8)
    unl.transpose(0, 1, 3, 2).tofile(root / "unlabeled_X.bin")
    ds = load_dataset("stl10", tmp_path, DataConfig())
    np.testing.assert_array_equal(ds.train_x, img)
    assert list(ds.train_y) == [0, 9] and list(ds.test_y) == [2]
    assert ds.ssl_x.shape[0] == 5  # unlabeled + train for pretraining
    (root / "test_y.bin").write_bytes(b"\x01\x02")
    with pytest.raises(InputError, match="2 labels for 1 images"):
        load_dataset("stl10", tmp_path, DataConfig())


def _png(path, color, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_image_folder_and_tinyimagenet(tmp_path):
    root = tmp_path / "flowers"
    for split in ("train", "val"):
        for c, col in (("daisy", (255, 0, 0)), ("rose", (0, 0, 255))):
            for i in range(2):
                _png(root / split / c / f"{i}.png", col)
    ds = load_dataset("folder", root, DataConfig(image_size=8))
    assert ds.train_x.shape == (4, 3, 8, 8) and ds.n_classes == 2
    assert ds.train_x[0, 0].min() == 255 and ds.train_x[0, 2].max() == 0  # daisy is red, class 0
    assert list(ds.test_y) == [0, 0, 1, 1]

    tin = tmp_path / "tiny-imagenet-200"
    (tin / "wnids.txt").parent.mkdir()
    (tin / "wnids.txt").write_text("n01\nn02\n")
    for w, col in (("n01", (0, 255, 0)), ("n02", (9, 9, 9))):
        for i in range(2):
            _png(tin / "train" / w / "images" / f"{w}_{i}.JPEG", col, (64, 64))
    _png(tin / "val" / "images" / "val_0.JPEG", (9, 9, 9), (64, 64))
    _png(tin / "val" / "images" / "val_1.JPEG", (0, 255, 0), (64, 64))
    (tin / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn02\t0\t0\t1\t1\nval_1.JPEG\tn01\t0\t0\t1\t1\n")
    ds = load_dataset("tinyimagenet", tmp_path, DataConfig())
    assert ds.train_x.shape == (4, 3, 64, 64) and list(ds.test_y) == [1, 0] and ds.n_classes == 2


@pytest.mark.parametrize(
    "name,fragment",
    [
        ("cifar10", "cifar-10-batches-py"),
        ("cifar100", "cifar-100-python"),
        ("stl10", "stl10_binary"),
        ("tinyimagenet", "tiny-imagenet-200"),
        ("imagenet", "train/<class>"),
        ("folder", "train/<class>"),
    ],
)
def test_missing_dataset_says_which_files_where(tmp_path, name, fragment):
    with pytest.raises(InputError) as ei:
        load_dataset(name, tmp_path, DataConfig())
    msg = str(ei.value)
    assert "\n" not in msg and fragment in msg and str(tmp_path) in msg and "nothing is downloaded" in msg


def test_bad_names_and_dirs(tmp_path):
    with pytest.raises(InputError, match="unknown dataset 'mnist'.*available: cifar10"):
        load_dataset("mnist", tmp_path, DataConfig())
    with pytest.raises(InputError, match="does not exist"):
        load_dataset("cifar10", tmp_path / "nope", DataConfig())


def test_digits_embedded():
    ds = load_dataset("digits", None, DataConfig())
    assert ds.train_x.shape == (1437, 1, 8, 8) and ds.test_x.shape == (360, 1, 8, 8)
    assert ds.train_x.max() == 255 and set(np.unique(ds.test_y)) == set(range(10))
