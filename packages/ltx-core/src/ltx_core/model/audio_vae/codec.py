"""Waveform ↔ latent conveniences in the official order: preprocess + encode, decode + vocode."""

from __future__ import annotations

import torch

from ltx_core.model.audio_vae.bwe import VocoderWithBWE
from ltx_core.model.audio_vae.decoder import AudioDecoder
from ltx_core.model.audio_vae.encoder import AudioEncoder
from ltx_core.model.audio_vae.mel import waveform_to_mel
from ltx_core.model.audio_vae.vocoder import Vocoder


@torch.no_grad()
def encode_audio(encoder: AudioEncoder, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(B, C, N) or (C, N) waveform (mono or stereo, any rate) → normalised latent (B, z, T, F/4).

    The mel is computed in float32 and cast to the encoder's dtype inside the encoder.
    """
    device = encoder.conv_in.conv.weight.device
    mel = waveform_to_mel(waveform.to(device), sample_rate, encoder.cfg.mel)
    return encoder(mel)


@torch.no_grad()
def decode_audio(
    decoder: AudioDecoder, vocoder: Vocoder | VocoderWithBWE, latent: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Normalised latent (B, z, T, F) → (float32 waveform, sample rate); the batch dim is dropped when B = 1.

    The waveform has (4·T − 3) · hop samples per channel: (2, N) for B = 1, else (B, 2, N).
    """
    mel = decoder(latent)
    wave = vocoder(mel)
    return wave.squeeze(0).float(), int(vocoder.output_sampling_rate)
