"""Pre-quantized fp8 checkpoints made from bf16/fp32 ones, for testing fp8-scaled-mm without the released fp8 files.

The layout is what fp8-scaled-mm reads (spec B.8): per quantized Linear an fp8 e4m3 `weight`, a 0-d float32
`weight_scale` (max|W| / 448) and a 0-d float32 `input_scale` (a static activation range / 448; a real file
calibrates it per layer, here it is one assumed range). The quantized Linears are the fp8-cast set: attention
q/k/v/out and both feed-forward Linears of every block; biases and everything else keep their stored dtype.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch

from ltx_core.loader.safetensors_file import Checkpoint, open_checkpoint
from ltx_core.quantization.fp8_cast import FP8_CAST_SUFFIXES, FP8_DTYPE
from ltx_core.quantization.fp8_scaled_mm import FP8_MAX

_BLOCKS = "model.diffusion_model.transformer_blocks."
_WEIGHT_SUFFIXES = tuple(s for s in FP8_CAST_SUFFIXES if s.endswith(".weight"))


def quantize_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(fp8 weight, 0-d float32 scale) with W ≈ fp8 · scale and the largest |W| mapped to 448."""
    w = weight.to(torch.float32)
    scale = w.abs().max() / FP8_MAX
    return (w / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE), scale.reshape(())


def write_scaled_fp8_checkpoint(
    source: str | Path | Checkpoint, destination: str | Path, input_range: float = 8.0
) -> list[str]:
    """Write `destination`: `source` with its block Linears pre-quantized; returns the quantized stems (source
    key names without `.weight`). Metadata (config, version) is copied unchanged. Streams one tensor at a time
    (any checkpoint size) into a temporary name renamed at the end."""
    ckpt = open_checkpoint(source)
    keys = sorted(ckpt.keys())
    stems = [k[: -len(".weight")] for k in keys if k.startswith(_BLOCKS) and k.endswith(_WEIGHT_SUFFIXES)]
    quantized = {f"{stem}.weight" for stem in stems}
    layout: dict[str, tuple[torch.dtype, tuple[int, ...]]] = {}
    for key in keys:
        info = ckpt.info(key)
        layout[key] = (FP8_DTYPE if key in quantized else info.dtype, info.shape)
    for stem in stems:
        layout[f"{stem}.weight_scale"] = layout[f"{stem}.input_scale"] = (torch.float32, ())
    header: dict[str, object] = {"__metadata__": dict(ckpt.metadata)}
    offset = 0
    for key in sorted(layout):
        dtype, shape = layout[key]
        nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        header[key] = {"dtype": _ST_NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    destination = Path(destination)
    partial = destination.with_name(f".{destination.name}.partial")
    input_scale = torch.tensor(input_range / FP8_MAX, dtype=torch.float32)
    with open(partial, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        weight_scales: dict[str, torch.Tensor] = {}
        for key in sorted(layout):  # a stem's .input_scale and .weight sort before its .weight_scale
            if key.endswith(".input_scale"):
                tensor = input_scale
            elif key.endswith(".weight_scale"):
                tensor = weight_scales.pop(key)
            elif key in quantized:
                tensor, weight_scales[f"{key}_scale"] = quantize_weight(ckpt.read(key))
            else:
                tensor = ckpt.read(key)
            f.write(tensor.reshape(-1).contiguous().view(torch.uint8).numpy())  # 0-d tensors as 1 element
    os.replace(partial, destination)
    return stems


_ST_NAMES = {
    torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
