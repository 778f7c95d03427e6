"""Pre-quantized fp8 checkpoints made from bf16/fp32 ones, for testing fp8-scaled-mm without the released fp8 files.

The layout is what fp8-scaled-mm reads (spec B.8): per quantized Linear an fp8 e4m3 `weight`, a 0-d float32
`weight_scale` (max|W| / 448) and a 0-d float32 `input_scale` (a static activation range / 448; a real file
calibrates it per layer, here it is one assumed range). The quantized Linears are the fp8-cast set: attention
q/k/v/out and both feed-forward Linears of every block; biases and everything else keep their stored dtype.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

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
    key names without `.weight`). Metadata (config, version) is copied unchanged."""
    ckpt = open_checkpoint(source)
    tensors = {name: tensor for file in ckpt.files for name, tensor in file.iter_tensors()}
    stems = []
    for name in sorted(tensors):
        if name.startswith(_BLOCKS) and name.endswith(_WEIGHT_SUFFIXES):
            stem = name[: -len(".weight")]
            tensors[name], tensors[f"{stem}.weight_scale"] = quantize_weight(tensors[name])
            tensors[f"{stem}.input_scale"] = torch.tensor(input_range / FP8_MAX, dtype=torch.float32)
            stems.append(stem)
    save_file(tensors, str(destination), metadata=dict(ckpt.files[0].metadata))
    return stems
