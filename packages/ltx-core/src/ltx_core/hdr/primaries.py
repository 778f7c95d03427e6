"""RGB primaries and the 3x3 matrices between them (spec NP 5.1-5.3): Rec.709 / sRGB, ACES AP1 (ACEScg) and the
Rec.2020 primaries of the HLG master.

A matrix maps a pixel as `out_c = Σ_d M[c, d] · in_d`, in float32. Tensors are channel-first: `[..., 3, H, W]`
(images) or `[B, 3, F, H, W]` (videos, `channel_dim=1`); `apply` takes the channel dimension.
"""

from __future__ import annotations

from enum import StrEnum

import torch

# AP1 → Rec.709 (the spec's rows, as float32).
ACESCG_TO_REC709 = (
    (1.70505, -0.62179, -0.08326),
    (-0.13026, 1.14080, -0.01055),
    (-0.02400, -0.12897, 1.15297),
)
# Rec.709 → Rec.2020 (spec NP 5.3 4a).
REC709_TO_REC2020 = (
    (0.62740389, 0.32928304, 0.04331307),
    (0.06909729, 0.91954040, 0.01136232),
    (0.01639144, 0.08801331, 0.89559525),
)
# AP1 → Rec.2020: not in the spec sheet; the official 1.2.0 constant as the golden case `hdr_120/primaries` holds it
# (float32; within 5e-6 of REC709_TO_REC2020 @ ACESCG_TO_REC709, so not that product).
ACESCG_TO_REC2020 = (
    (1.0258248, -0.02005319, -0.00577156),
    (-0.00223437, 1.0045865, -0.00235213),
    (-0.00501335, -0.02529007, 1.0303035),
)


class Primaries(StrEnum):
    """The primaries of a linear signal."""

    REC709 = "rec709"
    ACESCG = "acescg"


def matrix(rows: tuple[tuple[float, float, float], ...], device: torch.device | str | None = None) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32, device=device)


def rec709_to_acescg(device: torch.device | str | None = None) -> torch.Tensor:
    """The inverse of the float32 ACESCG_TO_REC709, computed in float64 and rounded to float32 (as the official)."""
    return torch.linalg.inv(matrix(ACESCG_TO_REC709).double()).to(device=device, dtype=torch.float32)


def conversion(source: Primaries, target: Primaries, device: torch.device | str | None = None) -> torch.Tensor | None:
    """The matrix from `source` to `target` primaries; None when they are the same."""
    if source is target:
        return None
    if source is Primaries.ACESCG:
        return matrix(ACESCG_TO_REC709, device)
    return rec709_to_acescg(device)


def to_rec2020_matrix(source: Primaries, device: torch.device | str | None = None) -> torch.Tensor:
    return matrix(REC709_TO_REC2020 if source is Primaries.REC709 else ACESCG_TO_REC2020, device)


def apply(m: torch.Tensor, pixels: torch.Tensor, channel_dim: int) -> torch.Tensor:
    """`out_c = Σ_d m[c, d] · in_d` along `channel_dim` (size 3) of `pixels`, in `m`'s dtype on `pixels`' device."""
    moved = pixels.movedim(channel_dim, -1)
    out = moved @ m.to(device=pixels.device, dtype=pixels.dtype).T
    return out.movedim(-1, channel_dim).contiguous()
