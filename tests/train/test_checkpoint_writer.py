"""The background checkpoint writer (idealssl.train.checkpoint.Writer): the same file as a synchronous save, the
write off the caller's thread, errors raised in the caller, writes in order."""

import threading
from pathlib import Path

import pytest
import torch

from idealssl import atomic
from idealssl.train import checkpoint as C


def _state(step: int) -> dict:
    return {"backbone": {"w": torch.arange(4096, dtype=torch.float32) * step}, "cfg": {"seed": 0}, "step": step}


def test_the_file_is_the_synchronous_save_byte_for_byte(tmp_path):
    C.save_atomic(_state(3), tmp_path / "sync.pt")
    w = C.Writer()
    w.save(_state(3), tmp_path / "async.pt")
    assert w.close() is None
    assert (tmp_path / "async.pt").read_bytes() == (tmp_path / "sync.pt").read_bytes()
    assert C.load(tmp_path / "async.pt")["step"] == 3


def test_the_state_is_taken_when_save_returns(tmp_path):
    """Training changes the tensors right after save(): the file holds the values at the call."""
    state = _state(1)
    w = C.Writer()
    w.save(state, tmp_path / "last.pt")
    state["backbone"]["w"].add_(100.0)
    w.wait()
    assert torch.equal(C.load(tmp_path / "last.pt")["backbone"]["w"], _state(1)["backbone"]["w"])


def test_save_returns_before_the_write_ends_and_wait_until_it_ends(tmp_path, monkeypatch):
    gate, started = threading.Event(), threading.Event()
    real = atomic.write_bytes

    def slow(path, data, what="file"):
        started.set()
        assert gate.wait(30)
        real(path, data, what)

    monkeypatch.setattr(atomic, "write_bytes", slow)
    w = C.Writer()
    w.save(_state(1), tmp_path / "last.pt")  # returns although the write is held
    assert started.wait(30) and not (tmp_path / "last.pt").exists()
    waiter = threading.Thread(target=w.wait)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # wait() blocks on the held write
    gate.set()
    waiter.join(30)
    assert not waiter.is_alive() and C.load(tmp_path / "last.pt")["step"] == 1
    w.close()


def test_writes_land_in_order(tmp_path, monkeypatch):
    order: list[int] = []
    real = atomic.write_bytes

    def record(path, data, what="file"):
        real(path, data, what)
        order.append(C.load(path)["step"])

    monkeypatch.setattr(atomic, "write_bytes", record)
    w = C.Writer()
    for step in range(1, 5):
        w.save(_state(step), tmp_path / "last.pt")
    w.close()
    assert order == [1, 2, 3, 4] and C.load(tmp_path / "last.pt")["step"] == 4


def test_a_failed_write_is_raised_by_the_caller_and_keeps_the_previous_file(tmp_path):
    w = C.Writer()
    w.save(_state(1), tmp_path / "last.pt")
    w.wait()
    before = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "dir.pt").mkdir()
    w.save(_state(2), tmp_path / "dir.pt")  # a directory: the write fails in the background
    with pytest.raises(atomic.WriteError, match="is a directory"):
        w.wait()
    assert (tmp_path / "last.pt").read_bytes() == before
    w.save(_state(3), tmp_path / "dir.pt")
    err = w.close()  # close() returns the error (the caller already handles another)
    assert isinstance(err, atomic.WriteError) and w.close() is None
    assert not [p for p in Path(tmp_path).iterdir() if p.name not in ("last.pt", "dir.pt")]
