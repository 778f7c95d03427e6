"""Applying an upsampler to a normalised latent: the network was trained on un-normalised VAE latents."""

from __future__ import annotations

import torch

from ltx_core.model.upsampler.model import LatentUpsampler
from ltx_core.model.video_vae.layers import PerChannelStatistics


def upsample_video(
    latent: torch.Tensor, upsampler: LatentUpsampler, per_channel_statistics: PerChannelStatistics
) -> torch.Tensor:
    """un-normalise with the video VAE statistics → upsample → normalise again (official `upsample_video`).

    The latent is moved to the upsampler's device/dtype; statistics are cast to that dtype.
    """
    param = next(upsampler.parameters())
    x = latent.to(device=param.device, dtype=param.dtype)
    with torch.no_grad():
        x = per_channel_statistics.un_normalize(x)
        x = upsampler(x)
        return per_channel_statistics.normalize(x)
