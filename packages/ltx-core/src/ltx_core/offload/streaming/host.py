"""Flat host buffers for block weights, page-locked when CUDA is the target so uploads can run asynchronously.

Large buffers are pinned by registering an exact-size allocation with the driver: the caching pinned allocator
rounds sizes up to a power of two, which could nearly double host memory for a 40 GB block store. Where
registration fails (memlock limits, an odd driver) the buffer stays pageable, at its exact size: uploads from it
are then synchronous, never wrong, and the failed call's error is cleared so that CUDA does not report it later
against an unrelated kernel. A buffer whose owner is dropped without `close()` is unregistered by a finalizer.
"""

from __future__ import annotations

import ctypes
import functools
import warnings
import weakref
from typing import Any

import torch


class HostBuffer:
    """`tensor` is a uint8 CPU tensor of `nbytes`; `close()` unpins it and drops the reference."""

    def __init__(self, nbytes: int, pin: bool) -> None:
        self.nbytes = nbytes
        self.tensor: torch.Tensor | None = torch.empty(nbytes, dtype=torch.uint8)
        self._finalizer: weakref.finalize | None = None
        if pin and _register(self.tensor):
            # holds the tensor (not self): unregistered before its memory can be freed, even without close()
            self._finalizer = weakref.finalize(self, _unregister, self.tensor)
            self._finalizer.atexit = False  # at exit the process's memory goes anyway; CUDA may be gone already
        elif pin and nbytes:
            warnings.warn(
                f"could not page-lock a {nbytes / 1024**3:.2f} GiB host buffer; its uploads will be synchronous",
                stacklevel=2,
            )

    @property
    def pinned(self) -> bool:
        return self._finalizer is not None and self._finalizer.alive

    @property
    def data(self) -> torch.Tensor:
        assert self.tensor is not None, "host buffer used after close()"
        return self.tensor

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # unregisters once; a no-op when already run
            self._finalizer = None
        self.tensor = None


def _code(result: object) -> int:
    value = getattr(result, "value", result)
    return int(value) if isinstance(value, int) else -1


def _register(tensor: torch.Tensor) -> bool:
    if tensor.numel() == 0:
        return False
    try:
        rt = torch.cuda.cudart()
        ok = _code(rt.cudaHostRegister(tensor.data_ptr(), tensor.numel(), 0)) == 0
    except (RuntimeError, AttributeError, TypeError):
        return False
    if not ok:
        clear_cuda_error()
    return ok


def _unregister(tensor: torch.Tensor) -> None:
    try:
        torch.cuda.cudart().cudaHostUnregister(tensor.data_ptr())
    except (RuntimeError, AttributeError, TypeError) as exc:  # pragma: no cover - only on odd drivers
        warnings.warn(f"could not unpin a host buffer ({exc})", stacklevel=2)


def clear_cuda_error() -> None:
    """Reset the CUDA runtime's last error (`cudaGetLastError`): PyTorch checks it after each kernel launch, so a
    failed `cudaHostRegister` would otherwise surface as an error of the next, unrelated kernel."""
    runtime = _loaded_cudart()
    if runtime is not None:
        runtime.cudaGetLastError()


@functools.cache
def _loaded_cudart() -> Any:
    """The CUDA runtime library this process already loaded (the one PyTorch uses), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libcudart" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None
