"""LipDub reference audio: pre-patchified tokens with caller-given (typically negative-time) positions."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ltx_core.components.latent_tools import AudioLatentTools
from ltx_core.components.patchifiers import AudioPatchifier
from ltx_core.conditioning.mask_utils import append_tokens, update_attention_mask
from ltx_core.types import AudioLatentShape, LatentState

# Gap between the end of the reference audio and t = 0 of the generated audio in RoPE time (seconds).
LIPDUB_REFERENCE_GAP_S = 0.04


@dataclass(frozen=True)
class AudioConditionByReferenceLatent:
    patchified: torch.Tensor  # (B, T_ref, C·M)
    positions: torch.Tensor  # (B, 1, T_ref, 2) seconds
    strength: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", self.positions.to(torch.float32))

    def apply_to(self, latent_state: LatentState, latent_tools: AudioLatentTools) -> LatentState:
        tokens = self.patchified
        b, n = tokens.shape[0], tokens.shape[1]
        mask = torch.full((b, n, 1), 1.0 - self.strength, device=tokens.device, dtype=tokens.dtype)
        attention = update_attention_mask(
            latent_state, None, latent_tools.target_shape.token_count(), n, b, tokens.device, tokens.dtype
        )
        return append_tokens(latent_state, tokens, mask, self.positions.to(latent_state.positions.device), attention)


def patchify_lipdub_audio_reference_latent(
    latent: torch.Tensor,
    patchifier: AudioPatchifier | None = None,
    negative_positions: bool = True,
) -> AudioConditionByReferenceLatent:
    """(B, C, T_ref, M) reference latent → item whose tokens end 0.04 s before t = 0 (when negative_positions)."""
    patchifier = patchifier or AudioPatchifier()
    shape = AudioLatentShape.from_torch_shape(latent.shape)
    tokens = patchifier.patchify(latent)
    positions = patchifier.get_patch_grid_bounds(shape, device=latent.device)
    if negative_positions:
        duration = positions[:, :, -1, 1].max()
        positions = positions - duration - LIPDUB_REFERENCE_GAP_S
    return AudioConditionByReferenceLatent(tokens, positions, strength=1.0)
