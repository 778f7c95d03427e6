"""Host-side sources of block weights: every block prepared in RAM ("cpu" mode), or read from the file on demand
into a couple of reusable host slots ("disk" mode).

Both hand out a flat uint8 host tensor laid out per `BlockLayout`, ready for one contiguous upload. The RAM store
fuses LoRAs at build time; the disk reader leaves that to the device side (`fuses_on_device`), per block on arrival.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
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
    fuse_loras_in_place(layout.views(dst), loras, fuse_device or torch.device("cpu"), prefix)


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
        for layout, offset in zip(layouts, self._offsets, strict=True):
            dst = self._buffer.data[offset : offset + layout.nbytes]
            fill_block(layout, dst, reader, recipe, loras, fuse_device)

    def fetch(self, index: int) -> HostBlock:
        offset = self._offsets[index]
        return HostBlock(index, self._buffer.data[offset : offset + self.layouts[index].nbytes])

    def release(self, block: HostBlock, event: torch.cuda.Event | None) -> None:
        """Nothing to recycle: every block keeps its own place."""

    def close(self) -> None:
        self._buffer.close()


class DiskBlockReader:
    """Blocks re-read from the checkpoint on every fetch into `slots` reusable host buffers (pinned when `pin`).

    A slot is reused only after the upload that read from it has finished (host waits on its event)."""

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
        self._buffers = [HostBuffer(size, pin) for _ in range(slots)]
        self._free: deque[tuple[int, torch.cuda.Event | None]] = deque((i, None) for i in range(slots))
        self.nbytes = size * slots

    def fetch(self, index: int) -> HostBlock:
        if not self._free:
            raise RuntimeError("all disk host slots are in use; release() each fetched block")
        slot, pending = self._free.popleft()
        if pending is not None:
            pending.synchronize()
        layout = self.layouts[index]
        dst = self._buffers[slot].data[: layout.nbytes]
        fill_block(layout, dst, self._reader, self._recipe)
        return HostBlock(index, dst, slot)

    def release(self, block: HostBlock, event: torch.cuda.Event | None) -> None:
        assert block.slot is not None
        self._free.append((block.slot, event))

    def close(self) -> None:
        for _, event in self._free:
            if event is not None:
                event.synchronize()
        for buffer in self._buffers:
            buffer.close()
        self._free.clear()
