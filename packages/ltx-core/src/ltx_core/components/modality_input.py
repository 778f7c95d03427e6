"""Turning a diffusion state into the transformer's per-stream input record."""

from __future__ import annotations

import torch

from ltx_core.model.transformer.modality import Modality
from ltx_core.types import LatentState


def timesteps_from_mask(denoise_mask: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Per-token σ = mask·σ ([B, T, 1]); a 1-D σ is one value per batch row."""
    if isinstance(sigma, torch.Tensor) and sigma.dim() == 1:
        sigma = sigma.view(-1, *([1] * (denoise_mask.dim() - 1)))
    return denoise_mask * sigma


def modality_from_latent_state(
    state: LatentState, context: torch.Tensor, sigma: torch.Tensor, enabled: bool = True
) -> Modality:
    return Modality(
        latent=state.latent,
        sigma=sigma,
        timesteps=timesteps_from_mask(state.denoise_mask, sigma),
        positions=state.positions,
        context=context,
        enabled=enabled,
        context_mask=None,
        attention_mask=state.attention_mask,
        keyframes_mask=state.keyframes_mask,
    )
