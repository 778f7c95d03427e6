"""Scene-linear light → the 10-bit BT.2020 / HLG planes of the HDR master, and the Y'CbCr conversions (spec NP 5.3
step 4).

`hlg_signal`: Rec.2020 light (NaN and -inf → 0, clamp ≥ 0) → a soft roll-off above 1.0 mapped to the HLG scene
range, with linear 1.0 at HLG 0.75 → the HLG OETF, clamped to [0, 1]. `hlg_planes` then converts with the BT.2020
non-constant-luminance matrix, subsamples chroma 4:2:0 and quantizes to 10-bit limited range (uint16 planes).
Everything runs in float32 on the input's device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ltx_core.errors import InputError
from ltx_core.hdr import primaries as P
from ltx_core.hdr.primaries import Primaries

# ARIB STD-B67 (HLG) OETF constants.
HLG_A = 0.17883277
HLG_B = 0.28466892
HLG_C = 0.55991073
# Linear 1.0 (diffuse white) lands at HLG 0.75: x = HLG^-1(0.75); above 1.0 an exponential roll-off with slope k.
WHITE_X = (math.exp((0.75 - HLG_C) / HLG_A) + HLG_B) / 12
ROLL_K = WHITE_X / (1 - WHITE_X)
_LOG_FLOOR = 1e-12


@dataclass(frozen=True)
class YuvMatrix:
    """R'G'B' → Y'CbCr: rows Y, Cb, Cr (stored as float32)."""

    rows: tuple[tuple[float, float, float], ...]

    @classmethod
    def of_luma(cls, kr: float, kg: float, kb: float) -> YuvMatrix:
        """The matrix of luma weights (kr, kg, kb), its quotients evaluated in double."""
        cb, cr = 2 * (1 - kb), 2 * (1 - kr)
        return cls(((kr, kg, kb), (-kr / cb, -kg / cb, 0.5), (0.5, -kg / cr, -kb / cr)))

    def matrix(self, device: torch.device | str | None = None) -> torch.Tensor:
        return torch.tensor(self.rows, dtype=torch.float32, device=device)


BT2020_NCL = YuvMatrix.of_luma(0.2627, 0.6780, 0.0593)
# The SDR writer's BT.709 rows, rounded as the official has them (spec 12.8; `media.mp4` uses the same).
BT709 = YuvMatrix(((0.2126, 0.7152, 0.0722), (-0.1146, -0.3854, 0.5), (0.5, -0.4542, -0.0458)))


@dataclass(frozen=True)
class Levels:
    """Limited-range ("MPEG") levels at a bit depth: Y' in [0, 1] → `y·y_scale + y_offset`, Cb/Cr in [-0.5, 0.5]
    → `c·c_scale + c_offset`."""

    bits: int

    @property
    def y_scale(self) -> int:
        return 219 << (self.bits - 8)

    @property
    def y_offset(self) -> int:
        return 16 << (self.bits - 8)

    @property
    def c_scale(self) -> int:
        return 224 << (self.bits - 8)

    @property
    def c_offset(self) -> int:
        return 128 << (self.bits - 8)

    @property
    def peak(self) -> int:
        return (1 << self.bits) - 1


LIMITED_8 = Levels(8)
LIMITED_10 = Levels(10)


def rgb_to_yuv(rgb: torch.Tensor, matrix: YuvMatrix) -> torch.Tensor:
    """`[F, 3, H, W]` R'G'B' → full-range Y'CbCr `[F, 3, H, W]` (Y' in [0, 1], Cb/Cr in [-0.5, 0.5]), as one float32
    matrix product `pixels @ Mᵀ`."""
    pixels = rgb.permute(0, 2, 3, 1)
    return (pixels @ matrix.matrix(rgb.device).T).permute(0, 3, 1, 2)


def rgb_to_yuv420(rgb: torch.Tensor, matrix: YuvMatrix, levels: Levels) -> tuple[torch.Tensor, torch.Tensor]:
    """`[F, 3, H, W]` R'G'B' → (Y' `[F, 1, H, W]`, CbCr `[F, 2, H/2, W/2]`) in `levels`' code values, float, not
    rounded: chroma averaged over 2x2 blocks (H and W must be even)."""
    height, width = rgb.shape[-2:]
    if height % 2 or width % 2:
        raise InputError(f"video size {width}x{height} must be even in both dimensions for 4:2:0 chroma")
    yuv = rgb_to_yuv(rgb, matrix)
    y = yuv[:, :1] * levels.y_scale + levels.y_offset
    uv = F.avg_pool2d(yuv[:, 1:], kernel_size=2, stride=2) * levels.c_scale + levels.c_offset
    return y, uv


def quantize(values: torch.Tensor, levels: Levels) -> torch.Tensor:
    """Code values → integers: rounded half to even, clamped to the bit depth, uint16."""
    return values.round().clamp(0, levels.peak).to(torch.int32).to(torch.uint16)


def rgb_to_yuv420p10(rgb: torch.Tensor, matrix: YuvMatrix = BT2020_NCL) -> tuple[torch.Tensor, ...]:
    """`[F, 3, H, W]` R'G'B' in [0, 1] → the uint16 10-bit limited-range planes Y `[F, H, W]`, U and V
    `[F, H/2, W/2]`."""
    y, uv = rgb_to_yuv420(rgb, matrix, LIMITED_10)
    return quantize(y[:, 0], LIMITED_10), quantize(uv[:, 0], LIMITED_10), quantize(uv[:, 1], LIMITED_10)


def hlg_signal(linear: torch.Tensor, primaries: Primaries) -> torch.Tensor:
    """Scene-linear light `[F, 3, H, W]` in `primaries` → the HLG signal in [0, 1] with Rec.2020 primaries."""
    light = P.apply(P.to_rec2020_matrix(primaries), linear.float(), channel_dim=1)
    light = torch.nan_to_num(light, nan=0.0, neginf=0.0, posinf=math.inf).clamp(min=0)
    rolled = 1 - (1 - WHITE_X) * torch.exp(-ROLL_K * (light - 1))
    x = torch.where(light <= 1, light * WHITE_X, rolled)
    low = torch.sqrt((3 * x).clamp(min=0))
    high = HLG_A * torch.log((12 * x - HLG_B).clamp(min=_LOG_FLOOR)) + HLG_C
    return torch.where(x <= 1 / 12, low, high).clamp(0, 1)


def hlg_planes(frames: torch.Tensor, primaries: Primaries) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scene-linear frames `[F, H, W, 3]` → the HLG master's uint16 planes (Y `[F, H, W]`, U, V `[F, H/2, W/2]`):
    10-bit limited range, BT.2020 non-constant luminance, 4:2:0."""
    signal = hlg_signal(frames.permute(0, 3, 1, 2), primaries)
    y, u, v = rgb_to_yuv420p10(signal, BT2020_NCL)
    return y, u, v
