"""Velocity → denoised (spec §3.2) and the X0 wrapper around the transformer (the inverse, sync-free `to_velocity`,
is `ltx_core.components.velocity`)."""

from __future__ import annotations

import torch
from torch import nn

from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.model.transformer.modality import Modality


def to_denoised(x: torch.Tensor, velocity: torch.Tensor, timesteps: torch.Tensor | float) -> torch.Tensor:
    """x0 = x − v·t in float32 (t per token, e.g. [B, T, 1], or a scalar), cast back to x's dtype. A tensor `t` is
    used as it is (no tensor is built from Python data per call); `ltx_core.components.velocity.to_velocity` is the
    inverse."""
    if isinstance(timesteps, torch.Tensor):
        t = timesteps.to(device=x.device, dtype=torch.float32)
    else:
        t = torch.as_tensor(timesteps, device=x.device).to(torch.float32)
    return (x.float() - velocity.float() * t).to(x.dtype)


class X0Model(nn.Module):
    """Same call as the transformer; returns the denoised prediction per stream instead of the velocity."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbationConfig | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        v_vel, a_vel = self.model(video, audio, perturbations)
        v_x0 = to_denoised(video.latent, v_vel, video.timesteps) if video is not None and v_vel is not None else None
        a_x0 = to_denoised(audio.latent, a_vel, audio.timesteps) if audio is not None and a_vel is not None else None
        return v_x0, a_x0
