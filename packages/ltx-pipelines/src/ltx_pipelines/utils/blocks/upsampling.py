"""x2 latent upsampling of the video between the stages of a two-stage flow."""

from __future__ import annotations

import torch
from torch import nn

from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, ModelBlock


class VideoUpsampler(ModelBlock):
    """x2 latent upsampling: the VAE's per-channel statistics and the upsampler, built together, freed together."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        upsampler_path: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(checkpoint, dtype=dtype, device=device)
        self.upsampler_path = upsampler_path

    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        from ltx_core.model.upsampler import load_upsampler, upsample_video
        from ltx_core.model.video_vae import load_per_channel_statistics

        def build() -> tuple[nn.Module, nn.Module]:
            stats = load_per_channel_statistics(self.checkpoint, dtype=self.dtype, device=self.device)
            return stats, load_upsampler(self.upsampler_path, dtype=self.dtype, device=self.device)

        with self.models.use(build) as (stats, upsampler):
            return upsample_video(latent, upsampler, stats)  # type: ignore[arg-type]
