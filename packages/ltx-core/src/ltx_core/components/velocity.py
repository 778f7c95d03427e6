"""x0 ↔ velocity conversions and the frozen-token blend (flow convention x_σ = (1 − σ)·x0 + σ·noise).

`to_denoised` lives with the transformer's X0 wrapper (`ltx_core.model.transformer.x0`). `to_velocity` here is the
only one: it never reads σ back from the device (a host sync per step on an accelerator).
"""

from __future__ import annotations

import torch


def to_velocity(x: torch.Tensor, sigma: torch.Tensor | float, x0: torch.Tensor) -> torch.Tensor:
    """v = (x − x0)/σ in float32, cast back to x's dtype. A float σ must be non-zero; a tensor σ (0-d, float32
    values) is the caller's to check on the host-side schedule.

    Same bits as dividing by σ as a Python float: on the CPU that is a true float32 division; CUDA divides by a host
    scalar as a multiplication by its float32 reciprocal, so a device σ does the same there."""
    diff = x.float() - x0.float()
    if not isinstance(sigma, torch.Tensor):
        if sigma == 0.0:
            raise ValueError("sigma must be non-zero to convert a denoised sample to a velocity")
        return (diff / float(sigma)).to(x.dtype)
    s = sigma.to(device=diff.device, dtype=torch.float32)
    if diff.device.type == "cuda":
        return (diff * (1.0 / s)).to(x.dtype)
    return (diff / s).to(x.dtype)


def post_process_latent(denoised: torch.Tensor, denoise_mask: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Pull masked tokens back to their clean value: x0·m + clean·(1 − m), in the denoised dtype."""
    return (denoised * denoise_mask + clean.float() * (1 - denoise_mask)).to(denoised.dtype)
