"""IC-LoRA reference video: its clean tokens are appended, mapped onto the target's pixel coordinate range."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ltx_core.components.latent_tools import VideoLatentTools
from ltx_core.components.patchifiers import video_positions
from ltx_core.conditioning.mask_utils import append_tokens, update_attention_mask
from ltx_core.types import LatentState, VideoLatentShape


@dataclass(frozen=True)
class VideoConditionByReferenceLatent:
    latent: torch.Tensor  # (B, C, F_r, H_r, W_r)
    downscale_factor: int = 1  # reference resolution = target / factor (IC-LoRA metadata)
    strength: float = 1.0

    def apply_to(self, latent_state: LatentState, latent_tools: VideoLatentTools) -> LatentState:
        tokens = latent_tools.patchifier.patchify(self.latent)
        shape = VideoLatentShape.from_torch_shape(self.latent.shape)
        bounds = latent_tools.patchifier.get_patch_grid_bounds(shape, device=self.latent.device)
        tools = latent_tools
        positions = video_positions(bounds, tools.frame_rate, tools.scale_factors, tools.causal_fix)
        if self.downscale_factor != 1:
            positions[:, 1:, ...] = positions[:, 1:, ...] * self.downscale_factor

        b, n = tokens.shape[0], tokens.shape[1]
        mask = torch.full((b, n, 1), 1.0 - self.strength, device=tokens.device, dtype=self.latent.dtype)
        attention = update_attention_mask(
            latent_state, None, latent_tools.target_shape.token_count(), n, b, tokens.device, self.latent.dtype
        )
        return append_tokens(latent_state, tokens, mask, positions.to(latent_state.positions.device), attention)
