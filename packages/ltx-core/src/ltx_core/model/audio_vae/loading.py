"""Checkpoint ↔ audio modules: key maps, factories from the config, loaders, and the inverse (official keys)."""

from __future__ import annotations

from typing import Any

import torch

from ltx_core.loader import ConfigSection, KeyMap, load_model, open_checkpoint
from ltx_core.model.audio_vae.config import AudioVAEConfig
from ltx_core.model.audio_vae.decoder import AudioDecoder
from ltx_core.model.audio_vae.encoder import AudioEncoder

_STATS = "audio_vae.per_channel_statistics."
_ENC = "audio_vae.encoder."
_DEC = "audio_vae.decoder."
_VOC = "vocoder."

AUDIO_ENCODER_KEY_MAP = KeyMap(
    name="audio_encoder",
    prefixes=(_ENC, _STATS),
    replacements=((_ENC, ""), (_STATS, "per_channel_statistics.")),
)
AUDIO_DECODER_KEY_MAP = KeyMap(
    name="audio_decoder",
    prefixes=(_DEC, _STATS),
    replacements=((_DEC, ""), (_STATS, "per_channel_statistics.")),
)


def audio_vae_config(config: dict[str, Any], source: Any = "<config>") -> AudioVAEConfig:
    return AudioVAEConfig.from_section(ConfigSection.of(config, "audio_vae", source=source))


def load_audio_encoder(
    checkpoint: Any, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> AudioEncoder:
    ckpt = open_checkpoint(checkpoint)
    cfg = audio_vae_config(ckpt.config, ckpt.path)
    model = load_model(
        lambda: AudioEncoder(cfg),
        ckpt,
        AUDIO_ENCODER_KEY_MAP,
        component="audio VAE encoder",
        dtype=dtype,
        device=device,
    )
    return model  # type: ignore[return-value]


def load_audio_decoder(
    checkpoint: Any, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> AudioDecoder:
    ckpt = open_checkpoint(checkpoint)
    cfg = audio_vae_config(ckpt.config, ckpt.path)
    model = load_model(
        lambda: AudioDecoder(cfg),
        ckpt,
        AUDIO_DECODER_KEY_MAP,
        component="audio VAE decoder",
        dtype=dtype,
        device=device,
    )
    return model  # type: ignore[return-value]
