"""Timestep embedding and AdaLN-single (spec §5): σ·1000 → sinusoid → MLP → n modulation rows of width D."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SINUSOID_DIM = 256
MAX_PERIOD = 10000.0


def timestep_sinusoid(t: torch.Tensor, dim: int = SINUSOID_DIM, max_period: float = MAX_PERIOD) -> torch.Tensor:
    """1-D t → [N, dim] float32 features [cos(t·f), sin(t·f)] with f_i = max_period^(−i/half)."""
    if t.ndim != 1:
        raise ValueError(f"timesteps for the sinusoid must be 1-D, got shape {tuple(t.shape)}")
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(exponent / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedder(nn.Module):
    def __init__(self, dim: int, in_dim: int = SINUSOID_DIM) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(features)))


class _Embeddings(nn.Module):
    """Holds the timestep embedder under the official key path `emb.timestep_embedder`."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.timestep_embedder = TimestepEmbedder(dim)


class AdaLNSingle(nn.Module):
    """t [N] → (mod [N, rows·D], emb [N, D]); emb feeds the output head, mod the blocks."""

    def __init__(self, dim: int, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.emb = _Embeddings(dim)
        self.linear = nn.Linear(dim, rows * dim)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.emb.timestep_embedder(timestep_sinusoid(t).to(dtype))
        return self.linear(F.silu(emb)), emb


def modulation_row(table: torch.Tensor, mod: torch.Tensor, row: int) -> torch.Tensor:
    """table[row] + row `row` of `mod` ([B, T', n·D] → [B, T', D]); the table is cast to mod's dtype."""
    dim = table.shape[-1]
    return table[row].to(mod.dtype) + mod[..., row * dim : (row + 1) * dim]
