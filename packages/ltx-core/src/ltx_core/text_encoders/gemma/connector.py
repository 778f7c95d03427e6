"""Embeddings connector: a small pre-norm 1-D transformer that fills pad slots with learnable registers (spec A.9).

Module and parameter names are the official ones (`learnable_registers`, `transformer_1d_blocks.{i}.attn1.*`,
`.ff.net.{0.proj,2}.*`) so the checkpoint loads by prefix stripping alone. The RoPE table is derived data and is
computed in `forward`, never stored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ltx_core.errors import InputError
from ltx_core.model.transformer.feedforward import FeedForward
from ltx_core.model.transformer.rope import frequency_grid
from ltx_core.text_encoders.gemma.config import ConnectorConfig

EPS = 1e-6


def rope_ladder(num_freqs: int, theta: float, float64: bool) -> torch.Tensor:
    """(π/2)·theta^(j/(N−1)), j = 0..N−1, in float32 (computed in float64 first when asked, as the official): the
    transformer's RoPE frequency grid, bit for bit (built on the CPU, whatever the default device: float64 does not
    exist on Apple MPS). Shared and cached: do not modify it in place."""
    return frequency_grid(num_freqs, theta, float64)


def connector_rope(
    seq_len: int, num_heads: int, head_dim: int, max_pos: int, theta: float, float64: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (1, H, S, Dh/2), float32; head h takes ladder entries h·Dh/2 … (h+1)·Dh/2 − 1."""
    ladder = rope_ladder(num_heads * head_dim // 2, theta, float64).to(device)
    frac = torch.arange(seq_len, dtype=torch.float32, device=device) / max_pos
    angle = ladder[None, :] * (frac * 2 - 1)[:, None]  # (S, N)
    angle = rearrange(angle, "s (h j) -> 1 h s j", h=num_heads)
    return angle.cos(), angle.sin()


def apply_split_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (first half, second half) pairs of each head: x (B, H, S, Dh)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    out1 = torch.addcmul(x1 * cos, x2, sin, value=-1)
    out2 = torch.addcmul(x2 * cos, x1, sin)
    return torch.cat([out1, out2], dim=-1)


class ConnectorAttention(nn.Module):
    """Self-attention with full-width q/k RMSNorm, split RoPE and (LTX-2.3) per-head 2·sigmoid gates."""

    def __init__(self, num_heads: int, head_dim: int, gated: bool) -> None:
        super().__init__()
        width = num_heads * head_dim
        self.num_heads = num_heads
        self.to_q = nn.Linear(width, width)
        self.to_k = nn.Linear(width, width)
        self.to_v = nn.Linear(width, width)
        self.q_norm = nn.RMSNorm(width, eps=EPS)
        self.k_norm = nn.RMSNorm(width, eps=EPS)
        self.to_out = nn.ModuleList([nn.Linear(width, width), nn.Identity()])
        self.to_gate_logits = nn.Linear(width, num_heads) if gated else None

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        heads = self.num_heads
        q = rearrange(self.q_norm(self.to_q(x)), "b s (h d) -> b h s d", h=heads)
        k = rearrange(self.k_norm(self.to_k(x)), "b s (h d) -> b h s d", h=heads)
        v = rearrange(self.to_v(x), "b s (h d) -> b h s d", h=heads)
        q = apply_split_rope(q, cos, sin)
        k = apply_split_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        if self.to_gate_logits is not None:
            gate = 2.0 * torch.sigmoid(self.to_gate_logits(x))  # (B, S, H)
            out = out * rearrange(gate, "b s h -> b h s 1")
        return self.to_out[0](rearrange(out, "b h s d -> b s (h d)"))


class ConnectorBlock(nn.Module):
    def __init__(self, num_heads: int, head_dim: int, gated: bool, ff_bias: bool = True) -> None:
        super().__init__()
        self.attn1 = ConnectorAttention(num_heads, head_dim, gated)
        self.ff = FeedForward(num_heads * head_dim, bias=ff_bias)

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = h + self.attn1(F.rms_norm(h, (h.shape[-1],), eps=EPS), cos, sin, mask)
        return h + self.ff(F.rms_norm(h, (h.shape[-1],), eps=EPS))


class EmbeddingsConnector(nn.Module):
    """(B, S, D) right-padded features + additive mask → (B, S, D) context where pad slots hold registers."""

    def __init__(self, config: ConnectorConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.learnable_registers = nn.Parameter(torch.rand(config.num_registers, width).mul_(2.0).sub_(1.0))
        self.transformer_1d_blocks = nn.ModuleList(
            [
                ConnectorBlock(config.num_heads, config.head_dim, config.gated_attention, config.ff_bias)
                for _ in range(config.num_layers)
            ]
        )

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h: (B, S, D); mask: additive (B, 1, 1, S), ≥ 0 for real tokens. Returns (context, all-zero mask)."""
        cfg = self.config
        seq_len = h.shape[1]
        n_reg = self.learnable_registers.shape[0]
        if seq_len % n_reg != 0:
            raise InputError(f"text length {seq_len} is not a multiple of {n_reg} (the number of text registers)")
        registers = self.learnable_registers.to(h.dtype)[torch.arange(seq_len, device=h.device) % n_reg]
        valid = (mask[:, 0, 0, :] >= 0).to(h.dtype)[:, :, None]
        h = valid * h + (1 - valid) * registers[None]
        mask = torch.zeros_like(mask)
        cos, sin = connector_rope(
            seq_len, cfg.num_heads, cfg.head_dim, cfg.rope_max_pos, cfg.rope_theta, cfg.rope_float64, h.device
        )
        cos, sin = cos.to(h.dtype), sin.to(h.dtype)
        for block in self.transformer_1d_blocks:
            h = block(h, cos, sin, mask)
        return F.rms_norm(h, (h.shape[-1],), eps=EPS), mask
