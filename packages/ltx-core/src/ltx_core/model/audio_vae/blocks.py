"""Audio VAE building blocks on (B, C, T, F) spectrogram features (spec §4).

Dim 2 is time, dim 3 is frequency. With the released `causality_axis: "height"` every 3x3 conv sees two past
frames and no future one, so the encoder/decoder are causal in time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ltx_core.model.audio_vae.config import AudioVAEConfig

PIXEL_NORM_EPS = 1e-6
GROUP_NORM_GROUPS = 32


def causal_padding(kernel: tuple[int, int], dilation: tuple[int, int], axis: str) -> tuple[int, int, int, int]:
    """F.pad order (freq left, freq right, time past, time future) for a conv of this kernel on `axis`."""
    pad_h = (kernel[0] - 1) * dilation[0]
    pad_w = (kernel[1] - 1) * dilation[1]
    if axis == "height":
        return (pad_w // 2, pad_w - pad_w // 2, pad_h, 0)
    if axis in ("width", "width-compatibility"):
        return (pad_w, 0, pad_h // 2, pad_h - pad_h // 2)
    return (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)


class CausalConv2d(nn.Module):
    """Zero padding that never looks ahead along the causal axis, then an unpadded conv named `conv`."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, causality_axis: str, stride: int = 1) -> None:
        super().__init__()
        self.padding = causal_padding((kernel_size, kernel_size), (1, 1), causality_axis)
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


class PixelNorm(nn.Module):
    """x / sqrt(mean_C(x²) + eps) per (t, f) location; no parameters."""

    def __init__(self, dim: int = 1, eps: float = PIXEL_NORM_EPS) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.mean(x**2, dim=self.dim, keepdim=True) + self.eps)


def make_norm(channels: int, norm_type: str) -> nn.Module:
    if norm_type == "group":
        return nn.GroupNorm(GROUP_NORM_GROUPS, channels, eps=1e-6, affine=True)
    return PixelNorm(dim=1, eps=PIXEL_NORM_EPS)


class ResnetBlock(nn.Module):
    """Pre-activation residual block (no timestep embedding); 1x1 `nin_shortcut` when the width changes."""

    def __init__(self, in_ch: int, out_ch: int, cfg: AudioVAEConfig) -> None:
        super().__init__()
        axis = cfg.causality_axis
        self.norm1 = make_norm(in_ch, cfg.norm_type)
        self.conv1 = CausalConv2d(in_ch, out_ch, 3, axis)
        self.norm2 = make_norm(out_ch, cfg.norm_type)
        self.dropout = nn.Dropout(cfg.dropout)
        self.conv2 = CausalConv2d(out_ch, out_ch, 3, axis)
        self.nin_shortcut = CausalConv2d(in_ch, out_ch, 1, axis) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


_DOWNSAMPLE_PAD = {
    "height": (0, 1, 2, 0),
    "width": (2, 0, 0, 1),
    "width-compatibility": (1, 0, 0, 1),
    "none": (0, 1, 0, 1),
}


class Downsample(nn.Module):
    """Stride-2 3x3 conv (a plain Conv2d named `conv`) after causal zero padding: T → ⌈T/2⌉, F → F/2."""

    def __init__(self, channels: int, cfg: AudioVAEConfig) -> None:
        super().__init__()
        self.padding = _DOWNSAMPLE_PAD[cfg.causality_axis]
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0) if cfg.resamp_with_conv else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is None:
            return F.avg_pool2d(x, kernel_size=2, stride=2)
        return self.conv(F.pad(x, self.padding))


class Upsample(nn.Module):
    """Nearest x2 on both axes, causal 3x3 conv, then drop the first row of the causal axis (T → 2T − 1)."""

    def __init__(self, channels: int, cfg: AudioVAEConfig) -> None:
        super().__init__()
        self.causality_axis = cfg.causality_axis
        self.conv = CausalConv2d(channels, channels, 3, cfg.causality_axis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        if self.causality_axis == "height":
            return x[:, :, 1:, :]
        if self.causality_axis == "width":
            return x[:, :, :, 1:]
        return x


class AttnBlock(nn.Module):
    """Single-head self-attention over all (t, f) positions (not used by the released checkpoints)."""

    def __init__(self, channels: int, cfg: AudioVAEConfig) -> None:
        super().__init__()
        self.norm = make_norm(channels, cfg.norm_type)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, t, f = h.shape
        q = rearrange(self.q(h), "b c t f -> b (t f) c")
        k = rearrange(self.k(h), "b c t f -> b c (t f)")
        v = rearrange(self.v(h), "b c t f -> b c (t f)")
        weights = torch.softmax(torch.bmm(q, k) * (int(c) ** (-0.5)), dim=2)
        out = torch.bmm(v, weights.permute(0, 2, 1))
        return x + self.proj_out(out.reshape(b, c, t, f))


def make_attention(channels: int, cfg: AudioVAEConfig) -> nn.Module:
    return AttnBlock(channels, cfg) if cfg.attn_type == "vanilla" else nn.Identity()


class PerChannelStatistics(nn.Module):
    """Latent mean/std per flattened (channel, freq) feature; buffer names are the checkpoint's (with hyphens)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.register_buffer("std-of-means", torch.rand(features).add_(0.5))
        self.register_buffer("mean-of-means", torch.randn(features).mul_(0.1))

    @property
    def std(self) -> torch.Tensor:
        return getattr(self, "std-of-means")

    @property
    def mean(self) -> torch.Tensor:
        return getattr(self, "mean-of-means")

    def normalize(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, C, T, F) raw latent → normalised; stats are cast to the latent's dtype first."""
        c = latent.shape[1]
        x = rearrange(latent, "b c t f -> b t (c f)")
        x = (x - self.mean.to(x)) / self.std.to(x)
        return rearrange(x, "b t (c f) -> b c t f", c=c)

    def un_normalize(self, latent: torch.Tensor) -> torch.Tensor:
        c = latent.shape[1]
        x = rearrange(latent, "b c t f -> b t (c f)")
        x = x * self.std.to(x) + self.mean.to(x)
        return rearrange(x, "b t (c f) -> b c t f", c=c)
