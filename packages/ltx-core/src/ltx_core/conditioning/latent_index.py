"""Replace the tokens of one latent frame range by an encoded conditioning latent (image-to-video at frame 0)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ltx_core.components.latent_tools import VideoLatentTools
from ltx_core.conditioning.errors import ConditioningError
from ltx_core.types import LatentState


@dataclass(frozen=True)
class VideoConditionByLatentIndex:
    latent: torch.Tensor  # (B, C, F_c, H, W)
    strength: float
    latent_idx: int

    def apply_to(self, latent_state: LatentState, latent_tools: VideoLatentTools) -> LatentState:
        target = latent_tools.target_shape
        b, c, f, h, w = self.latent.shape
        if (b, c, h, w) != (target.batch, target.channels, target.height, target.width):
            raise ConditioningError(
                f"conditioning latent (B, C, H, W) = {(b, c, h, w)} does not match the target "
                f"{(target.batch, target.channels, target.height, target.width)}"
            )
        if self.latent_idx < 0 or self.latent_idx + f > target.frames:
            raise ConditioningError(
                f"conditioning latent frames [{self.latent_idx}, {self.latent_idx + f}) fall outside the "
                f"{target.frames} latent frames"
            )
        tokens = latent_tools.patchifier.patchify(self.latent)
        start = self.latent_idx * h * w
        stop = start + tokens.shape[1]
        state = latent_state.clone()
        state.latent[:, start:stop] = tokens
        state.clean_latent[:, start:stop] = tokens
        state.denoise_mask[:, start:stop] = 1.0 - self.strength
        return state
