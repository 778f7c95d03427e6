"""Upsampler files: loading (keys used verbatim, flat config) and the inverse for writing tiny test files.

A full LTX checkpoint or a LoRA given where an upsampler is expected is recognised and refused by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader import Checkpoint, KeyMap, load_model, open_checkpoint
from ltx_core.model.upsampler.config import UpsamplerConfig
from ltx_core.model.upsampler.model import LatentUpsampler

UPSAMPLER_KEY_MAP = KeyMap(name="latent_upsampler")
_FULL_CHECKPOINT_PREFIXES = ("model.diffusion_model.", "vae.", "audio_vae.", "vocoder.", "text_embedding_projection.")
_LORA_MARKERS = ("lora_A", "lora_B", "lora_down", "lora_up", ".alpha")


def check_is_upsampler(ckpt: Checkpoint) -> None:
    keys = ckpt.keys()
    if any(k.startswith(_FULL_CHECKPOINT_PREFIXES) for k in keys) or any(
        s in ckpt.config for s in ("transformer", "vae")
    ):
        raise CheckpointError(f"{ckpt.path} is a full LTX model checkpoint, not a latent upsampler file")
    if any(m in k for k in keys for m in _LORA_MARKERS):
        raise CheckpointError(f"{ckpt.path} is a LoRA file, not a latent upsampler file")
    if "initial_conv.weight" not in keys or "final_conv.weight" not in keys:
        raise CheckpointError(f"{ckpt.path} is not a latent upsampler file (no initial_conv/final_conv weights)")


def upsampler_factory(config: dict[str, Any], source: Path | str = "<config>") -> LatentUpsampler:
    """Build a (randomly initialised) upsampler from a flat upsampler config dict."""
    return LatentUpsampler(UpsamplerConfig.from_config(config, source))


def load_upsampler(
    path: str | Path | Checkpoint, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> LatentUpsampler:
    ckpt = open_checkpoint(path)
    check_is_upsampler(ckpt)
    cfg = UpsamplerConfig.from_config(ckpt.config, ckpt.path)
    model = load_model(
        lambda: LatentUpsampler(cfg), ckpt, UPSAMPLER_KEY_MAP, component="latent upsampler", dtype=dtype, device=device
    )
    assert isinstance(model, LatentUpsampler)
    return model


def upsampler_checkpoint_state_dict(upsampler: LatentUpsampler) -> dict[str, torch.Tensor]:
    """Official file keys (verbatim module names, including the rational variant's blur kernel buffer)."""
    return dict(upsampler.state_dict())


def upsampler_metadata(upsampler: LatentUpsampler | UpsamplerConfig) -> dict[str, str]:
    """Safetensors metadata for an upsampler file: `{"config": <flat JSON>}`."""
    cfg = upsampler.config if isinstance(upsampler, LatentUpsampler) else upsampler
    return cfg.to_metadata()
