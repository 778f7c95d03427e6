"""x0 ↔ velocity conversions and the frozen-token blend (flow convention x_σ = (1 − σ)·x0 + σ·noise)."""

from __future__ import annotations

import torch


def to_velocity(sample: torch.Tensor, sigma: float | torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """v = (x − x0) / σ in float32 with one scalar σ, rounded to the sample dtype."""
    if isinstance(sigma, torch.Tensor):
        sigma = sigma.to(torch.float32).item()
    if sigma == 0:
        raise ValueError("Sigma can't be 0.0")
    return ((sample.to(torch.float32) - denoised.to(torch.float32)) / sigma).to(sample.dtype)


def to_denoised(sample: torch.Tensor, velocity: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """x0 = x − v·σ in float32 (σ scalar or per-token [B, T, 1]), rounded to the sample dtype."""
    if isinstance(sigma, torch.Tensor):
        sigma = sigma.to(torch.float32)
    return (sample.to(torch.float32) - velocity.to(torch.float32) * sigma).to(sample.dtype)


def post_process_latent(denoised: torch.Tensor, denoise_mask: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Pull masked tokens back to their clean value: x0·m + clean·(1 − m), in the denoised dtype."""
    return (denoised * denoise_mask + clean.float() * (1 - denoise_mask)).to(denoised.dtype)
