"""Pinned host buffers cannot leak or poison CUDA (issue 18 item 3), checked on the CPU with a stand-in CUDA runtime:
unregistered on close, by a finalizer when the owner is dropped, and after a failed block fill; a failed
registration clears the runtime's last error and falls back to an exact-size pageable buffer."""

from __future__ import annotations

import gc
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from ltx_core.offload.streaming import host, providers


class FakeRuntime:
    def __init__(self, register_code: int = 0) -> None:
        self.register_code = register_code
        self.registered: set[int] = set()
        self.unregistered: list[int] = []
        self.errors_cleared = 0

    def cudaHostRegister(self, ptr: int, size: int, flags: int) -> int:
        if self.register_code == 0:
            self.registered.add(ptr)
        return self.register_code

    def cudaHostUnregister(self, ptr: int) -> int:
        self.unregistered.append(ptr)
        self.registered.discard(ptr)
        return 0

    def cudaGetLastError(self) -> int:
        self.errors_cleared += 1
        return 0


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> FakeRuntime:
    fake = FakeRuntime()
    monkeypatch.setattr(torch.cuda, "cudart", lambda: fake)
    monkeypatch.setattr(host, "_loaded_cudart", lambda: fake)
    return fake


def test_close_unregisters_once(runtime: FakeRuntime) -> None:
    buffer = host.HostBuffer(4096, pin=True)
    ptr = buffer.data.data_ptr()
    assert buffer.pinned and runtime.registered == {ptr}
    buffer.close()
    buffer.close()
    assert runtime.unregistered == [ptr] and not buffer.pinned


def test_dropped_owner_is_unregistered(runtime: FakeRuntime) -> None:
    buffer = host.HostBuffer(4096, pin=True)
    ptr = buffer.data.data_ptr()
    del buffer
    gc.collect()
    assert runtime.unregistered == [ptr] and not runtime.registered


def test_failed_registration_clears_the_error_and_stays_exact(runtime: FakeRuntime) -> None:
    runtime.register_code = 2  # cudaErrorMemoryAllocation
    nbytes = 3 * 1024 + 1  # far from a power of two
    with pytest.warns(UserWarning, match="could not page-lock"):
        buffer = host.HostBuffer(nbytes, pin=True)
    assert runtime.errors_cleared == 1
    assert not buffer.pinned and buffer.data.numel() == nbytes and not buffer.data.is_pinned()
    buffer.close()
    assert runtime.unregistered == []


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError], ids=["ctrl-c", "truncated"])
def test_failed_fill_unregisters(runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch, error: type) -> None:
    def failing_fill(layout: Any, *args: Any, **kwargs: Any) -> None:
        if layout.index == 1:
            raise error("stop")

    monkeypatch.setattr(providers, "fill_block", failing_fill)
    layouts = [SimpleNamespace(index=i, nbytes=1024) for i in range(3)]
    with pytest.raises(error):
        providers.RamBlockStore(None, layouts, None, pin=True)  # type: ignore[arg-type]
    assert len(runtime.unregistered) == 1 and not runtime.registered


def test_no_pinning_for_other_targets(runtime: FakeRuntime) -> None:
    buffer = host.HostBuffer(4096, pin=False)
    assert not buffer.pinned and not runtime.registered


def test_disk_reader_thread_error_surfaces_on_fetch_and_frees(
    runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-ahead that fails on the reader thread (a truncated file) raises when its block is fetched; its slot
    is usable again and close() unpins every slot."""

    def fill(layout: Any, dst: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if layout.index == 1:
            raise OSError("truncated")
        dst.fill_(layout.index)

    monkeypatch.setattr(providers, "fill_block", fill)
    layouts = [SimpleNamespace(index=i, nbytes=1024) for i in range(3)]
    disk = providers.DiskBlockReader(None, layouts, None, pin=True, slots=2)  # type: ignore[arg-type]
    assert len(runtime.registered) == 2
    first = disk.fetch(0)
    disk.release(first, None)  # the reader thread now reads block 1, and fails
    with pytest.raises(OSError, match="truncated"):
        disk.fetch(1)
    block = disk.fetch(2)
    assert int(block.data[0]) == 2
    disk.release(block, None)  # read-ahead of block 0 (wraps around)
    again = disk.fetch(0)
    assert int(again.data[0]) == 0
    disk.release(again, None)
    disk.close()
    assert not runtime.registered and len(runtime.unregistered) == 2
