"""Initial noising of a patchified state, mixed with the clean tokens through the denoise mask.

Two official formulas (`Numerics`): 1.1.3 mixes noise and the state's latent in the latent dtype,
`n·(m·s) + x·(1 − m·s)`, with the conditioning tokens written into the latent; 1.2.0 (delta A.4/A.5) takes two
float32 lerps, `lerp(clean, lerp(x, n, s), m)`, and conditioning items leave the latent as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from ltx_core.components.latent_tools import LatentTools
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.types import LatentState


class ConditioningItem(Protocol):
    """A conditioning item edits a patchified state; it may only append tokens at the end."""

    def apply_to(self, latent_state: LatentState, latent_tools: LatentTools) -> LatentState: ...


@dataclass
class GaussianNoiser:
    """Draws one noise tensor per call from a shared generator, directly in the latent dtype (bf16 in pipelines).

    A float32 draw cast to bf16 is not the same random stream, so the dtype of the draw matters for parity.
    `numerics` picks the mixing formula (module docstring); the draw is the same under both.
    """

    generator: torch.Generator
    numerics: Numerics = DEFAULT_NUMERICS

    def draw(self, latent: torch.Tensor) -> torch.Tensor:
        """The next noise tensor, of `latent`'s shape, device and dtype."""
        return torch.randn(*latent.shape, device=latent.device, dtype=latent.dtype, generator=self.generator)

    def __call__(self, state: LatentState, noise_scale: float = 1.0) -> LatentState:
        latent = state.latent
        noise = self.draw(latent)
        if self.numerics.noiser_fp32_lerp:
            # torch.lerp, as the official code: a fused multiply-add on the CPU, which a hand-written a + w·(b − a)
            # does not reproduce bit for bit
            noised = torch.lerp(latent.float(), noise.float(), noise_scale)
            mixed = torch.lerp(state.clean_latent.float(), noised, state.denoise_mask.float())
        else:
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
    """Initial state → conditioning items in order → noise; a frozen modality gets a zero mask after noising and is
    marked `frozen` (the denoisers then hand the transformer σ = 0 for it under 1.2.0, delta A.2).

    The noiser's numerics also decide whether the items' tokens stay in the latent (1.1.3) or only in the clean
    latent (1.2.0, delta A.5): the two changes only make sense together, and the noiser is built once per run. An
    item whose tokens are generated (`generates_tokens`: the keyframe slots, delta B.4) keeps its latent rows."""
    state = tools.create_initial_state(device, dtype, initial_latent)
    for item in conditionings:
        before = state
        state = item.apply_to(state, tools)
        if not noiser.numerics.conditioning_writes_latent and not getattr(item, "generates_tokens", False):
            state = state.with_(latent=_untouched_latent(before.latent, state.latent))
    state = noiser(state, noise_scale)
    if frozen:
        state = state.with_(denoise_mask=torch.zeros_like(state.denoise_mask), frozen=True)
    return state


def _untouched_latent(initial: torch.Tensor, conditioned: torch.Tensor) -> torch.Tensor:
    """The latent as 1.2.0's conditioning items leave it: the initial tokens as they were, zeros for the appended
    ones (`conditioned` only gives the appended count and the dtype)."""
    added = conditioned.shape[1] - initial.shape[1]
    zeros = conditioned.new_zeros(conditioned.shape[0], added, *conditioned.shape[2:])
    return torch.cat([initial.to(conditioned.dtype), zeros], dim=1)
