"""Sigma schedules. The LTX-2 schedule is written with the official tensor ops so it matches bit for bit:
`E / v` on a tensor is evaluated by PyTorch as reciprocal(v)·E, which differs from a true division in ~1/3 of the
entries by one ulp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ltx_core.errors import InputError

BASE_SHIFT_ANCHOR = 1024
MAX_SHIFT_ANCHOR = 4096


def token_shift(tokens: int, max_shift: float = 2.05, base_shift: float = 0.95) -> float:
    """Linear in token count through (1024, base_shift) and (4096, max_shift); extrapolates, no clamp."""
    mm = (max_shift - base_shift) / (MAX_SHIFT_ANCHOR - BASE_SHIFT_ANCHOR)
    b = base_shift - mm * BASE_SHIFT_ANCHOR
    return tokens * mm + b


@dataclass(frozen=True)
class LTX2Scheduler:
    """The token-count-shifted schedule of the non-distilled models."""

    def execute(
        self,
        steps: int,
        latent: torch.Tensor | None = None,
        max_shift: float = 2.05,
        base_shift: float = 0.95,
        stretch: bool = True,
        terminal: float = 0.1,
        default_number_of_tokens: int = 4096,
    ) -> torch.Tensor:
        """f32 CPU tensor of `steps + 1` sigmas from ≈1 down to 0."""
        if steps < 1 or (stretch and steps < 2):
            raise InputError(f"number of steps {steps} is invalid; use at least {2 if stretch else 1}")
        tokens = math.prod(latent.shape[2:]) if latent is not None else default_number_of_tokens
        t = torch.linspace(1.0, 0.0, steps + 1)
        shift = token_shift(tokens, max_shift, base_shift)
        e = math.exp(shift)
        sigmas = torch.where(t != 0, e / (e + (1 / t - 1) ** 1), 0)
        if stretch:
            nonzero = sigmas != 0
            one_minus_z = 1.0 - sigmas[nonzero]
            scale = one_minus_z[-1] / (1.0 - terminal)
            sigmas[nonzero] = 1.0 - (one_minus_z / scale)
        if torch.isnan(sigmas).any():  # the official code returns these NaNs (f32 saturation near 1); refuse them
            raise InputError(
                f"{steps} steps at {tokens} tokens give an undefined (NaN) schedule; use more steps, fewer tokens "
                "or stretch=False"
            )
        return sigmas.to(torch.float32)


def validate_sigmas(sigmas: torch.Tensor | Sequence[float], *, what: str = "sigmas") -> torch.Tensor:
    """Check a user-given schedule: ≥ 2 finite values in [0, 1], strictly decreasing, ending at 0. Returns f32."""
    t = torch.as_tensor(sigmas, dtype=torch.float32).detach().cpu()
    values = t.tolist() if t.dim() == 1 else None
    if values is None or len(values) < 2:
        raise InputError(f"{what} must be a 1-D list of at least 2 values ending at 0, got shape {tuple(t.shape)}")
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise InputError(f"{what} {values} must all be finite values in [0, 1]")
    for i in range(len(values) - 1):
        if not values[i] > values[i + 1]:
            raise InputError(
                f"{what} must be strictly decreasing, but entry {i} ({values[i]}) <= entry {i + 1} ({values[i + 1]})"
            )
    if values[-1] != 0.0:
        raise InputError(f"{what} must end at 0.0, got last value {values[-1]}")
    return t
