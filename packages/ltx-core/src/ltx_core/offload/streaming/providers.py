"""Host-side sources of block weights: every block prepared in RAM ("cpu" mode), or read from the file on demand
into a couple of reusable host slots ("disk" mode).

Both hand out a flat uint8 host tensor laid out per `BlockLayout`, ready for one contiguous upload. The RAM store
fuses LoRAs at build time; the disk reader leaves that to the device side (`fuses_on_device`), per block on arrival.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import torch

from ltx_core.loader.lora import LoraWeights
from ltx_core.offload.streaming.host import HostBuffer
from ltx_core.offload.streaming.layout import BLOCKS_PREFIX, BlockLayout
from ltx_core.offload.streaming.prepare import TensorRecipe, fuse_loras_in_place
from ltx_core.offload.streaming.reader import TensorReader


@dataclass
class HostBlock:
    index: int
    data: torch.Tensor  # uint8, exactly layout.nbytes
    slot: int | None = None


class BlockProvider(Protocol):
    layouts: list[BlockLayout]
    fuses_on_device: bool

    def fetch(self, index: int) -> HostBlock: ...

    def release(self, block: HostBlock, event: torch.cuda.Event | None) -> None: ...

    def close(self) -> None: ...


def _has_op(recipe: TensorRecipe, name: str) -> bool:
    return any(name.startswith(p) and name.endswith(s) for p, s, _ in recipe.key_map.ops)


def fill_block(
    layout: BlockLayout,
    dst: torch.Tensor,
    reader: TensorReader,
    recipe: TensorRecipe,
    loras: Sequence[tuple[LoraWeights, float]] = (),
    fuse_device: torch.device | None = None,
) -> None:
    """Write block `layout.index` into the uint8 host tensor `dst`: stored bytes straight from the file where
    nothing changes them, else read → cast/ops → copy; then the LoRAs are fused into the block in place."""
    for slot in layout.slots:
        name = f"{BLOCKS_PREFIX}.{layout.index}.{slot.name}"
        view = dst[slot.offset : slot.offset + slot.nbytes]
        stored = reader.info(slot.source).dtype
        if stored == slot.dtype and not _has_op(recipe, name):
            reader.read_into(slot.source, view)
            continue
        view.view(slot.dtype).view(slot.shape).copy_(recipe.convert(name, reader.read(slot.source)))
    prefix = f"{BLOCKS_PREFIX}.{layout.index}."
    fuse_loras_in_place(layout.views(dst), loras, fuse_device or torch.device("cpu"), prefix, recipe.numerics)


class RamBlockStore:
    """All blocks prepared once in one host buffer (pinned when `pin`)."""

    fuses_on_device = False

    def __init__(
        self,
        reader: TensorReader,
        layouts: list[BlockLayout],
        recipe: TensorRecipe,
        *,
        pin: bool,
        loras: Sequence[tuple[LoraWeights, float]] = (),
        fuse_device: torch.device | None = None,
    ) -> None:
        self.layouts = layouts
        self._offsets = []
        total = 0
        for layout in layouts:
            self._offsets.append(total)
            total += layout.nbytes
        self.nbytes = total
        self._buffer = HostBuffer(total, pin)
        try:
            for layout, offset in zip(layouts, self._offsets, strict=True):
                dst = self._buffer.data[offset : offset + layout.nbytes]
                fill_block(layout, dst, reader, recipe, loras, fuse_device)
        except BaseException:  # truncated file, LoRA error, Ctrl-C: nothing owns the buffer yet, unpin it now
            self._buffer.close()
            raise

    def fetch(self, index: int) -> HostBlock:
        offset = self._offsets[index]
        return HostBlock(index, self._buffer.data[offset : offset + self.layouts[index].nbytes])

    def release(self, block: HostBlock, event: torch.cuda.Event | None) -> None:
        """Nothing to recycle: every block keeps its own place."""

    def close(self) -> None:
        self._buffer.close()


class DiskBlockReader:
    """Blocks re-read from the checkpoint into `slots` reusable host buffers (pinned when `pin`).

    A reader thread fills the free slot with the block after the one just released (the order the blocks run in),
    so the disk read overlaps the device's work; `fetch` takes that block when it is the one asked for, and reads
    synchronously otherwise. A slot is refilled only after the upload that read from it has finished (the reader
    waits on its event). The reader is the only user of the file handles while a read-ahead is in flight."""

    fuses_on_device = True

    def __init__(
        self, reader: TensorReader, layouts: list[BlockLayout], recipe: TensorRecipe, *, pin: bool, slots: int = 2
    ) -> None:
        if slots < 1:
            raise ValueError(f"host slots {slots} is invalid; use 1 or more")
        self.layouts = layouts
        self._reader = reader
        self._recipe = recipe
        size = max(layout.nbytes for layout in layouts)
        self._buffers: list[HostBuffer] = []
        try:
            for _ in range(slots):
                self._buffers.append(HostBuffer(size, pin))
        except BaseException:
            self._close_buffers()
            raise
        self._free: deque[tuple[int, torch.cuda.Event | None]] = deque((i, None) for i in range(slots))
        self._executor: Executor | None = None  # the reader thread, started on the first read-ahead
        # the read-ahead in flight: (block, host slot, the slot's pending upload event, the fill)
        self._ahead: tuple[int, int, torch.cuda.Event | None, Future[HostBlock]] | None = None
        self.nbytes = size * slots

    def fetch(self, index: int) -> HostBlock:
        if self._ahead is not None:
            ahead, block, error = self._finish_ahead()
            if ahead == index:
                if error is not None:
                    raise error
                assert block is not None
                return block
            if block is not None:  # read ahead for another order: the slot is free again
                self._free.appendleft((block.slot, None))  # type: ignore[arg-type]
        if not self._free:
            raise RuntimeError("all disk host slots are in use; release() each fetched block")
        slot, pending = self._free.popleft()
        try:
            return self._fill(index, slot, pending)
        except BaseException:
            self._free.appendleft((slot, pending))
            raise

    def release(self, block: HostBlock, event: torch.cuda.Event | None) -> None:
        """Give the slot back (reusable once `event` has passed) and read the next block into a free slot."""
        assert block.slot is not None
        self._free.append((block.slot, event))
        if self._ahead is None and self._free:
            after = (block.index + 1) % len(self.layouts)
            slot, pending = self._free.popleft()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ltx-block-reader")
            self._ahead = (after, slot, pending, self._executor.submit(self._fill, after, slot, pending))

    def _fill(self, index: int, slot: int, pending: torch.cuda.Event | None) -> HostBlock:
        if pending is not None:
            pending.synchronize()
        layout = self.layouts[index]
        dst = self._buffers[slot].data[: layout.nbytes]
        fill_block(layout, dst, self._reader, self._recipe)
        return HostBlock(index, dst, slot)

    def _finish_ahead(self) -> tuple[int, HostBlock | None, Exception | None]:
        """Wait for the read-ahead in flight: (its block index, the filled block or None, the error or None). A
        failed read gives its slot back. Interrupted while waiting, it stays in flight for `close()` to wait on."""
        assert self._ahead is not None
        index, slot, pending, future = self._ahead
        block: HostBlock | None = None
        error: Exception | None = None
        try:
            block = future.result()
        except Exception as exc:
            error = exc
            self._free.appendleft((slot, pending))
        self._ahead = None
        return index, block, error

    def close(self) -> None:
        if self._ahead is not None:
            _, block, _ = self._finish_ahead()  # a failed read of a block nobody asked for is dropped
            if block is not None:
                self._free.append((block.slot, None))  # type: ignore[arg-type]
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for _, event in self._free:
            if event is not None:
                event.synchronize()
        self._free.clear()
        self._close_buffers()

    def _close_buffers(self) -> None:
        for buffer in self._buffers:
            buffer.close()
