"""x0 ↔ velocity conversions and the frozen-token blend (flow convention x_σ = (1 − σ)·x0 + σ·noise).

The conversions live with the transformer's X0 wrapper; they are re-exported here for the samplers.
"""

from __future__ import annotations

import torch

from ltx_core.model.transformer.x0 import to_denoised, to_velocity

__all__ = ["post_process_latent", "to_denoised", "to_velocity"]


def post_process_latent(denoised: torch.Tensor, denoise_mask: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Pull masked tokens back to their clean value: x0·m + clean·(1 − m), in the denoised dtype."""
    return (denoised * denoise_mask + clean.float() * (1 - denoise_mask)).to(denoised.dtype)
