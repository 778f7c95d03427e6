"""Building blocks of the diffusion video decoder (spec §3): RMSNorm, SwiGLU, 3-D RoPE, neighbourhood-attention
blocks, the pixel-shuffle upsample, the timestep embedding. Every "conv" is a Linear on channels-last tensors.

Parameter names are the module names after the loader's renames (§2.3), so the state dict is the file's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.model.video_vae.diffusion.attention import Backend, neighborhood_attention
from ltx_core.model.video_vae.diffusion.config import Triple, rope_split
from ltx_core.model.video_vae.diffusion.slabs import Positions, grid_positions, slab_attention

EPS = 1e-6
ROPE_BASE = 10000.0
SINUSOID_CHANNELS = 256
MLP_TOKEN_CHUNK = 16384  # the official row chunk; rows are independent, so it only bounds memory


class RMSNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), eps=EPS)


class SwiGLU(nn.Module):
    """w_down(silu(w_gate(y)) · w_up(y)), hidden = 4·dim rounded up to 16, no biases."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        hidden = (4 * dim + 15) // 16 * 16
        self.w_up = nn.Linear(dim, hidden, bias=False)
        self.w_gate = nn.Linear(dim, hidden, bias=False)
        self.w_down = nn.Linear(hidden, dim, bias=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        flat = y.reshape(-1, y.shape[-1])
        parts = []
        for rows in flat.split(MLP_TOKEN_CHUNK):
            hidden = F.silu(self.w_gate(rows))
            hidden.mul_(self.w_up(rows))
            parts.append(self.w_down(hidden))
        return torch.cat(parts).view(*y.shape[:-1], -1)


def rope_tables(positions: Positions, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (T, H, W, 1, head_dim/2): per axis chunk, frequencies 1/10000^(2i/d) (float64, stored
    float32) times the float32 positions (§3.5)."""
    parts_c, parts_s = [], []
    n = [len(p) for p in positions]
    for axis, (pos, d) in enumerate(zip(positions, rope_split(head_dim), strict=True)):
        inv = (1.0 / ROPE_BASE ** (torch.arange(0, d, 2, dtype=torch.float64) / d)).to(torch.float32)
        angle = pos[:, None] * inv.to(pos.device)[None]
        shape = [1, 1, 1, d // 2]
        shape[axis] = n[axis]
        parts_c.append(angle.cos().view(shape).expand(*n, d // 2))
        parts_s.append(angle.sin().view(shape).expand(*n, d // 2))
    return torch.cat(parts_c, -1).unsqueeze(3), torch.cat(parts_s, -1).unsqueeze(3)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs (2i, 2i+1) of (B, T, H, W, NH, hd) in float32; back to x's dtype."""
    pairs = x.float().unflatten(-1, (-1, 2))
    a, b = pairs[..., 0], pairs[..., 1]
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return out.flatten(-2).to(x.dtype)


class QKV(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)


class NAAttention(nn.Module):
    """q/k/v, per-head RMSNorm (q scaled by head_dim^−0.5 after it), 3-D RoPE, neighbourhood attention, proj."""

    def __init__(self, dim: int, head_dim: int, kernel: Triple) -> None:
        super().__init__()
        self.head_dim, self.heads, self.kernel = head_dim, dim // head_dim, kernel
        self.qkv = QKV(dim)
        self.q_norm = RMSNorm(head_dim)
        self.k_norm = RMSNorm(head_dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, y: torch.Tensor, positions: Positions, backend: Backend) -> torch.Tensor:
        """y (B, T, H, W, D) → (B, T, H, W, D)."""
        heads = (self.heads, self.head_dim)
        q = self.q_norm(self.qkv.to_q(y).unflatten(-1, heads)) * self.head_dim**-0.5
        k = self.k_norm(self.qkv.to_k(y).unflatten(-1, heads))
        v = self.qkv.to_v(y).unflatten(-1, heads)
        cos, sin = rope_tables(positions, self.head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if q.dtype != v.dtype:
            q, k = q.to(v.dtype), k.to(v.dtype)
        order = (0, 4, 1, 2, 3, 5)  # → (B, NH, T, H, W, hd)
        out = neighborhood_attention(q.permute(order), k.permute(order), v.permute(order), self.kernel, backend)
        return self.proj(out.permute(0, 2, 3, 4, 1, 5).flatten(-2))


class NABlock(nn.Module):
    """Deterministic stage block: x + attn(rms(x)), then x + swiglu(rms(x)); no conditioning."""

    def __init__(self, dim: int, head_dim: int, kernel: Triple) -> None:
        super().__init__()
        self.norm1 = RMSNorm(dim)
        self.attn = NAAttention(dim, head_dim, kernel)
        self.norm2 = RMSNorm(dim)
        self.mlp = SwiGLU(dim)

    def forward(self, x: torch.Tensor, backend: Backend) -> torch.Tensor:
        positions = grid_positions(*x.shape[1:4], x.device)
        x = x + self.attn(self.norm1(x), positions, backend)
        return x + self.mlp(self.norm2(x))


class PixelShuffleUpsample(nn.Module):
    """Linear to prod(stride)·D/r channels, then channel c·(p1p2p3) + a·(p2p3) + b·p3 + e → position
    (t·p1 + a, h·p2 + b, w·p3 + e) of channel c (§3.9)."""

    def __init__(self, dim: int, stride: Triple, reduction: int) -> None:
        super().__init__()
        self.stride = stride
        self.out_dim = dim // reduction
        self.proj = nn.Linear(dim, math.prod(stride) * self.out_dim)

    def forward(self, x: torch.Tensor, drop_leading_frame: bool) -> torch.Tensor:
        b, t, h, w, _ = x.shape
        p1, p2, p3 = self.stride
        u = self.proj(x).view(b, t, h, w, self.out_dim, p1, p2, p3)
        u = u.permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, t * p1, h * p2, w * p3, self.out_dim)
        return u[:, 1:] if (p1 == 2 and drop_leading_frame) else u


class TimestepMLP(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(SINUSOID_CHANNELS, dim)
        self.linear_2 = nn.Linear(dim, dim)


class TimestepEmbedder(nn.Module):
    """t ∈ (0, 1] (times the multiplier) → [cos | sin] of 256 channels → MLP (§3.11)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.timestep_embedder = TimestepMLP(dim)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        half = SINUSOID_CHANNELS // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        e = t.float()[:, None] * freqs[None]
        sinusoid = torch.cat([torch.cos(e), torch.sin(e)], dim=-1).to(dtype)
        mlp = self.timestep_embedder
        return mlp.linear_2(F.silu(mlp.linear_1(sinusoid)))


class SharedAdaLN(nn.Module):
    def __init__(self, t_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(t_dim, 7 * dim)

    def forward(self, t_emb: torch.Tensor) -> torch.Tensor:
        """(B, t_dim) → (7, B, dim): scale_msa, shift_msa, gate_msa, scale_mlp, shift_mlp, gate_mlp, gate_ctx."""
        return self.proj(F.silu(t_emb)).unflatten(-1, (7, -1)).transpose(0, 1)


@dataclass(frozen=True)
class DeferredContext:
    """The chunked pathway's stage-4 context (§4.5, §5.3): the ghost-cropped stage-4 features, which every diffusion
    block upsamples (`upsamples[3]`) and projects piece by piece along W, as the official chunked blocks do. The
    pieces are strided views, and on the CPU a bf16 Linear rounds a strided input differently (its bias added after
    the product instead of inside it), so the pieces, not the whole, are what match the official bits."""

    feature: torch.Tensor  # (B, T4, H4, W4, C4)
    upsample: PixelShuffleUpsample
    origin: bool  # the tile holding frame 0 drops its leading upsampled frame
    pieces: int

    def add_into(self, x: torch.Tensor, proj: nn.Linear) -> torch.Tensor:
        """x (B, T5, H5, W5, c5) with proj(upsampled context) added into it, W piece by W piece (in place)."""
        start = 0
        for piece in self.feature.chunk(self.pieces, dim=3):
            part = proj(self.upsample(piece, drop_leading_frame=self.origin))
            x[:, :, :, start : start + part.shape[3]] += part
            start += part.shape[3]
        return x


class DiffusionBlock(nn.Module):
    """Stage-5 block (§3.12): x + context_proj(ctx); x + attn(modulate(rms(x))); x + swiglu(modulate(rms(x))).
    The file's static gates are folded into `context_proj`, `attn.proj` and `mlp.w_down` at load."""

    def __init__(self, dim: int, context_dim: int, head_dim: int, kernel: Triple) -> None:
        super().__init__()
        self.scale_shift_table = nn.Parameter(torch.zeros(7, dim))
        self.context_proj = nn.Linear(context_dim, dim)
        self.norm1 = RMSNorm(dim)
        self.attn = NAAttention(dim, head_dim, kernel)
        self.norm2 = RMSNorm(dim)
        self.mlp = SwiGLU(dim)

    def modulation(self, chunks: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(scale_msa, shift_msa, scale_mlp, shift_mlp), each (B, 1, 1, 1, dim); the gate rows are unused."""
        table = self.scale_shift_table.to(chunks.dtype)
        return tuple((chunks[i] + table[i])[:, None, None, None] for i in (0, 1, 3, 4))

    def attention_residual(
        self, x: torch.Tensor, positions: Positions, scale: torch.Tensor, shift: torch.Tensor, backend: Backend
    ) -> torch.Tensor:
        return self.attn(self.norm1(x) * (1 + scale) + shift, positions, backend)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | DeferredContext,
        chunks: torch.Tensor,
        backend: Backend,
        w_slabs: int,
    ) -> torch.Tensor:
        """`context`: the upsampled context (combined pathway), or the stage-4 features the block upsamples itself
        (chunked pathway); x is updated in place by the latter."""
        scale_msa, shift_msa, scale_mlp, shift_mlp = self.modulation(chunks)
        if isinstance(context, DeferredContext):
            x = context.add_into(x, self.context_proj)
        else:
            x = x + self.context_proj(context)

        def residual(inp: torch.Tensor, positions: Positions) -> torch.Tensor:
            return self.attention_residual(inp, positions, scale_msa, shift_msa, backend)

        if w_slabs > 1:
            x = x + slab_attention(x, residual, w_slabs, self.attn.kernel[2] // 2)
        else:
            x = x + residual(x, grid_positions(*x.shape[1:4], x.device))
        return x + self.mlp(self.norm2(x) * (1 + scale_mlp) + shift_mlp)
