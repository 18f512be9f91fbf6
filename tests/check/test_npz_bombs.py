"""Issue 14, item 7: a tiny .npz whose member header announces a huge array.

Before: (1, 2**40) was a traceback with exit 1 (read as "not ideal"); (10**9, 8) in 200 bytes took a minute
and 16 GB before an error; Fortran-ordered members the same. Now the announced size is compared with the
member's size before anything is allocated: one line, exit 2, at once. Self-contained (goes through the CLI
only), so that it does not depend on where the input layer lives.
"""

import json
import time
import zipfile

import numpy as np
import pytest

from idealssl.cli import main


def _npy_header(shape, fortran=False, dtype="<f8"):
    """A version 1.0 .npy header announcing ``shape`` (the format's spec, written by hand)."""
    text = repr({"descr": dtype, "fortran_order": fortran, "shape": tuple(shape)})
    pad = 64 - (10 + len(text) + 1) % 64
    header = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def _bomb(tmp_path, shape, fortran=False, payload=b"\0" * 64, compress=zipfile.ZIP_DEFLATED, name="z.npz"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        zf.writestr("a.npy", _npy_header(shape, fortran) + payload)
    return path


def _check(capsys, tmp_path, path, n=3):
    augs = tmp_path / "o.json"
    augs.write_text(json.dumps({"labels": list(range(n))}))
    t0 = time.perf_counter()
    rc = main(["check", f"{path}:a", "--augs", str(augs)])
    out, err = capsys.readouterr()
    return rc, err, time.perf_counter() - t0


@pytest.mark.parametrize("shape", [(1, 2**40), (10**9, 8), (2**31, 2**31)])
@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_announced_size_beyond_the_member_is_one_line_exit_2(capsys, tmp_path, shape, fortran, compress):
    path = _bomb(tmp_path, shape, fortran, compress=compress)
    assert path.stat().st_size < 400
    rc, err, seconds = _check(capsys, tmp_path, path)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "header" in lines[0] and "announces" in lines[0], lines[0]
    assert seconds < 5


@pytest.mark.parametrize("fortran", [False, True])
def test_a_member_one_value_short_is_refused(capsys, tmp_path, fortran):
    Z = np.arange(6, dtype="<f8").reshape(3, 2)
    data = (np.asfortranarray(Z) if fortran else Z).tobytes(order="F" if fortran else "C")
    path = _bomb(tmp_path, (3, 2), fortran, payload=data[:-8])
    rc, err, _ = _check(capsys, tmp_path, path)
    assert rc == 2 and "announces" in err and "Traceback" not in err, err


@pytest.mark.parametrize("fortran", [False, True])
def test_honest_members_still_load(capsys, tmp_path, fortran):
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    data = Z.tobytes(order="F" if fortran else "C")
    path = _bomb(tmp_path, (3, 2), fortran, payload=data)
    rc, err, _ = _check(capsys, tmp_path, path)
    assert rc in (0, 1) and "error" not in err, err


def _lying_zip64(path, data, claimed, method=zipfile.ZIP_STORED):
    """A one-member archive whose zip64 size fields claim ``claimed`` uncompressed bytes (and, stored, as many
    compressed bytes) for a member holding ``data``: the zip format's spec, written by hand."""
    import struct
    import zlib

    comp = data if method == zipfile.ZIP_STORED else zlib.compress(data)[2:-4]  # raw deflate stream
    csize = claimed if method == zipfile.ZIP_STORED else len(comp)
    name = b"a.npy"
    extra = struct.pack("<HHQQ", 1, 16, claimed, csize)  # zip64: uncompressed, compressed
    crc, ff = zlib.crc32(data), 0xFFFFFFFF
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0, crc, ff, ff, len(name), len(extra))
    body = local + name + extra + comp
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, crc, ff, ff, len(name), len(extra), 0, 0, 0, 0, 0
    )
    central += name + extra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    path.write_bytes(body + central + end)
    return path


@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("compress", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_zip64_directory_lying_about_the_member_size_is_one_line_exit_2(capsys, tmp_path, fortran, compress):
    """The header announces (1, 2^40) and the archive's directory backs it with a member size of 8 TiB (more than
    the archive holds, or than deflate can expand its compressed bytes to): refused before any allocation."""
    shape = (1, 2**40)
    header = _npy_header(shape, fortran)
    path = _lying_zip64(tmp_path / "z.npz", header + b"\0" * 64, len(header) + 8 * 2**40, compress)
    with zipfile.ZipFile(path) as zf:  # the lie is what zipfile reads
        assert zf.getinfo("a.npy").file_size == len(header) + 8 * 2**40
    rc, err, seconds = _check(capsys, tmp_path, path, n=1)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "archive" in lines[0] and "bytes" in lines[0], lines[0]
    assert seconds < 5


def test_an_honest_zip64_archive_still_loads(capsys, tmp_path):
    """The same hand-written archive with true sizes is read (the refusal is of the lie, not of zip64)."""
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    data = _npy_header(Z.shape) + Z.tobytes()
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        path = _lying_zip64(tmp_path / f"h{method}.npz", data, len(data), method)
        rc, err, _ = _check(capsys, tmp_path, path)
        assert rc == 0 and err == "", err


def _compressed(data, method):
    """The member's bytes as zipfile compresses them (an honest archive, read back raw)."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        zf.writestr("a.npy", data)
    with zipfile.ZipFile(buf) as zf:
        info = zf.getinfo("a.npy")
    raw = buf.getvalue()
    name_len, extra_len = int.from_bytes(raw[26:28], "little"), int.from_bytes(raw[28:30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    return raw[start : start + info.compress_size]


@pytest.mark.parametrize("fortran", [False, True])
@pytest.mark.parametrize("compress", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_lying_directory_is_refused_for_every_compression(capsys, tmp_path, fortran, compress):
    """bzip2 and LZMA expand without a useful bound, so their members are measured by decompressing them once
    (the lie is 8 TiB over 64 bytes)."""
    import struct
    import zlib

    header = _npy_header((1, 2**40), fortran)
    data = header + b"\0" * 64
    comp = _compressed(data, compress)
    claimed, name = len(header) + 8 * 2**40, b"a.npy"
    extra = struct.pack("<HHQQ", 1, 16, claimed, len(comp))
    crc, ff = zlib.crc32(data), 0xFFFFFFFF
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 63, 0, compress, 0, 0, crc, ff, ff, len(name), len(extra))
    body = local + name + extra + comp
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 63, 63, 0, compress, 0, 0, crc, ff, ff, len(name), len(extra), 0, 0, 0, 0, 0
    )
    central += name + extra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    path = tmp_path / "z.npz"
    path.write_bytes(body + central + end)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("a.npy").file_size == claimed
    rc, err, seconds = _check(capsys, tmp_path, path, n=1)
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "archive" in lines[0], lines[0]
    assert seconds < 5


@pytest.mark.parametrize("compress", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_honest_bzip2_and_lzma_members_still_load(capsys, tmp_path, compress):
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    path = _bomb(tmp_path, Z.shape, payload=Z.tobytes(), compress=compress)
    rc, err, _ = _check(capsys, tmp_path, path)
    assert rc == 0 and err == "", err
