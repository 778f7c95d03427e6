"""The `--hdr` colour spaces and the working space the video VAE sees (spec NP 5.1-5.3).

The VAE always works in log codes in [0, 1] (ACEScct for native HDR), mapped to [-1, 1]. Input: linear light in the
source primaries → AP1 → clamp ≥ 0 → codes (`to_working_space`), or codes taken as they are (`ACESCCT` input).
Output: decoded codes → linear AP1 → the output primaries → clamp ≥ 0 (`to_linear`, `decode_hdr_video`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch

from ltx_core.errors import InputError
from ltx_core.hdr import primaries as P
from ltx_core.hdr.primaries import Primaries
from ltx_core.hdr.transfer import ACESCCT, Transfer

# EXR `chromaticities` (red x y, green x y, blue x y, white x y) per primaries (spec NP 5.3 step 3).
CHROMATICITIES: dict[Primaries, tuple[float, ...]] = {
    Primaries.REC709: (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290),
    Primaries.ACESCG: (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767),
}


@dataclass(frozen=True)
class _Space:
    source_primaries: Primaries
    is_log_working: bool  # the EXR pixels are codes already (no transfer on input or output)
    exr_color_space: str  # the EXR `colorSpace` attribute written


class HDRColorSpace(Enum):
    """What `--hdr` says the EXR pixels are (spec NP 5.1): scene-linear Rec.709 (`SRGB_LINEAR`), scene-linear AP1
    (`ACESCG`), or ACEScct codes (`ACESCCT`). Outputs are written in the same space."""

    SRGB_LINEAR = _Space(Primaries.REC709, False, "sRGB")
    ACESCG = _Space(Primaries.ACESCG, False, "ACEScg")
    ACESCCT = _Space(Primaries.ACESCG, True, "ACEScct")

    @property
    def source_primaries(self) -> Primaries:
        return self.value.source_primaries

    @property
    def is_log_working(self) -> bool:
        return self.value.is_log_working

    @property
    def transfer(self) -> Transfer:
        return ACESCCT

    @property
    def exr_color_space(self) -> str:
        return self.value.exr_color_space

    @property
    def chromaticities(self) -> tuple[float, ...]:
        return CHROMATICITIES[self.source_primaries]

    @classmethod
    def named(cls, name: str) -> HDRColorSpace:
        """Case-insensitive, as the `--hdr` flag takes it."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            valid = ", ".join(cls.__members__)
            raise InputError(f"HDR colour space {name!r} is unknown; valid: {valid}") from None


def to_working_space(
    linear: torch.Tensor, transfer: Transfer, source_primaries: Primaries, channel_dim: int = 1
) -> torch.Tensor:
    """Scene-linear light in `source_primaries` → the transfer's working primaries (AP1 for ACEScct, Rec.709 for
    LogC3) → clamp ≥ 0 → log codes in [0, 1]."""
    m = P.conversion(source_primaries, transfer.working_primaries)
    working = linear if m is None else P.apply(m, linear, channel_dim)
    return transfer.compress(working.clamp(min=0))


def to_linear(
    working: torch.Tensor, transfer: Transfer, out_primaries: Primaries, channel_dim: int = 1
) -> torch.Tensor:
    """Log codes → linear light in the transfer's working primaries → `out_primaries` → clamp ≥ 0."""
    light = transfer.decompress(working)
    m = P.conversion(transfer.working_primaries, out_primaries)
    out = light if m is None else P.apply(m, light, channel_dim)
    return out.clamp(min=0)


def to_vae_range(codes: torch.Tensor) -> torch.Tensor:
    """Codes in [0, 1] → the VAE's [-1, 1]: `2c - 1`. Values outside [0, 1] are an error (a bug upstream: every
    path clamps before this)."""
    low, high = codes.min().item(), codes.max().item()
    if low < 0 or high > 1:
        raise ValueError(f"working-space values span [{low:g}, {high:g}]; expected codes within [0, 1]")
    return codes * 2 - 1


def from_vae_range(values: torch.Tensor) -> torch.Tensor:
    """The VAE's [-1, 1] → codes in [0, 1]: `clamp((x + 1) / 2)`."""
    return ((values + 1) / 2).clamp(0, 1)


def decode_hdr_video(frames: torch.Tensor, color_space: HDRColorSpace, out_primaries: Primaries) -> torch.Tensor:
    """Decoded frames `[F, H, W, 3]` in [0, 1] (the working space's codes) → float32 scene-linear light in
    `out_primaries`, `[F, H, W, 3]`."""
    channels_first = frames.float().permute(3, 0, 1, 2).unsqueeze(0)  # computed as [1, 3, F, H, W], as the official
    return to_linear(channels_first, color_space.transfer, out_primaries)[0].permute(1, 2, 3, 0)


def exr_pixels(frames: torch.Tensor, color_space: HDRColorSpace) -> torch.Tensor:
    """What the EXR frames of `color_space` hold (spec NP 5.1): the decoded codes as they are (`ACESCCT`), else
    scene-linear light in the space's primaries. `frames` `[F, H, W, 3]` in [0, 1], float32 out."""
    if color_space.is_log_working:
        return frames.float()
    return decode_hdr_video(frames, color_space, color_space.source_primaries)


def working_pixels(linear: torch.Tensor, color_space: HDRColorSpace, channel_dim: int) -> torch.Tensor:
    """EXR pixels of `color_space` (float32) → working-space codes in [0, 1]: clamped codes (`ACESCCT`), else the
    transfer of their AP1 light."""
    if color_space.is_log_working:
        return color_space.transfer.compress_ldr(linear)
    return to_working_space(linear, color_space.transfer, color_space.source_primaries, channel_dim)
