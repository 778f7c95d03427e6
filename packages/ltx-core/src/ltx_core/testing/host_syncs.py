"""Counting the calls that would stall the host on an accelerator, on any device (CPU tests included).

On CUDA, `tensor.item()`, `tolist()`, a tensor's truth value or number conversion wait for the device to finish, and
`torch.tensor(python_data, device=cuda)` is a blocking host-to-device copy. Inside a denoising step or a transformer
forward each of these serialises the host and the GPU. CUDA's own detector (`torch.cuda.set_sync_debug_mode`) needs
a GPU; this one counts the same Python-level calls on the CPU, so "no syncs per step" is testable everywhere.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

_TENSOR_METHODS = ("item", "tolist", "__bool__", "__int__", "__float__", "__index__")
_FACTORIES = ("tensor", "as_tensor")


@dataclass
class HostSyncs:
    """What `count_host_syncs` saw: a count per call kind and where each call came from (innermost frame)."""

    counts: Counter[str] = field(default_factory=Counter)
    places: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __str__(self) -> str:
        if not self.total:
            return "no host syncs"
        return f"{self.total} host syncs {dict(self.counts)} at: " + "; ".join(sorted(set(self.places)))


@contextmanager
def count_host_syncs() -> Iterator[HostSyncs]:
    """Count, inside the block, every Tensor `item` / `tolist` / truth value / number conversion and every
    `torch.tensor` / `torch.as_tensor` call (data built on the host inside a hot path). Not thread-safe."""
    seen = HostSyncs()
    saved: list[tuple[Any, str, Any]] = []

    def counted(kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen.counts[kind] += 1
            frame = traceback.extract_stack(limit=2)[0]
            seen.places.append(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}")
            return original(*args, **kwargs)

        return wrapper

    for name in _TENSOR_METHODS:
        original = getattr(torch.Tensor, name)
        saved.append((torch.Tensor, name, original))
        setattr(torch.Tensor, name, counted(name, original))
    for name in _FACTORIES:
        original = getattr(torch, name)
        saved.append((torch, name, original))
        setattr(torch, name, counted(f"torch.{name}", original))
    try:
        yield seen
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
