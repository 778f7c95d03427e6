"""Keyframe guiding latents: clean image/video tokens appended after the generated grid at a pixel-frame time."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ltx_core.components.latent_tools import VideoLatentTools
from ltx_core.components.patchifiers import get_pixel_coords
from ltx_core.conditioning.mask_utils import append_tokens, update_attention_mask
from ltx_core.types import LatentState, VideoLatentShape


@dataclass(frozen=True)
class VideoConditionByKeyframeIndex:
    keyframes: torch.Tensor  # (B, C, F_k, H_k, W_k)
    frame_idx: int  # pixel frame index
    strength: float
    num_pixel_frames: int = 1

    def apply_to(self, latent_state: LatentState, latent_tools: VideoLatentTools) -> LatentState:
        tokens = latent_tools.patchifier.patchify(self.keyframes)
        shape = VideoLatentShape.from_torch_shape(self.keyframes.shape)
        bounds = latent_tools.patchifier.get_patch_grid_bounds(shape, device=self.keyframes.device)
        causal_fix = latent_tools.causal_fix if self.frame_idx == 0 else False
        pixel = get_pixel_coords(bounds, latent_tools.scale_factors, causal_fix)
        pixel[:, 0, ...] += self.frame_idx
        if self.num_pixel_frames == 1:
            pixel[:, 0, :, 1] = pixel[:, 0, :, 0] + 1
        positions = pixel.float()
        positions[:, 0, ...] = positions[:, 0, ...] / latent_tools.frame_rate

        b, n = tokens.shape[0], tokens.shape[1]
        mask = torch.full((b, n, 1), 1.0 - self.strength, device=tokens.device, dtype=self.keyframes.dtype)
        attention = update_attention_mask(
            latent_state,
            None,
            latent_tools.target_shape.token_count(),
            n,
            b,
            tokens.device,
            self.keyframes.dtype,
        )
        return append_tokens(latent_state, tokens, mask, positions.to(latent_state.positions.device), attention)
