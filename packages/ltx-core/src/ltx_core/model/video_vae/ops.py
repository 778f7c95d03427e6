"""Pure tensor reshapes and norms of the video VAE.

Two channel orders coexist: patchify packs `c·p² + w_off·p + h_off` (W offset slower), while the space-to-depth /
depth-to-space blocks pack `c·P + t_off·(sh·sw) + h_off·sw + w_off`. Mixing them up gives plausible garbage.
"""

from __future__ import annotations

import torch
from einops import rearrange

from ltx_core.errors import InputError


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, F, H·p, W·p) → (B, C·p², F, H, W); also accepts the 4-D form without F."""
    if patch_size == 1:
        return x
    if x.dim() == 5:
        return rearrange(x, "b c f (h q) (w r) -> b (c r q) f h w", q=patch_size, r=patch_size)
    if x.dim() == 4:
        return rearrange(x, "b c (h q) (w r) -> b (c r q) h w", q=patch_size, r=patch_size)
    raise InputError(f"patchify expects a 4-D or 5-D tensor, got shape {tuple(x.shape)}")


def unpatchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Inverse of `patchify` (other ranks pass through unchanged, as in the official code)."""
    if patch_size == 1:
        return x
    if x.dim() == 5:
        return rearrange(x, "b (c r q) f h w -> b c f (h q) (w r)", q=patch_size, r=patch_size)
    if x.dim() == 4:
        return rearrange(x, "b (c r q) h w -> b c (h q) (w r)", q=patch_size, r=patch_size)
    return x


def space_to_depth(x: torch.Tensor, stride: tuple[int, int, int]) -> torch.Tensor:
    st, sh, sw = stride
    return rearrange(x, "b c (f t) (h p) (w q) -> b (c t p q) f h w", t=st, p=sh, q=sw)


def depth_to_space(x: torch.Tensor, stride: tuple[int, int, int]) -> torch.Tensor:
    st, sh, sw = stride
    return rearrange(x, "b (c t p q) f h w -> b c (f t) (h p) (w q)", t=st, p=sh, q=sw)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + eps)


def pixel_norm_(x: torch.Tensor, eps: float = 1e-8, frames_per_step: int = 8) -> torch.Tensor:
    """In-place pixel norm, a few frames at a time so the squared temporary stays small."""
    for a in range(0, x.shape[2], frames_per_step):
        part = x[:, :, a : a + frames_per_step]
        part.div_(torch.sqrt(torch.mean(part * part, dim=1, keepdim=True) + eps))
    return x


def replicate_pad_time(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Pad F by repeating the first / last frame (the VAE never zero-pads time)."""
    parts = []
    if left:
        parts.append(x[:, :, :1].expand(-1, -1, left, -1, -1))
    parts.append(x)
    if right:
        parts.append(x[:, :, -1:].expand(-1, -1, right, -1, -1))
    return torch.cat(parts, dim=2) if len(parts) > 1 else x
