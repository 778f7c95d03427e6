"""Retake: regenerate only the tokens whose time span overlaps [start_time, end_time); keep the rest clean."""

from __future__ import annotations

from dataclasses import dataclass

from ltx_core.components.latent_tools import AudioLatentTools, LatentTools, VideoLatentTools
from ltx_core.components.patchifiers import get_pixel_coords
from ltx_core.types import LatentState


@dataclass(frozen=True)
class TemporalRegionMask:
    start_time: float
    end_time: float
    frame_rate: float

    def apply_to(self, latent_state: LatentState, latent_tools: LatentTools) -> LatentState:
        device = latent_state.denoise_mask.device
        if isinstance(latent_tools, VideoLatentTools):
            bounds = latent_tools.patchifier.get_patch_grid_bounds(latent_tools.target_shape, device=device)
            t = get_pixel_coords(bounds, latent_tools.scale_factors, latent_tools.causal_fix)[:, 0] / self.frame_rate
        elif isinstance(latent_tools, AudioLatentTools):
            t = latent_tools.patchifier.get_patch_grid_bounds(latent_tools.target_shape, device=device)[:, 0]
        else:
            raise ValueError(f"TemporalRegionMask supports video or audio latent tools, got {type(latent_tools)}")
        in_region = (t[..., 1] > self.start_time) & (t[..., 0] < self.end_time)  # [B, T]
        state = latent_state.clone()
        n = in_region.shape[1]
        state.denoise_mask[:, :n].copy_(in_region.unsqueeze(-1).to(state.denoise_mask.dtype))
        return state
