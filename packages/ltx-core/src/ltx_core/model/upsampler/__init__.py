"""Latent upsamplers (spatial x2, rational x1.5, temporal x2) applied between the two stages of a pipeline."""

from ltx_core.model.upsampler.apply import upsample_video
from ltx_core.model.upsampler.config import UpsamplerConfig
from ltx_core.model.upsampler.loading import (
    UPSAMPLER_KEY_MAP,
    load_upsampler,
    upsampler_checkpoint_state_dict,
    upsampler_factory,
    upsampler_metadata,
)
from ltx_core.model.upsampler.model import LatentUpsampler

__all__ = [
    "UPSAMPLER_KEY_MAP",
    "LatentUpsampler",
    "UpsamplerConfig",
    "load_upsampler",
    "upsample_video",
    "upsampler_checkpoint_state_dict",
    "upsampler_factory",
    "upsampler_metadata",
]
