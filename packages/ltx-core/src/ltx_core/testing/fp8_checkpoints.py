"""Pre-quantized fp8 checkpoints made from bf16/fp32 ones, for testing fp8-scaled-mm without the released fp8 files.

The layout is what fp8-scaled-mm reads (spec B.8): per quantized Linear an fp8 e4m3 `weight`, a 0-d float32
`weight_scale` (max|W| / 448) and a 0-d float32 `input_scale` (a static activation range / 448; a real file
calibrates it per layer, here it is one assumed range). The quantized Linears are the fp8-cast set: attention
q/k/v/out and both feed-forward Linears of every block; biases and everything else keep their stored dtype.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from ltx_core.loader.safetensors_file import Checkpoint, open_checkpoint
from ltx_core.quantization.fp8_cast import FP8_CAST_SUFFIXES, FP8_DTYPE
from ltx_core.quantization.fp8_scaled_mm import FP8_MAX
from ltx_core.testing.safetensors_writer import write_streamed_safetensors

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
    key names without `.weight`). Metadata (config, version) is copied unchanged. Streams one tensor at a time,
    so any checkpoint size works."""
    ckpt = open_checkpoint(source)
    keys = sorted(ckpt.keys())
    stems = [k[: -len(".weight")] for k in keys if k.startswith(_BLOCKS) and k.endswith(_WEIGHT_SUFFIXES)]
    quantized = {f"{stem}.weight" for stem in stems}
    layout = {key: (FP8_DTYPE if key in quantized else ckpt.info(key).dtype, ckpt.info(key).shape) for key in keys}
    for stem in stems:
        layout[f"{stem}.weight_scale"] = layout[f"{stem}.input_scale"] = (torch.float32, ())
    input_scale = torch.tensor(input_range / FP8_MAX, dtype=torch.float32)
    weight_scales: dict[str, torch.Tensor] = {}

    def values(key: str) -> Iterator[torch.Tensor]:  # keys come sorted: P.input_scale, P.weight, P.weight_scale
        if key.endswith(".input_scale"):
            yield input_scale
        elif key.endswith(".weight_scale"):
            yield weight_scales.pop(key)
        elif key in quantized:
            weight, weight_scales[f"{key}_scale"] = quantize_weight(ckpt.read(key))
            yield weight
        else:
            yield ckpt.read(key)

    write_streamed_safetensors(destination, layout, ckpt.metadata, values)
    return stems
