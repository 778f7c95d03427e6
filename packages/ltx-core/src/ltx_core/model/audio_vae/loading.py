"""Checkpoint ↔ audio modules: key maps, factories from the config, loaders, and the inverse (official keys).

Encoder, decoder and vocoder are three separate builds from the same file. The audio latent statistics
(`audio_vae.per_channel_statistics.*`) are shared by encoder and decoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ltx_core.loader import Checkpoint, ConfigSection, KeyMap, load_model, open_checkpoint, strip_prefix_map
from ltx_core.model.audio_vae.bwe import VocoderWithBWE
from ltx_core.model.audio_vae.config import AudioVAEConfig
from ltx_core.model.audio_vae.decoder import AudioDecoder
from ltx_core.model.audio_vae.encoder import AudioEncoder
from ltx_core.model.audio_vae.vocoder import Vocoder
from ltx_core.model.audio_vae.vocoder_config import VocoderConfig

CheckpointLike = str | Path | Sequence[str | Path] | Checkpoint
AnyVocoder = Vocoder | VocoderWithBWE

STATS_PREFIX = "audio_vae.per_channel_statistics."
ENCODER_PREFIX = "audio_vae.encoder."
DECODER_PREFIX = "audio_vae.decoder."
VOCODER_PREFIX = "vocoder."
_STATS_NAME = "per_channel_statistics."

AUDIO_ENCODER_KEY_MAP = KeyMap(
    name="audio_encoder",
    prefixes=(ENCODER_PREFIX, STATS_PREFIX),
    replacements=((ENCODER_PREFIX, ""), (STATS_PREFIX, _STATS_NAME)),
)
AUDIO_DECODER_KEY_MAP = KeyMap(
    name="audio_decoder",
    prefixes=(DECODER_PREFIX, STATS_PREFIX),
    replacements=((DECODER_PREFIX, ""), (STATS_PREFIX, _STATS_NAME)),
)


# LTX-2.3 keys are `vocoder.vocoder.*`: the prefix is stripped exactly once.
VOCODER_KEY_MAP = strip_prefix_map("vocoder", VOCODER_PREFIX)


def audio_vae_config(config: dict[str, Any], source: Any = "<config>") -> AudioVAEConfig:
    """The encoder/decoder config from a checkpoint config dict (its `audio_vae` section)."""
    return AudioVAEConfig.from_section(ConfigSection.of(config, "audio_vae", source=source))


def vocoder_config(config: dict[str, Any], source: Any = "<config>") -> VocoderConfig:
    """The vocoder config; a missing section means the official (LTX-2) defaults, as in the official loader."""
    section = config.get("vocoder") or {}
    return VocoderConfig.from_section(ConfigSection({**section}, "vocoder", source))


def audio_encoder_from_config(config: dict[str, Any], source: Any = "<config>") -> AudioEncoder:
    """A randomly initialised encoder (on the current default device) for this checkpoint config."""
    return AudioEncoder(audio_vae_config(config, source))


def audio_decoder_from_config(config: dict[str, Any], source: Any = "<config>") -> AudioDecoder:
    return AudioDecoder(audio_vae_config(config, source))


def vocoder_from_config(config: dict[str, Any], source: Any = "<config>") -> AnyVocoder:
    """LTX-2 `Vocoder` for a flat `vocoder` section, LTX-2.3 `VocoderWithBWE` when it has a `bwe` key."""
    cfg = vocoder_config(config, source)
    return Vocoder(cfg.generator) if cfg.bwe is None else VocoderWithBWE(cfg)


def load_audio_encoder(
    checkpoint: CheckpointLike, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> AudioEncoder:
    """Audio VAE encoder (log-mel → normalised latent). Pipelines pass dtype=torch.bfloat16."""
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
    assert isinstance(model, AudioEncoder)
    return model


def load_audio_decoder(
    checkpoint: CheckpointLike, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> AudioDecoder:
    """Audio VAE decoder (normalised latent → log-mel). Pipelines pass dtype=torch.bfloat16."""
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
    assert isinstance(model, AudioDecoder)
    return model


def load_vocoder(
    checkpoint: CheckpointLike, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> AnyVocoder:
    """The checkpoint's vocoder. `dtype` rounds every stored tensor (pipelines: bf16); the LTX-2.3 vocoder is
    then upcast to float32 for compute (spec §11), the LTX-2 one computes in `dtype`."""
    ckpt = open_checkpoint(checkpoint)
    cfg = vocoder_config(ckpt.config, ckpt.path)
    factory = (lambda: Vocoder(cfg.generator)) if cfg.bwe is None else (lambda: VocoderWithBWE(cfg))
    model = load_model(factory, ckpt, VOCODER_KEY_MAP, component="vocoder", dtype=dtype, device=device)
    if isinstance(model, VocoderWithBWE):
        model.float()
    assert isinstance(model, (Vocoder, VocoderWithBWE))
    return model


def _with_prefix(module: nn.Module, prefix_for: Any) -> dict[str, torch.Tensor]:
    return {prefix_for(k): v.detach().contiguous().clone() for k, v in module.state_dict().items()}


def audio_vae_checkpoint_state_dict(
    encoder: AudioEncoder | None, decoder: AudioDecoder | None
) -> dict[str, torch.Tensor]:
    """Official `audio_vae.*` keys. The shared statistics are taken from the encoder when both are given."""
    out: dict[str, torch.Tensor] = {}
    for module, prefix in ((decoder, DECODER_PREFIX), (encoder, ENCODER_PREFIX)):
        if module is None:
            continue
        out.update(
            _with_prefix(
                module,
                lambda k, p=prefix: STATS_PREFIX + k[len(_STATS_NAME) :] if k.startswith(_STATS_NAME) else p + k,
            )
        )
    return out


def vocoder_checkpoint_state_dict(vocoder: AnyVocoder) -> dict[str, torch.Tensor]:
    """Official `vocoder.*` keys (LTX-2.3: `vocoder.vocoder.*`, `vocoder.bwe_generator.*`, `vocoder.mel_stft.*`)."""
    return _with_prefix(vocoder, lambda k: VOCODER_PREFIX + k)
