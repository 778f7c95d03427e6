"""At most `slots` blocks on the compute device: FIFO cache over one device allocation, uploads on a side stream.

`prefetch(i + 1)` is called from block i's pre-hook (with two or more slots): block i+1 uploads while block i
computes, even when the host does not run ahead of the device. The compute stream waits on an upload's event only
when that block is about to run (`get`), not when the upload is queued.

CUDA ordering: a buffer is overwritten only after the copy stream has waited on the "compute done" event of the
block that last used it; the compute stream waits on the upload's event before running the block. The host never
blocks here (the disk reader blocks only before reusing one of its host slots, on its own thread). On a CPU device
the same code runs synchronously with no CUDA call.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence

import torch

from ltx_core.loader.lora import LoraWeights
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.offload.streaming.layout import BLOCKS_PREFIX
from ltx_core.offload.streaming.prepare import fuse_loras_in_place
from ltx_core.offload.streaming.providers import BlockProvider


class DeviceBlockCache:
    def __init__(
        self,
        provider: BlockProvider,
        device: torch.device,
        *,
        slots: int = 2,
        loras: Sequence[tuple[LoraWeights, float]] = (),
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> None:
        if slots < 1:
            raise ValueError(f"device slots {slots} is invalid; use 1 or more")
        self.provider = provider
        self.device = device
        self.cuda = device.type == "cuda"
        self._loras = list(loras) if provider.fuses_on_device else []
        self._numerics = numerics
        size = max(layout.nbytes for layout in provider.layouts)
        self._pool: torch.Tensor | None = torch.empty((slots, size), dtype=torch.uint8, device=device)
        self._free: deque[tuple[int, torch.cuda.Event | None]] = deque((i, None) for i in range(slots))
        self._cached: OrderedDict[int, int] = OrderedDict()  # block index → pool row, oldest first
        self._done: dict[int, torch.cuda.Event] = {}
        self._ready: dict[int, torch.cuda.Event] = {}  # uploaded blocks the compute stream has not waited for yet
        self._copy_stream = torch.cuda.Stream(device) if self.cuda else None
        self.uploads = 0
        self.slots = slots
        self.nbytes = slots * size

    def get(self, index: int) -> dict[str, torch.Tensor]:
        """Block `index`'s tensors on the device (views into a pool row), uploading it when not cached; the compute
        stream is ordered after the upload."""
        pool = self._pool
        assert pool is not None, "block cache used after close()"
        if index not in self._cached:
            self._upload(index)
        ready = self._ready.pop(index, None)
        if ready is not None:
            torch.cuda.current_stream(self.device).wait_event(ready)
        return self.provider.layouts[index].views(pool[self._cached[index]])

    def prefetch(self, index: int, running: int) -> None:
        """Start uploading block `index` unless it is cached or the only row it could take holds `running` (the
        block about to run). Called from the pre-hook of `running`, after `get(running)`."""
        if index in self._cached or index == running:
            return
        oldest = next(iter(self._cached), None)
        if len(self._cached) >= self.slots and oldest == running:
            return
        self._upload(index)

    def _upload(self, index: int) -> None:
        pool = self._pool
        assert pool is not None, "block cache used after close()"
        layout = self.provider.layouts[index]
        if len(self._cached) >= self.slots:
            old, old_row = self._cached.popitem(last=False)
            self._ready.pop(old, None)
            self._free.append((old_row, self._done.pop(old, None)))
        row, pending = self._free.popleft()
        try:
            host = self.provider.fetch(index)
        except BaseException:  # a failed read leaves the row free for the next try
            self._free.appendleft((row, pending))
            raise
        dst = pool[row, : layout.nbytes]
        with self._on_copy_stream():
            if pending is not None:
                assert self._copy_stream is not None
                self._copy_stream.wait_event(pending)
            dst.copy_(host.data, non_blocking=self.cuda)
            if self._loras:
                self._fuse(index, layout.views(pool[row]))
            event = self._record(self._copy_stream)
        self.provider.release(host, event)
        if event is not None:
            self._ready[index] = event
        self._cached[index] = row
        self.uploads += 1

    def mark_done(self, index: int) -> None:
        """Called after block `index` has been queued on the compute stream."""
        if self.cuda and index in self._cached:
            self._done[index] = self._record(torch.cuda.current_stream(self.device))  # type: ignore[assignment]

    def _fuse(self, index: int, views: dict[str, torch.Tensor]) -> None:
        fuse_loras_in_place(views, self._loras, self.device, f"{BLOCKS_PREFIX}.{index}.", self._numerics)

    @contextlib.contextmanager
    def _on_copy_stream(self) -> Iterator[None]:
        if self._copy_stream is None:
            yield
            return
        with torch.cuda.stream(self._copy_stream):
            yield

    def _record(self, stream: torch.cuda.Stream | None) -> torch.cuda.Event | None:
        if stream is None:
            return None
        event = torch.cuda.Event()
        event.record(stream)
        return event

    def close(self) -> None:
        if self.cuda:
            assert self._copy_stream is not None
            self._copy_stream.synchronize()
            torch.cuda.current_stream(self.device).synchronize()
        self._cached.clear()
        self._done.clear()
        self._ready.clear()
        self._free.clear()
        self._pool = None
