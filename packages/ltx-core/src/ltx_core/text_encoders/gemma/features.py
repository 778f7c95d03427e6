"""Gemma hidden states → text features: normalisation, layer-interleaved flattening, aggregate projection(s).

The dtype flow follows the official code (spec A.6/A.7, B.14) so that bf16 runs round at the same points: V1
reduces in the hidden-state dtype but divides in float32; V2 stays in the hidden-state dtype throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ltx_core.errors import InputError

EPS = 1e-6
V1_SCALE = 8.0


def stack_hidden_states(hidden_states: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """L tensors (B, T, D) — or one (L, B, T, D) tensor — → (B, T, D, L), layer index fastest."""
    if isinstance(hidden_states, torch.Tensor):
        if hidden_states.ndim != 4:
            raise InputError(f"hidden states have shape {tuple(hidden_states.shape)}; expected (L, B, T, D)")
        return hidden_states.permute(1, 2, 3, 0).contiguous()  # same layout as stacking: same reduction order
    if not hidden_states:
        raise InputError("no hidden states given; expected the L Gemma hidden states, each (B, T, D)")
    return torch.stack(list(hidden_states), dim=-1)


def norm_v1(x: torch.Tensor, mask: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """LTX-2: per-sample, per-layer (x − mean) / (max − min) · 8 over valid tokens; (B,T,D,L) → (B,T,D·L).

    Pad tokens come out as zeros in `x.dtype`; their input values are never read.
    """
    b, t, d, n_layers = x.shape
    valid = mask.bool()[:, :, None, None]
    n_tokens = mask.sum(dim=1)  # int64 (B,)
    total = torch.where(valid, x, 0).sum(dim=(1, 2))  # (B, L) in x.dtype
    mean = total / (n_tokens * d + eps)[:, None]  # float32 divisor (int + float → default dtype)
    lo = torch.where(valid, x, torch.inf).amin(dim=(1, 2))
    hi = torch.where(valid, x, -torch.inf).amax(dim=(1, 2))
    value_range = hi - lo
    y = V1_SCALE * (x - mean[:, None, None, :]) / (value_range + eps)[:, None, None, :]
    y = y.reshape(b, t, d * n_layers)
    return torch.where(mask.bool()[:, :, None], y, 0).to(x.dtype)


def norm_v2(x: torch.Tensor, mask: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """LTX-2.3: per-token, per-layer RMS over D, in x.dtype; (B,T,D,L) → (B,T,D·L), pads zeroed by a select."""
    b, t, d, n_layers = x.shape
    var = (x * x).mean(dim=2, keepdim=True)
    y = (x * torch.rsqrt(var + eps)).reshape(b, t, d * n_layers)
    return torch.where(mask.bool()[:, :, None], y, 0)


def _check(x: torch.Tensor, mask: torch.Tensor, gemma_width: int, num_states: int) -> None:
    b, t, d, n_layers = x.shape
    if (d, n_layers) != (gemma_width, num_states):
        raise InputError(
            f"hidden states are {n_layers} x width {d}; this checkpoint's text projection needs "
            f"{num_states} x width {gemma_width}"
        )
    if tuple(mask.shape) != (b, t):
        raise InputError(f"attention mask has shape {tuple(mask.shape)}; expected {(b, t)}")


class FeatureExtractorV1(nn.Module):
    """LTX-2: one bias-free projection D·L → D shared by video and audio."""

    def __init__(self, gemma_width: int, num_hidden_states: int) -> None:
        super().__init__()
        self.gemma_width = gemma_width
        self.num_hidden_states = num_hidden_states
        self.aggregate_embed = nn.Linear(gemma_width * num_hidden_states, gemma_width, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, D, L) stacked hidden states; mask: (B, T) 1 = real token."""
        _check(x, mask, self.gemma_width, self.num_hidden_states)
        features = self.aggregate_embed(norm_v1(x, mask).to(self.aggregate_embed.weight.dtype))
        return features, features


class FeatureExtractorV2(nn.Module):
    """LTX-2.3: per-modality projections with bias, inputs pre-scaled by sqrt(out / D)."""

    def __init__(self, gemma_width: int, num_hidden_states: int, video_width: int, audio_width: int) -> None:
        super().__init__()
        self.gemma_width = gemma_width
        self.num_hidden_states = num_hidden_states
        in_width = gemma_width * num_hidden_states
        self.video_aggregate_embed = nn.Linear(in_width, video_width)
        self.audio_aggregate_embed = nn.Linear(in_width, audio_width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check(x, mask, self.gemma_width, self.num_hidden_states)
        y = norm_v2(x, mask).to(self.video_aggregate_embed.weight.dtype)
        outs = []
        for proj in (self.video_aggregate_embed, self.audio_aggregate_embed):
            outs.append(proj(y * math.sqrt(proj.out_features / self.gemma_width)))
        return outs[0], outs[1]
