"""Latent ↔ token layouts and the exact [start, end) token positions the transformer's RoPE consumes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange

from ltx_core.types import (
    DEFAULT_AUDIO_HOP_LENGTH,
    DEFAULT_AUDIO_LATENT_DOWNSAMPLE,
    DEFAULT_AUDIO_SAMPLE_RATE,
    VIDEO_SCALE_FACTORS,
    AudioLatentShape,
    SpatioTemporalScaleFactors,
    VideoLatentShape,
)


@dataclass(frozen=True)
class VideoLatentPatchifier:
    """(B, C, F, H·p, W·p) ↔ (B, F·H·W, C·p·p); tokens frame-major, then row, then column."""

    patch_size: int = 1

    def patchify(self, latent: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        return rearrange(latent, "b c f (h p2) (w p3) -> b (f h w) (c p2 p3)", p2=p, p3=p)

    def unpatchify(self, tokens: torch.Tensor, shape: VideoLatentShape) -> torch.Tensor:
        p = self.patch_size
        return rearrange(
            tokens,
            "b (f h w) (c p2 p3) -> b c f (h p2) (w p3)",
            f=shape.frames,
            h=shape.height // p,
            w=shape.width // p,
            p2=p,
            p3=p,
        )

    def get_token_count(self, shape: VideoLatentShape) -> int:
        return shape.frames * shape.height * shape.width // (self.patch_size * self.patch_size)

    def get_patch_grid_bounds(self, shape: VideoLatentShape, device: torch.device | str | None = None) -> torch.Tensor:
        """int64 [B, 3, T, 2]: per token the latent-unit [start, end) along (frame, height, width)."""
        if not isinstance(shape, VideoLatentShape):
            raise ValueError(f"video patchifier needs a VideoLatentShape, got {type(shape).__name__}")
        p = self.patch_size
        f = torch.arange(0, shape.frames, 1, device=device)
        h = torch.arange(0, shape.height, p, device=device)
        w = torch.arange(0, shape.width, p, device=device)
        grid = torch.stack(torch.meshgrid(f, h, w, indexing="ij"), dim=0)  # [3, F, H, W]
        starts = grid.reshape(3, -1)
        sizes = torch.tensor([1, p, p], device=device).view(3, 1)
        bounds = torch.stack([starts, starts + sizes], dim=-1)  # [3, T, 2]
        return bounds.unsqueeze(0).expand(shape.batch, -1, -1, -1).clone()


def get_pixel_coords(
    latent_coords: torch.Tensor,
    scale_factors: SpatioTemporalScaleFactors = VIDEO_SCALE_FACTORS,
    causal_fix: bool = False,
) -> torch.Tensor:
    """Latent-unit bounds [B, 3, T, 2] → pixel bounds; the causal fix maps latent frame f to [8f−7, 8f+1) (f≥1)."""
    scale = torch.tensor(scale_factors.as_tuple(), device=latent_coords.device).view(1, 3, 1, 1)
    pixel = latent_coords * scale
    if causal_fix:
        pixel[:, 0, ...] = (pixel[:, 0, ...] + 1 - scale_factors.time).clamp(min=0)
    return pixel


def video_positions(
    bounds: torch.Tensor,
    frame_rate: float,
    scale_factors: SpatioTemporalScaleFactors = VIDEO_SCALE_FACTORS,
    causal_fix: bool = True,
) -> torch.Tensor:
    """float32 [B, 3, T, 2]: time in seconds, height/width in pixels."""
    positions = get_pixel_coords(bounds, scale_factors, causal_fix).float()
    positions[:, 0, ...] = positions[:, 0, ...] / frame_rate
    return positions


@dataclass(frozen=True)
class AudioPatchifier:
    """(B, C, T, M) ↔ (B, T, C·M) channel-major; positions are seconds of the mel frames behind each latent."""

    patch_size: int = 1  # carried for parity with the official signature; unused by (un)patchify
    sample_rate: int = DEFAULT_AUDIO_SAMPLE_RATE
    hop_length: int = DEFAULT_AUDIO_HOP_LENGTH
    audio_latent_downsample_factor: int = DEFAULT_AUDIO_LATENT_DOWNSAMPLE
    is_causal: bool = True
    shift: int = 0

    def patchify(self, latent: torch.Tensor) -> torch.Tensor:
        return rearrange(latent, "b c t m -> b t (c m)")

    def unpatchify(self, tokens: torch.Tensor, shape: AudioLatentShape) -> torch.Tensor:
        return rearrange(tokens, "b t (c m) -> b c t m", c=shape.channels, m=shape.mel_bins)

    def get_token_count(self, shape: AudioLatentShape) -> int:
        return shape.frames

    def _latent_time_in_sec(self, start: int, end: int, device: torch.device | str | None) -> torch.Tensor:
        latent_frame = torch.arange(start, end, dtype=torch.float32, device=device)
        mel_frame = latent_frame * self.audio_latent_downsample_factor
        if self.is_causal:
            mel_frame = (mel_frame + 1 - self.audio_latent_downsample_factor).clip(min=0)
        return mel_frame * self.hop_length / self.sample_rate

    def get_patch_grid_bounds(self, shape: AudioLatentShape, device: torch.device | str | None = None) -> torch.Tensor:
        """float32 [B, 1, T, 2]: [start, end) seconds of each latent frame."""
        if not isinstance(shape, AudioLatentShape):
            raise ValueError(f"audio patchifier needs an AudioLatentShape, got {type(shape).__name__}")
        start = self._latent_time_in_sec(self.shift, shape.frames + self.shift, device)
        end = self._latent_time_in_sec(self.shift + 1, shape.frames + self.shift + 1, device)
        bounds = torch.stack([start, end], dim=-1)  # [T, 2]
        return bounds.view(1, 1, shape.frames, 2).expand(shape.batch, 1, -1, -1).clone()
