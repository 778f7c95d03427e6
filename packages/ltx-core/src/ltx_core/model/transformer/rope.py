"""Rotary position embedding of the LTX transformer (spec §6): fractional positions, geometric frequency grid.

Tables are computed per forward from the positions (they are shared by every block) and never stored in the
module, so nothing derived sits on the meta device after loading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from einops import rearrange

from ltx_core.model.transformer.config import RopeType


@dataclass(frozen=True)
class RopeTable:
    """cos/sin for one stream. Split: [B, H, T, W/(2H)] (per-head frequency blocks); interleaved: [B, T, W]."""

    cos: torch.Tensor
    sin: torch.Tensor
    rope_type: RopeType


@lru_cache(maxsize=32)
def _grid_cpu(n: int, theta: float, float64: bool) -> torch.Tensor:
    # device="cpu" explicitly: under a `torch.device("meta")` context (FLOP counting, meta builds) the cache would
    # otherwise keep a meta tensor and hand it to every later real call
    if float64:
        start, end = math.log(1.0) / math.log(theta), math.log(theta) / math.log(theta)
        exponents = torch.linspace(start, end, n, dtype=torch.float64, device="cpu")
        return (torch.pow(theta, exponents) * math.pi / 2).to(torch.float32)
    exponents = torch.linspace(0.0, 1.0, n, dtype=torch.float32, device="cpu")
    return torch.pow(theta, exponents) * math.pi / 2


def frequency_grid(n: int, theta: float, float64: bool, device: torch.device | str = "cpu") -> torch.Tensor:
    """n frequencies from π/2 to θ·π/2, geometric (float32; optionally computed in float64 first). Always computed
    on the CPU (same bits on every device) and copied to each device once: a copy per table would block the host."""
    return _grid_on(n, float(theta), float64, torch.device(device))


@lru_cache(maxsize=32)
def _grid_on(n: int, theta: float, float64: bool, device: torch.device) -> torch.Tensor:
    return _grid_cpu(n, theta, float64).to(device)


@lru_cache(maxsize=32)
def _max_pos_on(max_pos: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """[A] float32 divisors on `device`, filled there (no host data to copy). A device tensor rather than Python
    floats: CUDA turns division by a host scalar into multiplication by its reciprocal, which rounds differently."""
    return torch.stack([torch.full((), float(m), dtype=torch.float32, device=device) for m in max_pos])


def rope_angles(
    positions: torch.Tensor, max_pos: Sequence[float], grid: torch.Tensor, use_middle: bool
) -> torch.Tensor:
    """[B, A, T, 2] [start, end) positions → angles [B, T, n·A], frequency-major / axis-minor."""
    if positions.shape[1] != len(max_pos):
        raise ValueError(f"positions have {positions.shape[1]} axes but max_pos has {len(max_pos)}")
    positions = positions.float()
    if use_middle:
        if positions.ndim != 4 or positions.shape[-1] != 2:
            raise ValueError(f"positions must be [B, A, T, 2] for middle-of-range RoPE, got {tuple(positions.shape)}")
        p = (positions[..., 0] + positions[..., 1]) / 2.0
    else:
        p = positions[..., 0] if positions.ndim == 4 else positions
    scale = _max_pos_on(tuple(max_pos), p.device)
    u = rearrange(p, "b a t -> b t a") / scale  # [B, T, A]
    phi = grid * (u * 2 - 1)[..., None]  # [B, T, A, n]
    return rearrange(phi, "b t a n -> b t (n a)")


def rope_table(
    positions: torch.Tensor,
    *,
    width: int,
    heads: int,
    max_pos: Sequence[float],
    theta: float,
    float64: bool,
    rope_type: RopeType,
    use_middle: bool,
    dtype: torch.dtype,
) -> RopeTable:
    """cos/sin tables for a stream whose attention inner width is `width` (float32 math, cast to `dtype`)."""
    axes = len(max_pos)
    n = width // (2 * axes)
    grid = frequency_grid(n, theta, float64, positions.device)
    phi = rope_angles(positions, max_pos, grid, use_middle)
    cos, sin = torch.cos(phi), torch.sin(phi)
    if rope_type is RopeType.SPLIT:
        pad = width // 2 - n * axes
        cos, sin = _prepend_identity(cos, sin, pad)
        cos = rearrange(cos, "b t (h f) -> b h t f", h=heads)
        sin = rearrange(sin, "b t (h f) -> b h t f", h=heads)
    else:
        cos = torch.repeat_interleave(cos, 2, dim=-1)
        sin = torch.repeat_interleave(sin, 2, dim=-1)
        cos, sin = _prepend_identity(cos, sin, width % (2 * axes))
    return RopeTable(cos.to(dtype), sin.to(dtype), rope_type)


def _prepend_identity(cos: torch.Tensor, sin: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    if pad <= 0:
        return cos, sin
    ones = torch.ones(*cos.shape[:-1], pad, dtype=cos.dtype, device=cos.device)
    return torch.cat([ones, cos], dim=-1), torch.cat([torch.zeros_like(ones), sin], dim=-1)


def apply_rope(x: torch.Tensor, table: RopeTable) -> torch.Tensor:
    """Rotate q or k ([B, T, inner]) with a table of the same batch."""
    if x.shape[0] != table.cos.shape[0]:
        raise ValueError(f"RoPE batch {table.cos.shape[0]} does not match q/k batch {x.shape[0]}")
    if table.rope_type is RopeType.SPLIT:
        return _apply_split(x, table.cos, table.sin)
    return _apply_interleaved(x, table.cos, table.sin)


def _apply_split(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # Heads follow the table: each head rotates its own block of frequencies (first half × second half).
    heads = cos.shape[1]
    xh = rearrange(x, "b t (h d) -> b h t d", h=heads)
    half = xh.shape[-1] // 2
    x1, x2 = xh[..., :half], xh[..., half:]
    out1 = x1 * cos
    out2 = x2 * cos
    out1.addcmul_(-sin, x2)
    out2.addcmul_(sin, x1)
    return rearrange(torch.cat([out1, out2], dim=-1), "b h t d -> b t (h d)")


def _apply_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    pairs = rearrange(x, "... (d r) -> ... d r", r=2)
    x_even, x_odd = pairs.unbind(-1)
    rotated = rearrange(torch.stack([-x_odd, x_even], dim=-1), "... d r -> ... (d r)")
    return x * cos + rotated * sin
