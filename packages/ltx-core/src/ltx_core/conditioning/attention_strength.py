"""Give an appended conditioning group a custom attention weight to/from the generated tokens."""

from __future__ import annotations

from dataclasses import dataclass

from ltx_core.components.latent_tools import LatentTools
from ltx_core.components.noisers import ConditioningItem
from ltx_core.conditioning.mask_utils import AttentionMaskValue, update_attention_mask
from ltx_core.types import LatentState


@dataclass(frozen=True)
class ConditioningItemAttentionStrengthWrapper:
    conditioning: ConditioningItem
    attention_mask: AttentionMaskValue  # scalar, (M,), (1, M) or (B, M) in [0, 1]

    def apply_to(self, latent_state: LatentState, latent_tools: LatentTools) -> LatentState:
        new_state = self.conditioning.apply_to(latent_state, latent_tools)
        added = new_state.latent.shape[1] - latent_state.latent.shape[1]
        if added == 0:
            return new_state
        mask = update_attention_mask(
            latent_state,
            self.attention_mask,
            latent_tools.target_shape.token_count(),
            added,
            new_state.latent.shape[0],
            new_state.latent.device,
            new_state.latent.dtype,
        )
        return new_state.with_(attention_mask=mask)
