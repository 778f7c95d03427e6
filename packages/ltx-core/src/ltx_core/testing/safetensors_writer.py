"""Writing a safetensors file tensor by tensor, so a checkpoint of any size is written with one tensor in memory.

Used by the random real-size checkpoints (benchmarks) and the pre-quantized fp8 copies (tests, benchmarks). The file
is written under a temporary name and renamed at the end, so an interrupted run leaves no truncated checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch

from ltx_core.loader.safetensors_file import DTYPE_NAMES

TensorLayout = Mapping[str, tuple[torch.dtype, tuple[int, ...]]]  # key → (dtype, shape)


def write_streamed_safetensors(
    path: str | Path,
    layout: TensorLayout,
    metadata: Mapping[str, str],
    chunks: Callable[[str], Iterable[torch.Tensor]],
) -> int:
    """Write `path` with the tensors of `layout` (in sorted key order); `chunks(key)` yields the key's values as
    tensors of the layout's dtype whose elements, concatenated, fill the tensor. Returns the bytes of tensor data."""
    path = Path(path)
    header: dict[str, object] = {"__metadata__": dict(metadata)}
    offset = 0
    for key in sorted(layout):
        dtype, shape = layout[key]
        nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        header[key] = {"dtype": DTYPE_NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for key in sorted(layout):
            for chunk in chunks(key):
                # 1-d uint8 view through the buffer protocol: no extra copy, and 0-d tensors work too
                f.write(chunk.reshape(-1).contiguous().view(torch.uint8).cpu().numpy())
    os.chmod(partial, 0o644)
    os.replace(partial, path)
    return offset
