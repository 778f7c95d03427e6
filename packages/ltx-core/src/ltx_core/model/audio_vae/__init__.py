"""The audio path: waveform → log-mel, audio VAE encoder/decoder, latent timing, and the two vocoders.

LTX-2 vocodes at 24 kHz with a HiFi-GAN-style generator; LTX-2.3 at 48 kHz with BigVGAN-v2 plus bandwidth
extension. The checkpoint's `vocoder` section decides which one is built.
"""

from ltx_core.model.audio_vae.bwe import MelSTFT, VocoderWithBWE
from ltx_core.model.audio_vae.codec import decode_audio, encode_audio
from ltx_core.model.audio_vae.config import AudioVAEConfig, MelConfig
from ltx_core.model.audio_vae.decoder import AudioDecoder
from ltx_core.model.audio_vae.encoder import AudioEncoder
from ltx_core.model.audio_vae.loading import (
    audio_vae_checkpoint_state_dict,
    audio_vae_config,
    load_audio_decoder,
    load_audio_encoder,
    load_vocoder,
    vocoder_checkpoint_state_dict,
    vocoder_config,
    vocoder_from_config,
)
from ltx_core.model.audio_vae.mel import log_mel_spectrogram, waveform_to_mel
from ltx_core.model.audio_vae.resample import resample
from ltx_core.model.audio_vae.timing import (
    AudioTiming,
    audio_latent_frames,
    audio_latent_frames_for_video,
    audio_positions,
    fit_audio_latent,
)
from ltx_core.model.audio_vae.vocoder import Vocoder
from ltx_core.model.audio_vae.vocoder_config import VocoderConfig

__all__ = [
    "AudioDecoder",
    "AudioEncoder",
    "AudioTiming",
    "AudioVAEConfig",
    "MelConfig",
    "MelSTFT",
    "Vocoder",
    "VocoderConfig",
    "VocoderWithBWE",
    "audio_latent_frames",
    "audio_latent_frames_for_video",
    "audio_positions",
    "audio_vae_checkpoint_state_dict",
    "audio_vae_config",
    "decode_audio",
    "encode_audio",
    "fit_audio_latent",
    "load_audio_decoder",
    "load_audio_encoder",
    "load_vocoder",
    "log_mel_spectrogram",
    "resample",
    "vocoder_checkpoint_state_dict",
    "vocoder_config",
    "vocoder_from_config",
    "waveform_to_mel",
]
