"""Tiny files for DFR (spec new_pipelines §4) that the generated tiny sets do not hold: a temporal x2 latent
upsampler and a detailing IC-LoRA for a given checkpoint. Kept apart from `tiny_checkpoints` (the writer of the
sets) so that each can grow on its own; both write atomically and are deterministic for a seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ltx_core.testing.tiny_checkpoints import (
    LORA_RANK,
    _save,
    tiny_upsampler_config,
    transformer_lora_state_dict,
    upsampler_file_contents,
)


def tiny_temporal_upsampler_config() -> dict[str, Any]:
    """The tiny spatial upsampler's widths with temporal x2 upsampling instead (F → 2F − 1 latent frames)."""
    return {**tiny_upsampler_config(), "spatial_upsample": False, "temporal_upsample": True}


def write_tiny_temporal_upsampler(path: str | Path, seed: int = 0) -> Path:
    """A random tiny temporal x2 latent upsampler (bf16, with its flat config) at `path`."""
    import torch

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        tensors, metadata = upsampler_file_contents(tiny_temporal_upsampler_config())
    finally:
        torch.random.set_rng_state(state)
    out = Path(path)
    _save(out, tensors, metadata)
    return out


def write_tiny_detailing_lora(
    path: str | Path, checkpoint: str | Path, seed: int = 0, *, downscale_factor: int | None = 2
) -> Path:
    """A random rank-4 IC-LoRA on every block Linear of `checkpoint`'s transformer (shapes from its header only),
    with `reference_downscale_factor` metadata (None: no such entry, DFR then uses 2)."""
    import torch

    from ltx_core.loader import open_checkpoint

    ckpt = open_checkpoint(checkpoint)
    shapes = {key: torch.empty(tuple(ckpt.info(key).shape), device="meta") for key in ckpt.keys()}
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        tensors = transformer_lora_state_dict(shapes, LORA_RANK)
    finally:
        torch.random.set_rng_state(state)
    metadata = {"format": "pt"}
    if downscale_factor is not None:
        metadata["reference_downscale_factor"] = str(downscale_factor)
    out = Path(path)
    _save(out, tensors, metadata)
    return out
