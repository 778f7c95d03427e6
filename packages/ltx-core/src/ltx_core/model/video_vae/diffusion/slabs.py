"""The chunked pathway's W-slab attention (spec §5.4): the official default ("chunked_eager"), whose result at
the W borders differs from full-volume attention.

The stage-5 token width is cut into `n` cores of ceil(W/n) columns; each slab is its core plus `halo` columns on
each side, taken from the pre-update volume. Missing halo columns are filled the official way: the true left
border replicates column 0, a short right side replicates the slab's last core column (even when that is not the
true last column), and a left halo longer than the previous core stays zero. Inside a slab attention windows
follow the usual clamped rule over the slab's own width, with W positions relative to the volume.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Positions = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # float32 (T,), (H,), (W,) grid positions
# the attention residual of one block: (block input volume or slab, its positions) → residual of the same shape
Residual = Callable[[torch.Tensor, Positions], torch.Tensor]


def grid_positions(t: int, h: int, w: int, device: torch.device | str, w_offset: int = 0) -> Positions:
    """0-based float32 positions of a (T, H, W) grid, W shifted by `w_offset`."""

    def ar(n: int, start: int = 0) -> torch.Tensor:
        return torch.arange(start, start + n, device=device, dtype=torch.float32)

    return ar(t), ar(h), ar(w, w_offset)


def slab_buffer(x: torch.Tensor, index: int, slabs: int, halo: int) -> tuple[torch.Tensor, int, int]:
    """Slab `index` of x (B, T, H, W, C) as (buffer (B, T, H, cw + 2·halo, C), core start, core length)."""
    width = x.shape[3]
    cw = -(-width // slabs)
    start, stop = index * cw, min(width, (index + 1) * cw)
    core = stop - start
    buf = x.new_zeros(*x.shape[:3], cw + 2 * halo, x.shape[4])
    if core <= 0:
        return buf, start, core
    if index > 0:
        m = min(halo, cw)  # the previous core is a full [start − cw, start)
        buf[:, :, :, halo - m : halo] = x[:, :, :, start - m : start]
    buf[:, :, :, halo : halo + core] = x[:, :, :, start:stop]
    right = 0
    if index < slabs - 1:
        right = max(0, min(width, stop + halo) - stop)
        buf[:, :, :, halo + core : halo + core + right] = x[:, :, :, stop : stop + right]
    if index == 0:
        buf[:, :, :, :halo] = buf[:, :, :, halo : halo + 1]
    filled = halo + core + right
    if filled < buf.shape[3]:
        buf[:, :, :, filled:] = x[:, :, :, stop - 1 : stop]
    return buf, start, core


def slab_attention(x: torch.Tensor, residual: Residual, slabs: int, halo: int) -> torch.Tensor:
    """The attention residual of x (B, T, H, W, C) computed slab by slab; every slab reads the pre-update x."""
    out = torch.empty_like(x)
    t, h = x.shape[1:3]
    for index in range(slabs):
        buf, start, core = slab_buffer(x, index, slabs, halo)
        if core <= 0:
            continue
        positions = grid_positions(t, h, buf.shape[3], x.device, w_offset=start - halo)
        out[:, :, :, start : start + core] = residual(buf, positions)[:, :, :, halo : halo + core]
    return out
