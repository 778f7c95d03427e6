"""Flat host buffers for block weights, page-locked when CUDA is the target so uploads can run asynchronously.

Large buffers are pinned by registering an exact-size allocation with the driver: the caching pinned allocator
rounds sizes up to a power of two, which could nearly double host memory for a 40 GB block store.
"""

from __future__ import annotations

import warnings

import torch


class HostBuffer:
    """`tensor` is a uint8 CPU tensor of `nbytes`; `close()` unpins it and drops the reference."""

    def __init__(self, nbytes: int, pin: bool) -> None:
        self.nbytes = nbytes
        self._registered = False
        self.tensor: torch.Tensor | None = None
        if not pin:
            self.tensor = torch.empty(nbytes, dtype=torch.uint8)
            return
        plain = torch.empty(nbytes, dtype=torch.uint8)
        if _register(plain):
            self.tensor, self._registered = plain, True
        else:
            del plain
            self.tensor = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)

    @property
    def data(self) -> torch.Tensor:
        assert self.tensor is not None, "host buffer used after close()"
        return self.tensor

    def close(self) -> None:
        if self.tensor is not None and self._registered:
            _unregister(self.tensor)
        self.tensor = None
        self._registered = False


def _code(result: object) -> int:
    value = getattr(result, "value", result)
    return int(value) if isinstance(value, int) else -1


def _register(tensor: torch.Tensor) -> bool:
    if tensor.numel() == 0:
        return False
    try:
        rt = torch.cuda.cudart()
        return _code(rt.cudaHostRegister(tensor.data_ptr(), tensor.numel(), 0)) == 0
    except (RuntimeError, AttributeError, TypeError):
        return False


def _unregister(tensor: torch.Tensor) -> None:
    try:
        torch.cuda.cudart().cudaHostUnregister(tensor.data_ptr())
    except (RuntimeError, AttributeError, TypeError) as exc:  # pragma: no cover - only on odd drivers
        warnings.warn(f"could not unpin a host buffer ({exc})", stacklevel=2)
