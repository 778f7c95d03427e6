"""LTX-2.3 vocoder: BigVGAN-v2 generator at 16 kHz + bandwidth extension to 48 kHz (spec §9).

The 16 kHz waveform is analysed again by a causal STFT/mel (bases loaded from the checkpoint), a second generator
predicts a 48 kHz residual from that mel, and the residual is added to a Hann-sinc x3 upsampled copy.
Everything runs in float32 even when the weights were loaded as bf16 (the official code autocasts to fp32); the
result is cast back to the input's dtype.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.model.audio_vae.alias_free import HannSincUpsample, filter_buffer
from ltx_core.model.audio_vae.mel import LOG_FLOOR, mel_filterbank
from ltx_core.model.audio_vae.vocoder import Vocoder
from ltx_core.model.audio_vae.vocoder_config import STEREO_CHANNELS, BWEConfig, VocoderConfig


@lru_cache(maxsize=4)
def stft_bases(n_fft: int, hop_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward/inverse (2·(N/2+1), 1, N) bases: windowed real-DFT rows (cos, then −sin) and their pseudo-inverse.

    Only used to initialise modules built from a config; checkpoints carry the (bf16-rounded) bases. CPU tensors.
    """
    cutoff = n_fft // 2 + 1
    n = torch.arange(n_fft, dtype=torch.float64, device="cpu")
    k = torch.arange(cutoff, dtype=torch.float64, device="cpu")[:, None]
    angle = 2 * torch.pi * k * n / n_fft
    fourier = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=0)
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64, device="cpu")
    forward = fourier[:, None, :] * window
    inverse = torch.linalg.pinv(n_fft / hop_length * fourier).T[:, None, :] * window
    return forward.float(), inverse.float()


class STFTBases(nn.Module):
    """Holder of the checkpoint's `stft_fn.forward_basis` / `inverse_basis` (the inverse is unused)."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        forward, inverse = stft_bases(n_fft, hop_length)
        self.register_buffer("forward_basis", filter_buffer(forward))
        self.register_buffer("inverse_basis", filter_buffer(inverse))


class MelSTFT(nn.Module):
    """Causal (left-padded) magnitude STFT + mel projection + log, for the BWE input."""

    def __init__(self, n_fft: int, hop_length: int, num_mels: int, sample_rate: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.stft_fn = STFTBases(n_fft, hop_length)
        with torch.device("cpu"):
            fb = mel_filterbank(n_fft // 2 + 1, num_mels, sample_rate)
        self.register_buffer("mel_basis", filter_buffer(fb.T.contiguous()))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(N, L) → (N, num_mels, L / hop) log-mel."""
        x = F.pad(wave[:, None, :], (max(0, self.n_fft - self.hop_length), 0))
        spec = F.conv1d(x, self.stft_fn.forward_basis.to(x.dtype), stride=self.hop_length)
        cutoff = self.n_fft // 2 + 1
        real, imag = spec[:, :cutoff], spec[:, cutoff:]
        magnitude = torch.sqrt(real**2 + imag**2)
        mel = torch.matmul(self.mel_basis.to(magnitude.dtype), magnitude)
        return torch.log(torch.clamp(mel, min=LOG_FLOOR))


class VocoderWithBWE(nn.Module):
    """LTX-2.3 vocoder: (B, 2, T, 64) log-mel → (B, 2, T · hop · ratio) waveform at 48 kHz, in [−1, 1]."""

    def __init__(self, cfg: VocoderConfig) -> None:
        super().__init__()
        if cfg.bwe is None:
            raise ValueError("VocoderWithBWE needs a config with a bwe section")
        bwe: BWEConfig = cfg.bwe
        self.cfg = cfg
        self.vocoder = Vocoder(cfg.generator)
        self.bwe_generator = Vocoder(bwe.generator)
        self.mel_stft = MelSTFT(bwe.n_fft, bwe.hop_length, bwe.num_mels, bwe.input_sampling_rate)
        self.resampler = HannSincUpsample(bwe.upsample_ratio)
        self.input_sampling_rate = bwe.input_sampling_rate
        self.output_sampling_rate = bwe.output_sampling_rate
        self.hop_length = bwe.hop_length

    @property
    def conv_pre(self) -> nn.Conv1d:
        return self.vocoder.conv_pre

    @property
    def conv_post(self) -> nn.Conv1d:
        return self.vocoder.conv_post

    @property
    def hop(self) -> int:
        """Output samples per input mel frame."""
        return self.vocoder.hop * self.output_sampling_rate // self.input_sampling_rate

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        in_dtype = mel.dtype
        self._ensure_float32()
        x = self.vocoder(mel.float())
        batch, length = x.shape[0], x.shape[-1]
        out_len = length * self.output_sampling_rate // self.input_sampling_rate
        if length % self.hop_length:
            x = F.pad(x, (0, self.hop_length - length % self.hop_length))
        mel2 = self.mel_stft(x.reshape(batch * STEREO_CHANNELS, -1))
        mel2 = mel2.reshape(batch, STEREO_CHANNELS, mel2.shape[1], mel2.shape[2]).transpose(2, 3)
        residual = self.bwe_generator(mel2)
        skip = self.resampler(x)
        if residual.shape != skip.shape:
            raise RuntimeError(f"BWE residual {tuple(residual.shape)} and skip {tuple(skip.shape)} differ")
        return torch.clamp(residual + skip, -1.0, 1.0)[..., :out_len].to(in_dtype)

    def _ensure_float32(self) -> None:
        """Weights may have been rounded to bf16 at load; the official vocoder computes on fp32 copies."""
        if self.conv_pre.weight.dtype != torch.float32:
            self.float()
