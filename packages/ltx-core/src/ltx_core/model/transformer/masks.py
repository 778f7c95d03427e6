"""Attention masks → additive biases in the compute dtype (spec §4 steps 5–6)."""

from __future__ import annotations

import torch

from ltx_core.errors import InputError


def text_attention_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Integer [B, S] keep-mask (1 keep, 0 drop) → [B, 1, 1, S] bias 0 / −finfo.max; float masks are already biases."""
    if mask is None or mask.is_floating_point():
        return mask
    if mask.dtype == torch.bool:
        raise InputError("context_mask must be an integer keep-mask (1 keep, 0 drop) or a float bias, not bool")
    batch, length = mask.shape[0], mask.shape[-1]
    return (mask - 1).to(dtype).reshape(batch, 1, -1, length) * torch.finfo(dtype).max


def self_attention_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Multiplicative [B, T, T] weights in [0, 1] → [B, 1, T, T] bias log(m) (m ≤ 0 → the dtype's minimum)."""
    if mask is None:
        return None
    finfo = torch.finfo(dtype)
    log_m = torch.log(mask.clamp(min=finfo.tiny)).to(dtype)
    bias = torch.where(mask > 0, log_m, torch.full_like(log_m, finfo.min))
    return bias[:, None]
