"""Latent upsampler network (official `LatentUpsampler`): conv stem, res blocks, an upsampling module, res blocks,
conv head. Works on *un-normalised* latents; see `apply.upsample_video` for the normalisation wrapper.

All convs are kernel 3 with zero padding in every dim, time included (unlike the causal VAE convs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ltx_core.model.upsampler.config import RATIONAL_SCALES, UpsamplerConfig


def _conv(dims: int, cin: int, cout: int) -> nn.Module:
    return (nn.Conv3d if dims == 3 else nn.Conv2d)(cin, cout, kernel_size=3, padding=1)


class ResBlock(nn.Module):
    """conv → GN → SiLU → conv → GN, then SiLU *after* the residual add."""

    def __init__(self, channels: int, dims: int) -> None:
        super().__init__()
        self.conv1 = _conv(dims, channels, channels)
        self.norm1 = nn.GroupNorm(32, channels, eps=1e-5)
        self.conv2 = _conv(dims, channels, channels)
        self.norm2 = nn.GroupNorm(32, channels, eps=1e-5)
        self.activation = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.activation(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return self.activation(h + x)


class PixelShuffleND(nn.Module):
    """Channel → (time, height, width) offsets, offsets fastest-last. dims 3: (2,2,2); 2: (a,b) on H,W; 1: time."""

    def __init__(self, dims: int, factors: tuple[int, ...] = (2, 2, 2)) -> None:
        super().__init__()
        if dims not in (1, 2, 3):
            raise ValueError(f"pixel shuffle dims {dims} is invalid; use 1, 2 or 3")
        self.dims = dims
        self.factors = factors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dims == 3:
            p1, p2, p3 = self.factors[:3]
            return rearrange(x, "b (c p1 p2 p3) f h w -> b c (f p1) (h p2) (w p3)", p1=p1, p2=p2, p3=p3)
        if self.dims == 2:
            p1, p2 = self.factors[:2]
            return rearrange(x, "b (c p1 p2) h w -> b c (h p1) (w p2)", p1=p1, p2=p2)
        return rearrange(x, "b (c p1) f h w -> b c (f p1) h w", p1=self.factors[0])


class BlurDownsample(nn.Module):
    """Depthwise 5×5 binomial blur with stride d (identity for d = 1); the kernel is a stored buffer."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride
        row = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
        kernel = torch.outer(row, row)
        self.register_buffer("kernel", (kernel / kernel.sum())[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x
        c = x.shape[1]
        weight = self.kernel.to(dtype=x.dtype, device=x.device).expand(c, 1, -1, -1)
        return F.conv2d(x, weight, stride=self.stride, padding=2, groups=c)


class RationalResampler(nn.Module):
    """Per frame: conv to n²·C, pixel shuffle ×n, blur-downsample ÷d → scale n/d."""

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        self.up, self.down = RATIONAL_SCALES[scale]
        self.conv = nn.Conv2d(channels, self.up**2 * channels, kernel_size=3, padding=1)
        self.pixel_shuffle = PixelShuffleND(2, (self.up, self.up))
        self.blur_down = BlurDownsample(self.down)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        x = rearrange(x, "b c f h w -> (b f) c h w")
        x = self.blur_down(self.pixel_shuffle(self.conv(x)))
        return rearrange(x, "(b f) c h w -> b c f h w", b=b)


def _upsampler(cfg: UpsamplerConfig) -> nn.Module:
    mid = cfg.mid_channels
    variant = cfg.variant
    if variant == "spatiotemporal":
        return nn.Sequential(nn.Conv3d(mid, 8 * mid, 3, padding=1), PixelShuffleND(3))
    if variant == "rational":
        return RationalResampler(mid, cfg.spatial_scale)
    if variant == "spatial":
        return nn.Sequential(nn.Conv2d(mid, 4 * mid, 3, padding=1), PixelShuffleND(2, (2, 2)))
    return nn.Sequential(nn.Conv3d(mid, 2 * mid, 3, padding=1), PixelShuffleND(1, (2,)))


class LatentUpsampler(nn.Module):
    def __init__(self, config: UpsamplerConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        mid, dims = cfg.mid_channels, cfg.dims
        self.initial_conv = _conv(dims, cfg.in_channels, mid)
        self.initial_norm = nn.GroupNorm(32, mid, eps=1e-5)
        self.initial_activation = nn.SiLU()
        self.res_blocks = nn.ModuleList(ResBlock(mid, dims) for _ in range(cfg.num_blocks_per_stage))
        self.upsampler = _upsampler(cfg)
        self.post_upsample_res_blocks = nn.ModuleList(ResBlock(mid, dims) for _ in range(cfg.num_blocks_per_stage))
        self.final_conv = _conv(dims, mid, cfg.in_channels)

    def _trunk(self, x: torch.Tensor, blocks: nn.ModuleList) -> torch.Tensor:
        for block in blocks:
            x = block(x)
        return x

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) → x2: (B, C, F, 2H, 2W); x1.5: ceil(1.5·H/W); temporal x2: (B, C, 2F−1, H, W)."""
        if self.config.dims == 2:
            b = latent.shape[0]
            x = rearrange(latent, "b c f h w -> (b f) c h w")
            x = self.initial_activation(self.initial_norm(self.initial_conv(x)))
            x = self._trunk(x, self.res_blocks)
            x = self.upsampler(x)
            x = self._trunk(x, self.post_upsample_res_blocks)
            return rearrange(self.final_conv(x), "(b f) c h w -> b c f h w", b=b)
        x = self.initial_activation(self.initial_norm(self.initial_conv(latent)))
        x = self._trunk(x, self.res_blocks)
        variant = self.config.variant
        if variant in ("spatiotemporal", "temporal"):
            x = self.upsampler(x)[:, :, 1:]
        elif variant == "rational":
            x = self.upsampler(x)
        else:
            b = x.shape[0]
            x = rearrange(x, "b c f h w -> (b f) c h w")
            x = rearrange(self.upsampler(x), "(b f) c h w -> b c f h w", b=b)
        x = self._trunk(x, self.post_upsample_res_blocks)
        return self.final_conv(x)
