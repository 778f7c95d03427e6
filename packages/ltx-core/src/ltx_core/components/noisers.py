"""Initial noising of a patchified state, mixed with the clean tokens through the denoise mask."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from ltx_core.components.latent_tools import LatentTools
from ltx_core.types import LatentState


class ConditioningItem(Protocol):
    """A conditioning item edits a patchified state; it may only append tokens at the end."""

    def apply_to(self, latent_state: LatentState, latent_tools: LatentTools) -> LatentState: ...


@dataclass
class GaussianNoiser:
    """Draws one noise tensor per call from a shared generator, directly in the latent dtype (bf16 in pipelines).

    A float32 draw cast to bf16 is not the same random stream, so the dtype of the draw matters for parity.
    """

    generator: torch.Generator

    def draw(self, latent: torch.Tensor) -> torch.Tensor:
        """The next noise tensor, of `latent`'s shape, device and dtype."""
        return torch.randn(*latent.shape, device=latent.device, dtype=latent.dtype, generator=self.generator)

    def __call__(self, state: LatentState, noise_scale: float = 1.0) -> LatentState:
        latent = state.latent
        noise = self.draw(latent)
        scaled_mask = state.denoise_mask * noise_scale
        mixed = noise * scaled_mask + latent * (1 - scaled_mask)
        return state.with_(latent=mixed.to(latent.dtype))


def create_noised_state(
    tools: LatentTools,
    noiser: GaussianNoiser,
    *,
    conditionings: Sequence[ConditioningItem] = (),
    noise_scale: float = 1.0,
    initial_latent: torch.Tensor | None = None,
    frozen: bool = False,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.bfloat16,
) -> LatentState:
    """Initial state → conditioning items in order → noise; a frozen modality gets a zero mask after noising."""
    state = tools.create_initial_state(device, dtype, initial_latent)
    for item in conditionings:
        state = item.apply_to(state, tools)
    state = noiser(state, noise_scale)
    if frozen:
        state = state.with_(denoise_mask=torch.zeros_like(state.denoise_mask))
    return state
