"""Band-limited sinc resampling (Hann-windowed, 6 zero crossings, roll-off 0.99), spec §3.2.

A dependency-free equivalent of `torchaudio.functional.resample` with its defaults. The kernel is built in the
waveform's dtype in the reference operation order, which reproduces the official output bit for bit (building it
in float64 and casting afterwards is off by ~3e-6).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ltx_core.errors import InputError

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99


def sinc_resample_kernel(
    orig_freq: int,
    new_freq: int,
    *,
    lowpass_filter_width: int = LOWPASS_FILTER_WIDTH,
    rolloff: float = ROLLOFF,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, int]:
    """The (n, 1, K) polyphase kernels for orig→new (both already divided by their gcd) and the pad width."""
    base = min(orig_freq, new_freq) * rolloff
    width = math.ceil(lowpass_filter_width * orig_freq / base)
    idx = torch.arange(-width, width + orig_freq, dtype=dtype, device=device)[None, None] / orig_freq
    t = torch.arange(0, -new_freq, -1, dtype=dtype, device=device)[:, None, None] / new_freq + idx
    t = t * base
    t = t.clamp(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t = t * math.pi
    scale = base / orig_freq
    sinc = torch.where(t == 0, torch.ones((), dtype=dtype, device=device), t.sin() / t)
    return sinc * (window * scale), width


def resample(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    """Resample the last axis of `waveform` from `orig_freq` to `new_freq` Hz (no-op when equal)."""
    if orig_freq == new_freq:
        return waveform
    if orig_freq <= 0 or new_freq <= 0:
        raise InputError(f"sample rates must be positive, got {orig_freq} -> {new_freq}")
    g = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // g, new_freq // g
    kernel, width = sinc_resample_kernel(orig, new, dtype=waveform.dtype, device=waveform.device)
    shape = waveform.shape
    length = shape[-1]
    x = waveform.reshape(-1, 1, length)
    x = F.pad(x, (width, width + orig))
    y = F.conv1d(x, kernel, stride=orig)  # (B, new, L')
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    target = math.ceil(new * length / orig)
    return y[..., :target].reshape(*shape[:-1], -1)
