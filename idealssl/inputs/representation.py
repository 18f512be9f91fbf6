"""Representations: N x d numeric matrices, read in row chunks without loading them whole.

A representation reaches :func:`idealssl.check` as an in-memory array or as a file:

* ``.npy`` (NumPy format, any version) — read with ``allow_pickle=False``; the data are streamed in
  row chunks from the file (C or Fortran order);
* ``.npz`` — one named member (``path.npz`` with ``key=...``, or ``path.npz:key``; a single-member
  archive needs no key), compressed or not, streamed from the archive.

Everything goes through one validation layer (:func:`validate_header`), which turns every bad input
into an :class:`~idealssl.errors.InputError` with one precise message: missing or unreadable files,
pickled / object arrays, non-numeric dtypes, arrays that are not 2-D, empty arrays, truncated files.
NaN and inf are detected while streaming (:meth:`Representation.chunks`).

``Representation.chunks`` reads a ``.npy`` with positioned reads into one reusable buffer (a ``.npz``
member with ``readinto``), so a pass over a file of any size keeps about one chunk resident, and a file
truncated while it is read is a short read (one ``InputError`` line), not a fault of a memory map.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from . import kernels

#: ``pread_runs`` of the compiled kernels (positioned reads of scattered runs of rows, without Python between them),
#: or None: the same reads from Python
_pread_runs = kernels.get("pread_runs")

#: rows per chunk are chosen so that one chunk holds about this many bytes (float64 working copy)
CHUNK_BYTES = 2 << 20  # small enough that one chunk's working copy stays in cache
ROW_GAP = 4  # Representation.rows reads through gaps of up to this many rows (one read instead of two)

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
#: what reading a damaged .npz archive or member can raise (turned into one InputError line)
_ARCHIVE_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error)
#: deflate's largest expansion: a 258-byte match coded in 2 bits (one length and one distance code)
DEFLATE_MAX_RATIO = 1032


def validate_header(shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
    """Reject anything that is not a non-empty 2-D real numeric array (one precise message)."""
    if dtype.hasobject:
        raise InputError(
            f"{what}: holds Python objects (dtype {dtype}); a representation must be a numeric array "
            "(pickled data are refused)"
        )
    if dtype.fields is not None:
        raise InputError(f"{what}: is a structured array (dtype {dtype}); expected a plain numeric N x d array")
    if dtype.kind == "f" and dtype.itemsize > 8:
        raise InputError(
            f"{what}: has extended-precision dtype {dtype}; convert it to float64 (the checker computes in float64)"
        )
    if dtype.kind not in "fiub":
        names = {"c": "complex", "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta", "V": "void"}
        kind = names.get(dtype.kind, dtype.kind)
        raise InputError(f"{what}: has non-numeric dtype {dtype} ({kind}); expected real numbers")
    if len(shape) != 2:
        hint = " (reshape a vector of N scalars to N x 1)" if len(shape) == 1 else ""
        raise InputError(f"{what}: must be 2-D (N points x d dimensions), got shape {tuple(shape)}{hint}")
    if shape[0] < 1 or shape[1] < 1:
        raise InputError(f"{what}: is empty (shape {tuple(shape)}); need at least one point and one dimension")


def _pread_fully(fd: int, buf: memoryview, offset: int) -> int:
    """Read len(buf) bytes at ``offset`` into ``buf`` (no intermediate copy where os.preadv exists); fewer
    only at the end of the file. Returns the number of bytes read."""
    got = 0
    while got < len(buf):
        if hasattr(os, "preadv"):
            k = os.preadv(fd, [buf[got:]], offset + got)
        else:  # pragma: no cover - platforms without preadv
            data = os.pread(fd, len(buf) - got, offset + got)
            buf[got : got + len(data)] = data
            k = len(data)
        if k == 0:
            break
        got += k
    return got


def chunk_rows(d: int) -> int:
    return max(1, CHUNK_BYTES // (8 * d))


@dataclass
class Representation:
    """An N x d representation that can be streamed in row chunks.

    Attributes
    ----------
    n, d : int
        Number of points and dimension.
    dtype : numpy.dtype
        Stored dtype (chunks are yielded as float64 copies).
    source : str
        Where the data come from (a path, ``path:key`` or ``"<array>"``), used in messages.
    """

    n: int
    d: int
    dtype: np.dtype
    source: str
    _array: np.ndarray | None = None
    _path: str | None = None
    _key: str | None = None
    _offset: int = 0
    _fortran: bool = False
    #: every value read is multiplied by this power of two (see :meth:`rescaled`)
    _scale: float = 1.0

    def rescaled(self, factor: float) -> Representation:
        """The same data multiplied by ``factor``, a power of two (so exactly, barring underflow):
        the checker's verdicts are scale invariant, and this keeps squares of far-out values finite."""
        return dataclasses.replace(self, _scale=self._scale * factor)

    def _scaled(self, block: np.ndarray, rows: int | np.ndarray = 0) -> np.ndarray:
        """``block`` times the scale; ``rows``: the row of its first line, or of each line (for messages)."""
        if self._scale == 1.0:
            return block
        with np.errstate(over="ignore"):
            out = np.multiply(block, self._scale, dtype=np.float64)
        if not np.isfinite(out).all() and np.isfinite(block).all():
            i, j = np.argwhere(~np.isfinite(out))[0]
            row = int(rows[i]) if isinstance(rows, np.ndarray) else rows + int(i)
            raise InputError(
                f"{self.source}: the value {block[i, j]:g} at row {row}, column {int(j)} is too far in magnitude from "
                f"the orbit codes for float64: the check runs on Z x 2^{int(np.log2(self._scale))}, which brings the "
                "codes near 1 (so that their squares stay in range) and this value beyond the largest float64"
            )
        return out

    # ------------------------------------------------------------------ reading
    def chunks(
        self,
        rows: int | None = None,
        check_finite: bool = True,
        dtype=np.float64,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(i, block)``: rows ``i:i+len(block)`` of ``start:stop`` as ``dtype``.

        A ``.npy`` file is read with positioned reads (``os.preadv``) into one reusable buffer per
        iterator, so a pass over a file of any size keeps one chunk resident, and a file that shrinks
        under the pass is a short read (an ``InputError``), never a read past the end of a memory map
        (``SIGBUS``). A block in the stored dtype is a read-only view of that buffer, valid until the
        next block is yielded (callers use each block before asking for the next). A ``.npz`` member
        is streamed sequentially (``start``/``stop`` are not supported there).

        Raises
        ------
        InputError
            On NaN/inf (names the first offending row) or a truncated file or archive member.
        """
        rows = rows or chunk_rows(self.d)
        stop = self.n if stop is None else min(stop, self.n)
        if self._key is not None:
            if start != 0 or stop != self.n:
                raise ValueError("a .npz member is streamed from its first row to its last")
            raw: Iterator[tuple[int, np.ndarray]] = self._stream_chunks(rows)
        elif self._array is not None:
            raw = ((i, self._array[i : min(i + rows, stop)]) for i in range(start, stop, rows))
        else:
            raw = self._file_chunks(rows, start, stop)
        for i, block in raw:
            require_exact_in_float64(block, i, self.source)
            block = np.asarray(block).astype(dtype, copy=False)
            if check_finite:
                require_finite(block, i, self.source)
            yield i, self._scaled(block, i)

    def _file_chunks(self, rows: int, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        """Rows ``start:stop`` of a ``.npy`` file in the stored dtype, by positioned reads into one buffer
        (C order: one read per chunk; Fortran order: one read per column of the chunk)."""
        itemsize = self.dtype.itemsize
        buf = np.empty(rows * self.d, dtype=self.dtype)
        view = buf.view(np.uint8).data
        assert self._path is not None
        with open(self._path, "rb", buffering=0) as f:
            fd = f.fileno()
            for i in range(start, stop, rows):
                m = min(rows, stop - i)
                if not self._fortran:
                    nbytes = m * self.d * itemsize
                    got = _pread_fully(fd, view[:nbytes], self._offset + i * self.d * itemsize)
                    if got != nbytes:
                        self._truncated(i + got // (self.d * itemsize))
                    block = buf[: m * self.d].reshape(m, self.d)
                else:
                    cols = buf[: m * self.d].reshape(self.d, m)
                    for j in range(self.d):
                        seg = view[j * m * itemsize : (j + 1) * m * itemsize]
                        got = _pread_fully(fd, seg, self._offset + (j * self.n + i) * itemsize)
                        if got != m * itemsize:
                            self._truncated(i + got // itemsize, column=j)
                    block = cols.T
                block.flags.writeable = False
                yield i, block

    def _truncated(self, row: int, column: int | None = None):
        where = f"row {row}" if column is None else f"column {column} at row {row}"
        raise InputError(
            f"{self.source}: file is truncated (expected {self.n} rows of {self.d} values, data ends inside {where}); "
            "was it shortened while being read?"
        )

    def _stream_chunks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        itemsize = self.dtype.itemsize
        buf = bytearray(rows * self.d * itemsize)
        with self._stream() as f:
            for start in range(0, self.n, rows):
                m = min(rows, self.n - start)
                nbytes = m * self.d * itemsize
                try:
                    got = _read_fully(f, memoryview(buf)[:nbytes])
                except _ARCHIVE_ERRORS as exc:
                    raise InputError(f"{self.source}: the archive member is corrupt ({exc})") from None
                if got != nbytes:
                    raise InputError(
                        f"{self.source}: file is truncated (expected {self.n} rows of {self.d} values, "
                        f"data ends inside row {start + got // (self.d * itemsize)})"
                    )
                yield start, np.frombuffer(buf, dtype=self.dtype, count=m * self.d).reshape(m, self.d)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Random access to a few rows (float64): positioned reads for a C-order ``.npy``; one pass otherwise."""
        index = np.asarray(index, dtype=np.int64)
        require_memory(8 * len(index) * self.d, f"{self.source}: {len(index)} rows of d = {self.d} values (float64)")
        return self._scaled(self._raw_rows(index), index)

    def _raw_rows(self, index: np.ndarray) -> np.ndarray:
        if self._array is not None:
            return np.asarray(self._array[index], dtype=np.float64)
        if self._key is None and not self._fortran:
            # positioned reads, one per run of nearby rows (gaps of up to ROW_GAP rows are read through)
            rowbytes = self.d * self.dtype.itemsize
            out = np.empty((len(index), self.d))
            if len(index) == 0:
                return out
            order = np.argsort(index, kind="stable")
            srt = index[order]
            span = max(1, CHUNK_BYTES // rowbytes)  # rows per read at most
            lo = np.flatnonzero(np.r_[True, (np.diff(srt) > ROW_GAP) | (np.diff(srt // span) != 0)])
            first_row = srt[lo]
            n_rows = srt[np.r_[lo[1:], len(srt)] - 1] + 1 - first_row  # rows read by each run
            at = np.r_[0, np.cumsum(n_rows)[:-1]]  # where each run lands in the staging buffer
            staging = np.empty((int(n_rows.sum()), self.d), dtype=self.dtype)
            view = staging.reshape(-1).view(np.uint8).data
            assert self._path is not None
            runs = range(len(first_row))
            with open(self._path, "rb", buffering=0) as f:
                fd = f.fileno()
                if _pread_runs is not None:  # the same reads in C; a run the file ends inside is read again below
                    i64 = [np.ascontiguousarray(a, dtype=np.int64) for a in (first_row, n_rows, at)]
                    k = _pread_runs(fd, self._offset, rowbytes, *i64, view)
                    runs = range(k, k + 1) if k >= 0 else range(0)
                for a, k, pos in zip(first_row[runs].tolist(), n_rows[runs].tolist(), at[runs].tolist()):
                    got = _pread_fully(fd, view[pos * rowbytes : (pos + k) * rowbytes], self._offset + a * rowbytes)
                    if got != k * rowbytes:
                        self._truncated(a + got // rowbytes)
            run = np.repeat(np.arange(len(lo)), np.diff(np.r_[lo, len(srt)]))
            out[order] = staging[at[run] + srt - first_row[run]]
            return out
        out = np.empty((len(index), self.d))  # .npz members and Fortran order: one pass over the rows
        order = np.argsort(index)
        sorted_idx = index[order]
        for start, block in dataclasses.replace(self, _scale=1.0).chunks(check_finite=False):
            lo, hi = np.searchsorted(sorted_idx, [start, start + len(block)])
            if hi > lo:
                out[order[lo:hi]] = block[sorted_idx[lo:hi] - start]
        return out

    def to_array(self) -> np.ndarray:
        """The whole matrix as float64 (for small problems: LPs, exhaustive checks, tests)."""
        require_memory(8 * self.n * self.d, f"{self.source}: all {self.n} rows of d = {self.d} values (float64)")
        if self._array is not None:
            require_exact_in_float64(self._array, 0, self.source)
            return self._scaled(np.asarray(self._array, dtype=np.float64))
        out = np.empty((self.n, self.d))
        for start, block in self.chunks():
            out[start : start + len(block)] = block
        return out

    # ------------------------------------------------------------------ helpers
    def _stream(self):
        assert self._path is not None and self._key is not None, "only an archive member is streamed"
        try:
            zf = zipfile.ZipFile(self._path)
            member = zf.open(self._key + ".npy")
            version = np.lib.format.read_magic(member)
            _read_header(member, version, self.source)
        except (*_ARCHIVE_ERRORS, ValueError) as exc:
            raise InputError(f"{self.source}: the archive member is corrupt ({exc})") from None
        return _ZipMember(zf, member)


class _ZipMember:
    """Context manager closing both the member and its archive."""

    def __init__(self, zf, member):
        self.zf, self.member = zf, member

    def readinto(self, b):
        return self.member.readinto(b)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.member.close()
        self.zf.close()


def _read_fully(f, view: memoryview) -> int:
    got = 0
    while got < len(view):
        k = f.readinto(view[got:])
        if not k:
            break
        got += k
    return got


def require_finite(block: np.ndarray, start: int, source: str) -> None:
    if not np.isfinite(block).all():
        bad = np.argwhere(~np.isfinite(block))[0]
        value = block[bad[0], bad[1]]
        raise InputError(
            f"{source}: non-finite value {value} at row {start + int(bad[0])}, column {int(bad[1])}; a "
            "representation must be finite"
        )


def require_memory(nbytes: int, what: str) -> None:
    """Refuse, before allocating, what needs more memory than the machine has (``what`` says what is held)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no sysconf: let the allocation decide
        return
    if nbytes > total:
        raise InputError(
            f"{what} need {nbytes / 2**30:.4g} GiB of memory, more than this machine's {total / 2**30:.4g} GiB"
        )


def require_exact_in_float64(block: np.ndarray, start: int, source: str) -> None:
    """Refuse 64-bit integers that float64, the checker's arithmetic, cannot hold exactly.

    Beyond 2^53 not every integer is a float64 (2^60 and 2^60 + 1 are one): converting would merge
    distinct values silently. Integers that are float64 numbers (multiples of its spacing) pass."""
    if block.dtype.kind not in "iu" or block.dtype.itemsize < 8:
        return
    far = block > 2**53 if block.dtype.kind == "u" else (block > 2**53) | (block < -(2**53))
    if not far.any():
        return
    rows, cols = np.nonzero(far)
    values = block[rows, cols]
    f = values.astype(np.float64)
    over = f >= (2.0**64 if block.dtype.kind == "u" else 2.0**63)  # rounded up out of the integer type
    inexact = over | (np.where(over, 0, f).astype(block.dtype) != values)
    if inexact.any():
        k = int(np.argmax(inexact))
        raise InputError(
            f"{source}: the integer {int(values[k])} at row {start + int(rows[k])}, column {int(cols[k])} is not a "
            f"float64 number (the nearest is {int(f[k])}); the checker computes in float64 and would merge distinct "
            "values: rescale the integers or convert them to float64 yourself"
        )


def _read_header(f, version, what: str = "<npy>"):
    """(shape, fortran_order, dtype) from a .npy header of format version 1.0, 2.0 or 3.0."""
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise InputError(f"{what}: unsupported .npy format version {version[0]}.{version[1]} (known: 1.0, 2.0, 3.0)")
    try:
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)
        return _read_header_3_0(f)
    except InputError:
        raise
    except Exception as exc:  # NumPy's header parser raises ValueError, SyntaxError, tokenize errors...
        raise InputError(f"{what}: not a valid .npy header ({type(exc).__name__}: {exc})") from None


def _read_header_3_0(f):
    """Version 3.0 is 2.0 (4-byte little-endian header length) with a UTF-8 header; NumPy has no
    public reader for it."""
    size = f.read(4)
    if len(size) != 4:
        raise ValueError("the header length is truncated")
    header = f.read(int.from_bytes(size, "little"))
    d = ast.literal_eval(header.decode("utf-8"))
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"the header is not a dict with the keys descr, fortran_order, shape: {header[:80]!r}")
    shape, fortran = d["shape"], d["fortran_order"]
    if not (isinstance(shape, tuple) and all(type(x) is int and x >= 0 for x in shape)):
        raise ValueError(f"shape is not a tuple of non-negative ints: {shape!r}")
    if not isinstance(fortran, bool):
        raise ValueError(f"fortran_order is not a bool: {fortran!r}")
    return shape, fortran, np.lib.format.descr_to_dtype(d["descr"])


def _describe_npy(f, what: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    try:
        version = np.lib.format.read_magic(f)
    except ValueError:
        raise InputError(f"{what}: not a NumPy .npy file (bad magic string)") from None
    shape, fortran, dtype = _read_header(f, version, what)
    validate_header(shape, dtype, what)
    return shape, fortran, dtype, f.tell()


def load_representation(path: str | os.PathLike, key: str | None = None) -> Representation:
    """Open a representation file (``.npy`` or ``.npz``) for streaming, validating its header.

    Parameters
    ----------
    path : path-like
        ``file.npy``, ``file.npz`` or ``file.npz:key``.
    key : str, optional
        Member of a ``.npz`` archive (needed when it holds more than one array).

    Raises
    ------
    InputError
        Missing or unreadable file, unknown format, pickled/object or non-numeric data, not 2-D,
        empty, truncated.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"a representation path must be a string or path, got {type(path).__name__}")
    path = os.fspath(path)
    if key is None and not os.path.exists(path) and ":" in path:
        path, key = path.rsplit(":", 1)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a .npy or .npz file")
    if not os.path.isfile(path):
        raise InputError(f"{path}: not a regular file (a pipe or a device?); expected a .npy or .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if magic.startswith(_ZIP_MAGIC):
        return _open_npz(path, key)
    if magic != _NPY_MAGIC:
        raise InputError(f"{path}: not a .npy or .npz file (unrecognised first bytes {magic!r})")
    if key is not None:
        raise InputError(f"{path}: a .npy file has no members; drop the key {key!r}")
    with open(path, "rb") as f:
        shape, fortran, dtype, offset = _describe_npy(f, path)
    size = os.path.getsize(path)
    expected = offset + shape[0] * shape[1] * dtype.itemsize
    if size < expected:
        raise InputError(f"{path}: file is truncated ({size} bytes, the header announces {expected})")
    return Representation(
        n=int(shape[0]), d=int(shape[1]), dtype=dtype, source=path, _path=path, _offset=offset, _fortran=bool(fortran)
    )


def _open_npz(path: str, key: str | None) -> Representation:
    try:
        zf = zipfile.ZipFile(path)
    except _ARCHIVE_ERRORS as exc:
        raise InputError(f"{path}: not a readable .npz archive ({exc})") from None
    with zf:
        names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
        if not names:
            raise InputError(f"{path}: the .npz archive holds no arrays")
        if key is None:
            if len(names) > 1:
                raise InputError(
                    f"{path}: the archive holds {len(names)} arrays ({', '.join(sorted(names))}); name "
                    f"one with {path}:KEY or --key KEY"
                )
            key = names[0]
        if key not in names:
            raise InputError(f"{path}: no array named {key!r} in the archive (it has: {', '.join(sorted(names))})")
        what = f"{path}:{key}"
        _require_possible_member_size(zf, zf.getinfo(key + ".npy"), os.path.getsize(path), what)
        try:
            with zf.open(key + ".npy") as f:
                shape, fortran, dtype, offset = _describe_npy(f, what)
        except _ARCHIVE_ERRORS as exc:
            raise InputError(f"{what}: cannot read the archive member ({exc})") from None
        # as for a .npy file: the header's announced size must fit in the member before anything is allocated
        # (a few hundred bytes can announce a terabyte; Python ints, no overflow)
        member = zf.getinfo(key + ".npy").file_size
        expected = offset + int(shape[0]) * int(shape[1]) * dtype.itemsize
        if member < expected:
            raise InputError(
                f"{what}: the archive member is truncated or its header lies ({member} bytes, the header "
                f"announces {expected} for shape {tuple(shape)} {dtype})"
            )
    if fortran:
        # a Fortran-ordered member cannot be streamed by rows: load it (validated, no pickle)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arr = npz[key]
        except (*_ARCHIVE_ERRORS, ValueError) as exc:
            raise InputError(f"{what}: cannot load ({exc})") from None
        return from_array(arr, source=what)
    return Representation(n=int(shape[0]), d=int(shape[1]), dtype=dtype, source=what, _path=path, _key=key)


def _require_possible_member_size(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive_bytes: int, what: str) -> None:
    """Refuse a member whose sizes in the archive's directory cannot be true (they are what the announced
    array's size is compared with): compressed bytes beyond the archive, a stored member whose two sizes
    differ, a deflated one expanding beyond deflate's ratio of 1032:1. Other compressions (bzip2, LZMA)
    have no useful bound: such a member is decompressed once and measured."""
    claim = f"the archive's directory says the member holds {info.file_size} bytes"
    if info.compress_size > archive_bytes:
        raise InputError(
            f"{what}: {claim} ({info.compress_size} compressed), but the archive has {archive_bytes} bytes"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise InputError(f"{what}: {claim} but stores {info.compress_size} bytes uncompressed; the archive is corrupt")
    if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > DEFLATE_MAX_RATIO * info.compress_size:
        raise InputError(
            f"{what}: {claim}, more than deflate can expand its {info.compress_size} compressed bytes to "
            f"({DEFLATE_MAX_RATIO}:1); the archive is corrupt"
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        held = 0
        try:
            with zf.open(info) as f:
                while held <= info.file_size and (k := f.read(CHUNK_BYTES)):
                    held += len(k)
        except (*_ARCHIVE_ERRORS, NotImplementedError) as exc:
            raise InputError(f"{what}: cannot read the archive member ({exc})") from None
        if held != info.file_size:
            raise InputError(f"{what}: {claim} but holds {held}; the archive is corrupt")


def from_array(Z, source: str = "<array>") -> Representation:
    """Wrap an in-memory array (or anything ``np.asarray`` accepts) after validating it."""
    if isinstance(Z, Representation):
        return Z
    if isinstance(Z, np.ma.MaskedArray):
        raise InputError(f"{source}: a masked array; fill or drop the masked entries first (the mask would be ignored)")
    try:
        arr = np.asarray(Z)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{source}: cannot be read as an array ({exc})") from None
    validate_header(arr.shape, arr.dtype, source)
    return Representation(n=int(arr.shape[0]), d=int(arr.shape[1]), dtype=arr.dtype, source=source, _array=arr)
