"""x2 latent upsampling of the video between the stages of a two-stage flow."""

from __future__ import annotations

import torch
from torch import nn

from ltx_core.loader.sources import model_source
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
        self.upsampler_source = model_source(upsampler_path)

    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        from ltx_core.model.upsampler import upsample_video

        def build() -> tuple[nn.Module, nn.Module]:
            stats = self._build("per_channel_statistics")
            return stats, self.upsampler_source.build("upsampler", dtype=self.dtype, device=self.device)

        with self.models.use(build) as (stats, upsampler):
            return upsample_video(latent, upsampler, stats)  # type: ignore[arg-type]
