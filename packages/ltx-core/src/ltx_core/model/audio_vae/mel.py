"""Waveform → log-mel spectrogram, the audio VAE encoder's input (spec §3).

Equivalent to torchaudio's `MelSpectrogram` (periodic Hann window, reflect centring, power 1, Slaney mel scale
and area norm) followed by `log(max(x, 1e-5))`, all in float32. torchaudio is not a dependency; the filterbank
construction follows the same float32 operation order so the result is bit-identical.
"""

from __future__ import annotations

import math

import torch

from ltx_core.errors import InputError
from ltx_core.model.audio_vae.config import MelConfig
from ltx_core.model.audio_vae.resample import resample

LOG_FLOOR = 1e-5
_F_SP = 200.0 / 3  # Slaney: linear part, Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel_slaney(freq: float) -> float:
    if freq < _MIN_LOG_HZ:
        return freq / _F_SP
    return _MIN_LOG_MEL + math.log(freq / _MIN_LOG_HZ) / _LOGSTEP


def mel_to_hz_slaney(mels: torch.Tensor) -> torch.Tensor:
    freqs = _F_SP * mels
    log_part = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (mels - _MIN_LOG_MEL))
    return torch.where(mels >= _MIN_LOG_MEL, log_part, freqs)


def mel_filterbank(
    n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """(n_freqs, n_mels) Slaney-scale triangles with Slaney area normalisation, float32."""
    f_max = sample_rate / 2 if f_max is None else f_max
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(hz_to_mel_slaney(f_min), hz_to_mel_slaney(f_max), n_mels + 2)
    f_pts = mel_to_hz_slaney(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.max(torch.zeros(1), torch.min(down, up))
    enorm = 2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])
    return fb * enorm.unsqueeze(0)


def to_stereo(waveform: torch.Tensor) -> torch.Tensor:
    """(B, C, N) → (B, 2, N): mono is duplicated to both channels (the official code would fail on it)."""
    if waveform.ndim != 3:
        raise InputError(f"waveform must be (batch, channels, samples), got shape {tuple(waveform.shape)}")
    channels = waveform.shape[1]
    if channels == 2:
        return waveform
    if channels == 1:
        return waveform.expand(-1, 2, -1)
    raise InputError(f"audio has {channels} channels; only mono or stereo is supported")


def log_mel_spectrogram(waveform: torch.Tensor, mel: MelConfig) -> torch.Tensor:
    """(B, C, N) waveform at `mel.sample_rate` → (B, C, T, n_mels) log-mel, T = 1 + N // hop."""
    batch, channels, length = waveform.shape
    if length <= mel.n_fft // 2:
        raise InputError(
            f"audio is too short: {length} samples at {mel.sample_rate} Hz; need more than {mel.n_fft // 2}"
        )
    x = waveform.reshape(-1, length)
    window = torch.hann_window(mel.n_fft, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.stft(
        x,
        n_fft=mel.n_fft,
        hop_length=mel.hop_length,
        win_length=mel.n_fft,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    ).abs()
    fb = mel_filterbank(mel.n_fft // 2 + 1, mel.n_mels, mel.sample_rate, 0.0, mel.f_max).to(spec.device)
    mels = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    log_mel = torch.log(torch.clamp(mels, min=LOG_FLOOR))
    log_mel = log_mel.reshape(batch, channels, mel.n_mels, -1).to(waveform.dtype)
    return log_mel.permute(0, 1, 3, 2).contiguous()


def waveform_to_mel(waveform: torch.Tensor, sample_rate: int, mel: MelConfig) -> torch.Tensor:
    """Audio as read from a file → the encoder's log-mel input: stereo, resampled to the config's rate, float32.

    `waveform` is (B, C, N) or (C, N) with C in {1, 2}.
    """
    if waveform.ndim == 2:
        waveform = waveform.unsqueeze(0)
    waveform = to_stereo(waveform.float())
    return log_mel_spectrogram(resample(waveform, sample_rate, mel.sample_rate), mel)
