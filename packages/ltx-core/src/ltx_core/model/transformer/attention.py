"""Multi-head attention of the LTX transformer (spec §7): q/k RMSNorm over the full inner width, RoPE, optional
per-head output gates, and the STG value pass-through.

The scaled-dot-product kernel is pluggable by name so faster kernels can be registered without touching the
math; "sdpa" (PyTorch) is the default and "math" is the explicit softmax formulation for debugging.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ltx_core.model.transformer.rope import RopeTable, apply_rope

# (q, k, v [B, L, h·d], heads, additive mask broadcastable to [B, h, Lq, Lk] or None) → [B, Lq, h·d]
AttentionKernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Tensor | None], torch.Tensor]


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    return rearrange(x, "b l (h d) -> b h l d", h=heads)


def _mask4d(mask: torch.Tensor | None) -> torch.Tensor | None:
    if mask is None:
        return None
    if mask.ndim == 2:
        return mask[None, None]
    if mask.ndim == 3:
        return mask[:, None]
    return mask


def sdpa_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None
) -> torch.Tensor:
    out = F.scaled_dot_product_attention(
        _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads), attn_mask=_mask4d(mask)
    )
    return rearrange(out, "b h l d -> b l (h d)")


def math_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None
) -> torch.Tensor:
    qh, kh, vh = _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads)
    scores = (qh @ kh.transpose(-1, -2)) / math.sqrt(qh.shape[-1])
    mask = _mask4d(mask)
    if mask is not None:
        scores = scores + mask
    return rearrange(torch.softmax(scores, dim=-1) @ vh, "b h l d -> b l (h d)")


ATTENTION_KERNELS: dict[str, AttentionKernel] = {"sdpa": sdpa_attention, "math": math_attention}


def register_attention_kernel(name: str, kernel: AttentionKernel) -> None:
    """Make `kernel` selectable with `LTXModel.set_attention_kernel(name)`."""
    ATTENTION_KERNELS[name] = kernel


def resolve_kernel(name: str) -> AttentionKernel:
    try:
        return ATTENTION_KERNELS[name]
    except KeyError:
        raise ValueError(f"unknown attention kernel {name!r}; available: {', '.join(ATTENTION_KERNELS)}") from None


class Attention(nn.Module):
    """Query width `query_dim`, key/value width `context_dim`, `heads` × `head_dim` inner width."""

    def __init__(
        self, query_dim: int, context_dim: int, heads: int, head_dim: int, norm_eps: float, gated: bool
    ) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.kernel_name = "sdpa"
        self.q_norm = nn.RMSNorm(inner, eps=norm_eps)
        self.k_norm = nn.RMSNorm(inner, eps=norm_eps)
        self.to_q = nn.Linear(query_dim, inner)
        self.to_k = nn.Linear(context_dim, inner)
        self.to_v = nn.Linear(context_dim, inner)
        self.to_gate_logits = nn.Linear(query_dim, heads) if gated else None
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Identity()])

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        pe: RopeTable | None = None,
        k_pe: RopeTable | None = None,
        keep: torch.Tensor | None = None,
        skip_all: bool = False,
    ) -> torch.Tensor:
        """`keep` ([B, 1, 1], 0/1) replaces the attention by the value projection for samples with 0 (mixed STG);
        `skip_all` does that for the whole batch without computing q/k."""
        context = x if context is None else context
        v = self.to_v(context)
        if skip_all:
            out = v
        else:
            q = self.q_norm(self.to_q(x))
            k = self.k_norm(self.to_k(context))
            if pe is not None:
                q = apply_rope(q, pe)
                k = apply_rope(k, pe if k_pe is None else k_pe)
            out = resolve_kernel(self.kernel_name)(q, k, v, self.heads, mask)
            if keep is not None:
                out = out * keep + v * (1 - keep)
        if self.to_gate_logits is not None:
            gate = 2 * torch.sigmoid(self.to_gate_logits(x))
            out = rearrange(out, "b t (h d) -> b t h d", h=self.heads) * gate[..., None]
            out = rearrange(out, "b t h d -> b t (h d)")
        return self.to_out[0](out)
