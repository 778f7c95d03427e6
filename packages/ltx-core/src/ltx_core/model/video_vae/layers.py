"""Building blocks of the video VAE, with the official module names (they are the checkpoint key paths)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ltx_core.model.video_vae.ops import depth_to_space, pixel_norm, replicate_pad_time, space_to_depth


class CausalConv3d(nn.Module):
    """3-D conv that pads space itself (with the configured mode) and time by repeating edge frames.

    causal=True repeats frame 0 `k-1` times in front; causal=False repeats each end `(k-1)//2` times.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int | tuple[int, int, int] = 1,
        spatial_padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(0, kernel_size // 2, kernel_size // 2),
            padding_mode=spatial_padding_mode,
        )

    def time_pad(self, causal: bool) -> tuple[int, int]:
        k = self.kernel_size
        return (k - 1, 0) if causal else ((k - 1) // 2, (k - 1) // 2)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        return self.conv(replicate_pad_time(x, *self.time_pad(causal)))


class PixelNorm(nn.Module):
    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x, self.eps)


def make_norm(norm_layer: str, channels: int, eps: float = 1e-6, groups: int = 32) -> nn.Module:
    if norm_layer == "group_norm":
        return nn.GroupNorm(groups, channels, eps=eps, affine=True)
    return PixelNorm()


