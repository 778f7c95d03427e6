"""BigVGAN-v2 parts of the LTX-2.3 vocoder: Snake, kaiser-sinc up/down sampling, Hann-sinc x3 (spec §9.3–9.5).

The 12-tap kaiser filters are checkpoint buffers (loaded, and bf16-rounded when the pipeline loads in bf16), so
they are persistent buffers here, initialised to the exact construction for modules built from a config. The
Hann-sinc x3 resampler filter is not in the checkpoint: it is computed in float32 on first use and cached.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

SNAKE_EPS = 1e-9
KAISER_TAPS_PER_RATIO = 6
HANN_ROLLOFF = 0.99
HANN_LOWPASS_WIDTH = 6


class Snake(nn.Module):
    """y = x + 1/α · sin²(αx), α = exp(alpha) per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.randn(channels).mul_(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha.unsqueeze(0).unsqueeze(-1))
        return x + (1.0 / (alpha + SNAKE_EPS)) * torch.pow(torch.sin(x * alpha), 2)


class SnakeBeta(nn.Module):
    """y = x + 1/β · sin²(αx), α = exp(alpha), β = exp(beta) per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.randn(channels).mul_(0.1))
        self.beta = nn.Parameter(torch.randn(channels).mul_(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha.unsqueeze(0).unsqueeze(-1))
        beta = torch.exp(self.beta.unsqueeze(0).unsqueeze(-1))
        return x + (1.0 / (beta + SNAKE_EPS)) * torch.pow(torch.sin(x * alpha), 2)


def filter_buffer(values: torch.Tensor) -> torch.Tensor:
    """A fresh buffer on the current default device (meta while the loader builds) holding `values`."""
    buf = torch.empty(values.shape, dtype=values.dtype)
    with torch.no_grad():
        buf.copy_(values)
    return buf


@lru_cache(maxsize=8)
def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """(1, 1, K) normalised kaiser-windowed sinc low-pass (BigVGAN construction), on CPU; do not modify."""
    even = kernel_size % 2 == 0
    half = kernel_size // 2
    delta_f = 4 * half_width
    a = 2.285 * (half - 1) * math.pi * delta_f + 7.95
    if a > 50.0:
        beta = 0.1102 * (a - 8.7)
    elif a >= 21.0:
        beta = 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False, device="cpu")
    time = (torch.arange(-half, half, device="cpu") + 0.5) if even else (torch.arange(kernel_size, device="cpu") - half)
    if cutoff == 0:
        h = torch.zeros_like(time)
    else:
        h = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
        h = h / h.sum()
    return h.view(1, 1, kernel_size)


def hann_sinc_filter(
    ratio: int, rolloff: float = HANN_ROLLOFF, lowpass_width: int = HANN_LOWPASS_WIDTH
) -> torch.Tensor:
    """(1, 1, K) Hann-windowed sinc for x`ratio` upsampling, float32, reference op order (spec §9.5)."""
    width = math.ceil(lowpass_width / rolloff)
    taps = 2 * width * ratio + 1
    tau = (torch.arange(taps, dtype=torch.float32) / ratio - width) * rolloff
    tau_c = tau.clamp(-lowpass_width, lowpass_width)
    window = torch.cos(tau_c * math.pi / lowpass_width / 2) ** 2
    h = torch.sinc(tau) * window * rolloff / ratio
    return h.view(1, 1, taps)


def _upsample(
    x: torch.Tensor, filt: torch.Tensor, ratio: int, pad: int, crop_left: int, crop_right: int
) -> torch.Tensor:
    channels = x.shape[1]
    x = F.pad(x, (pad, pad), mode="replicate")
    x = ratio * F.conv_transpose1d(x, filt.to(x.dtype).expand(channels, -1, -1), stride=ratio, groups=channels)
    return x[..., crop_left:-crop_right]


class UpSample1d(nn.Module):
    """x`ratio` upsampling with the stored kaiser-sinc `filter`: L → ratio·L."""

    def __init__(self, ratio: int = 2) -> None:
        super().__init__()
        self.ratio = ratio
        self.kernel_size = int(KAISER_TAPS_PER_RATIO * ratio // 2) * 2
        self.pad = self.kernel_size // ratio - 1
        self.crop_left = self.pad * ratio + (self.kernel_size - ratio) // 2
        self.crop_right = self.pad * ratio + (self.kernel_size - ratio + 1) // 2
        self.register_buffer("filter", filter_buffer(kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, self.kernel_size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _upsample(x, self.filter, self.ratio, self.pad, self.crop_left, self.crop_right)


class LowPassFilter1d(nn.Module):
    """Depthwise kaiser-sinc low-pass with replicate padding, strided by `stride`."""

    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int) -> None:
        super().__init__()
        even = kernel_size % 2 == 0
        self.pad_left = kernel_size // 2 - int(even)
        self.pad_right = kernel_size // 2
        self.stride = stride
        self.register_buffer("filter", filter_buffer(kaiser_sinc_filter(cutoff, half_width, kernel_size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.to(x.dtype).expand(channels, -1, -1), stride=self.stride, groups=channels)


class DownSample1d(nn.Module):
    """÷`ratio` downsampling: 2L → L."""

    def __init__(self, ratio: int = 2) -> None:
        super().__init__()
        kernel_size = int(KAISER_TAPS_PER_RATIO * ratio // 2) * 2
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, ratio, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class Activation1d(nn.Module):
    """Anti-aliased activation: upsample x2, activate, low-pass and downsample x2 (length preserved)."""

    def __init__(self, activation: nn.Module, up_ratio: int = 2, down_ratio: int = 2) -> None:
        super().__init__()
        self.act = activation
        self.upsample = UpSample1d(up_ratio)
        self.downsample = DownSample1d(down_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


class HannSincUpsample(nn.Module):
    """x`ratio` band-limited upsampling whose filter is computed, not loaded (the BWE skip path).

    Holds no buffer (the checkpoint has none); the float32 filter is built on first use per device.
    """

    def __init__(self, ratio: int) -> None:
        super().__init__()
        self.ratio = ratio
        width = math.ceil(HANN_LOWPASS_WIDTH / HANN_ROLLOFF)
        self.kernel_size = 2 * width * ratio + 1
        self.pad = width
        self.crop_left = 2 * width * ratio
        self.crop_right = self.kernel_size - ratio
        self._filters: dict[torch.device, torch.Tensor] = {}

    def filter_for(self, device: torch.device) -> torch.Tensor:
        if device not in self._filters:
            self._filters[device] = hann_sinc_filter(self.ratio).to(device)
        return self._filters[device]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _upsample(x, self.filter_for(x.device), self.ratio, self.pad, self.crop_left, self.crop_right)
