"""Where each block's tensors live inside one flat byte buffer (the unit that is copied host → device).

Every block is planned from the checkpoint header alone (no tensor is read): its tensors, in the dtype they will
have in memory (after the build dtype cast and the key-map ops, e.g. fp8-cast), packed at 512-byte aligned
offsets. The alignment matches what the allocators give the resident model's tensors, so kernels see the same
alignment in every mode (some BLAS paths pick differently rounded kernels for misaligned inputs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader.key_map import KeyMap
from ltx_core.loader.safetensors_file import Checkpoint, SafetensorsFile, TensorInfo
from ltx_core.quantization.fp8_scaled_mm import keeps_stored_dtype

ALIGN = 512
BLOCKS_PREFIX = "transformer_blocks"


@dataclass(frozen=True)
class TensorSlot:
    """One tensor of a block: its name inside the block, its checkpoint key, and its place in the block buffer."""

    name: str
    source: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass(frozen=True)
class BlockLayout:
    index: int
    slots: tuple[TensorSlot, ...]
    nbytes: int

    def views(self, buffer: torch.Tensor) -> dict[str, torch.Tensor]:
        """Typed views of a flat uint8 `buffer` (at least `nbytes` long) holding this block."""
        return {s.name: buffer[s.offset : s.offset + s.nbytes].view(s.dtype).view(s.shape) for s in self.slots}


def aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def tensor_owners(checkpoint: Checkpoint) -> dict[str, SafetensorsFile]:
    """The shard holding each tensor; a later shard's duplicate wins, as in the loader."""
    return {k: f for f in checkpoint.files for k in f.tensors}


def tensor_infos(checkpoint: Checkpoint) -> dict[str, TensorInfo]:
    """Header entries of every tensor (see `tensor_owners`)."""
    return {k: f.tensors[k] for k, f in tensor_owners(checkpoint).items()}


def memory_dtype(name: str, stored: torch.dtype, dtype: torch.dtype | None, key_map: KeyMap) -> torch.dtype:
    """The dtype a tensor has once loaded: floats cast to `dtype` (when given), then the map's ops (e.g. fp8)."""
    d = dtype if (dtype is not None and stored.is_floating_point and not keeps_stored_dtype(name, stored)) else stored
    return key_map.apply_ops(name, torch.empty(0, dtype=d, device="meta")).dtype


def split_blocks(
    selected: dict[str, str], prefix: str = BLOCKS_PREFIX
) -> tuple[dict[int, dict[str, str]], dict[str, str]]:
    """Renamed keys `<prefix>.<i>.<param>` → per block {param: source}; everything else is non-block."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.+)$")
    blocks: dict[int, dict[str, str]] = {}
    rest: dict[str, str] = {}
    for name, src in selected.items():
        m = pattern.match(name)
        if m:
            blocks.setdefault(int(m.group(1)), {})[m.group(2)] = src
        else:
            rest[name] = src
    return blocks, rest


def plan_block(
    index: int,
    params: dict[str, str],
    infos: dict[str, TensorInfo],
    dtype: torch.dtype | None,
    key_map: KeyMap,
    prefix: str = BLOCKS_PREFIX,
) -> BlockLayout:
    slots = []
    offset = 0
    # File order keeps disk reads sequential.
    for name, src in sorted(params.items(), key=lambda kv: infos[kv[1]].start):
        info = infos[src]
        d = memory_dtype(f"{prefix}.{index}.{name}", info.dtype, dtype, key_map)
        slot = TensorSlot(name, src, info.shape, d, offset)
        slots.append(slot)
        offset = aligned(offset + slot.nbytes)
    return BlockLayout(index, tuple(slots), max(offset, ALIGN))


def plan_blocks(
    blocks: dict[int, dict[str, str]],
    num_blocks: int,
    infos: dict[str, TensorInfo],
    dtype: torch.dtype | None,
    key_map: KeyMap,
    source: object = "<checkpoint>",
) -> list[BlockLayout]:
    found = sorted(blocks)
    if found != list(range(num_blocks)):
        raise CheckpointError(
            f"{source}: transformer blocks in the file are {_ranges(found)}; the config expects 0..{num_blocks - 1}"
        )
    return [plan_block(i, blocks[i], infos, dtype, key_map) for i in range(num_blocks)]


def _ranges(indices: Iterable[int]) -> str:
    idx = list(indices)
    return f"{idx[0]}..{idx[-1]} ({len(idx)} blocks)" if idx else "none"