def timestep_sinusoid(t: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """[cos, sin] projection (cos first), float32, frequencies exp(−ln(10000)·i/half)."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    arg = t.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class CombinedTimestepEmbedder(nn.Module):
    """Official `PixArtAlphaCombinedTimestepSizeEmbeddings` with no size embedding: sinusoid → MLP."""

    def __init__(self, dim: int, proj_dim: int = 256) -> None:
        super().__init__()
        self.proj_dim = proj_dim
        self.timestep_embedder = TimestepEmbedding(proj_dim, dim)

    def forward(self, t: torch.Tensor, hidden_dtype: torch.dtype) -> torch.Tensor:
        return self.timestep_embedder(timestep_sinusoid(t, self.proj_dim).to(hidden_dtype))


def _spatial_noise(h: torch.Tensor, scale: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One (H, W) N(0,1) draw shared by all frames and batch items, scaled per channel → (1, C, 1, H, W)."""
    noise = torch.randn(h.shape[-2:], generator=generator, dtype=h.dtype, device=h.device)[None]
    return (noise * scale.to(h.dtype))[None, :, None]


class ResnetBlock3D(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        *,
        eps: float = 1e-6,
        groups: int = 32,
        norm_layer: str = "pixel_norm",
        inject_noise: bool = False,
        timestep_conditioning: bool = False,
        spatial_padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.inject_noise = inject_noise
        self.timestep_conditioning = timestep_conditioning
        self.norm1 = make_norm(norm_layer, in_channels, eps, groups)
        self.non_linearity = nn.SiLU()
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, spatial_padding_mode=spatial_padding_mode)
        if inject_noise:
            self.per_channel_scale1 = nn.Parameter(torch.zeros(in_channels, 1, 1))
        self.norm2 = make_norm(norm_layer, out_channels, eps, groups)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, spatial_padding_mode=spatial_padding_mode)
        if inject_noise:
            self.per_channel_scale2 = nn.Parameter(torch.zeros(in_channels, 1, 1))
        if in_channels != out_channels:
            self.norm3 = nn.GroupNorm(1, in_channels, eps=eps, affine=True)
            self.conv_shortcut = nn.Conv3d(in_channels, out_channels, 1)
        if timestep_conditioning:
            self.scale_shift_table = nn.Parameter(torch.randn(4, in_channels).div_(in_channels**0.5))

    def modulation(self, h: torch.Tensor, timestep_emb: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """(shift1, scale1, shift2, scale2), each (B, C, 1, 1, 1)."""
        if timestep_emb is None:
            raise ValueError("timestep-conditioned ResnetBlock3D needs a timestep embedding")
        b = h.shape[0]
        table = self.scale_shift_table.to(device=h.device, dtype=h.dtype)[None, :, :, None, None, None]
        ada = table + timestep_emb.reshape(b, 4, self.in_channels, 1, 1, 1)
        return tuple(ada.unbind(dim=1))

    def forward(
        self,
        x: torch.Tensor,
        causal: bool = True,
        timestep_emb: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        h = self.norm1(x)
        if self.timestep_conditioning:
            shift1, scale1, shift2, scale2 = self.modulation(h, timestep_emb)
            h = h * (1 + scale1) + shift1
        h = self.non_linearity(h)
        h = self.conv1(h, causal)
        if self.inject_noise:
            h = h + _spatial_noise(h, self.per_channel_scale1, generator)
        h = self.norm2(h)
        if self.timestep_conditioning:
            h = h * (1 + scale2) + shift2
        h = self.non_linearity(h)
        h = self.conv2(h, causal)
        if self.inject_noise:
            h = h + _spatial_noise(h, self.per_channel_scale2, generator)
        if self.in_channels != self.out_channels:
            x = self.conv_shortcut(self.norm3(x))
        return x + h


class UNetMidBlock3D(nn.Module):
    """The `res_x` block: `num_layers` same-width res blocks, optionally timestep-conditioned."""

    def __init__(
        self,
        channels: int,
        num_layers: int,
        *,
        norm_layer: str = "pixel_norm",
        inject_noise: bool = False,
        timestep_conditioning: bool = False,
        spatial_padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.time_embedder = CombinedTimestepEmbedder(4 * channels)
        self.res_blocks = nn.ModuleList(
            ResnetBlock3D(
                channels,
                channels,
                norm_layer=norm_layer,
                inject_noise=inject_noise,
                timestep_conditioning=timestep_conditioning,
                spatial_padding_mode=spatial_padding_mode,
            )
            for _ in range(num_layers)
        )

    def embed(self, x: torch.Tensor, timestep: torch.Tensor | None) -> torch.Tensor | None:
        if not self.timestep_conditioning:
            return None
        if timestep is None:
            raise ValueError("timestep-conditioned res_x block needs a timestep")
        emb = self.time_embedder(timestep.flatten(), hidden_dtype=x.dtype)
        return emb.view(x.shape[0], -1, 1, 1, 1)

    def forward(
        self,
        x: torch.Tensor,
        causal: bool = True,
        timestep: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        emb = self.embed(x, timestep)
        for block in self.res_blocks:
            x = block(x, causal, emb, generator)
        return x


class SpaceToDepthDownsample(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], mode: str) -> None:
        super().__init__()
        self.stride = stride
        self.factor = stride[0] * stride[1] * stride[2]
        self.group_size = in_channels * self.factor // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // self.factor, 3, spatial_padding_mode=mode)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        if self.stride[0] == 2:
            x = torch.cat([x[:, :, :1], x], dim=2)
        skip = space_to_depth(x, self.stride)
        skip = rearrange(skip, "b (c g) f h w -> b c g f h w", g=self.group_size).mean(dim=2)
        h = space_to_depth(self.conv(x, causal), self.stride)
        return h + skip


class DepthToSpaceUpsample(nn.Module):
    def __init__(
        self,
        in_channels: int,
        stride: tuple[int, int, int],
        *,
        residual: bool = False,
        reduction: int = 1,
        spatial_padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.stride = stride
        self.factor = stride[0] * stride[1] * stride[2]
        self.residual = residual
        self.reduction = reduction
        self.conv = CausalConv3d(
            in_channels, self.factor * in_channels // reduction, 3, spatial_padding_mode=spatial_padding_mode
        )

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Residual path: depth-to-space, tile the channel block P/r times, drop the first frame if F doubled."""
        x_in = depth_to_space(x, self.stride).repeat(1, self.factor // self.reduction, 1, 1, 1)
        return x_in[:, :, 1:] if self.stride[0] == 2 else x_in

    def finish(self, y: torch.Tensor) -> torch.Tensor:
        """Conv output → depth-to-space, first frame dropped after a temporal ×2."""
        y = depth_to_space(y, self.stride)
        return y[:, :, 1:] if self.stride[0] == 2 else y

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        x_in = self.shortcut(x) if self.residual else None
        y = self.finish(self.conv(x, causal))
        return y if x_in is None else y + x_in


class PerChannelStatistics(nn.Module):
    """Latent mean/std per channel. Buffer names carry hyphens, exactly as stored in the checkpoint."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("std-of-means", torch.ones(channels))
        self.register_buffer("mean-of-means", torch.zeros(channels))

    @property
    def std(self) -> torch.Tensor:
        return getattr(self, "std-of-means")

    @property
    def mean(self) -> torch.Tensor:
        return getattr(self, "mean-of-means")

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (
            self.std.to(device=x.device, dtype=x.dtype).view(shape),
            self.mean.to(device=x.device, dtype=x.dtype).view(shape),
        )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        std, mean = self._stats(x)
        return (x - mean) / std

    def un_normalize(self, x: torch.Tensor) -> torch.Tensor:
        std, mean = self._stats(x)
        return x * std + mean
