"""The Gemma-4 "unified" text model, written from the spec (gemma4_text_encoder.md §6), not taken from transformers.

Why our own module instead of transformers' `Gemma4Unified...` classes (as the official 1.2.0 does): measured on the
golden cases (`cases/ltx25/text_gemma4_{0,1}`, recorded with transformers 5.14.1), both this module and the HF class
of the transformers locked here (5.24) give every hidden state bitwise under the recording's AVX2 kernels (under
AVX-512 both differ from the recording, identically, by <= 4e-7 in the last state: the SDPA kernel, not the
library). The numbers therefore do not need HF; depending on it would: the classes exist only from 5.10.1 (our floor
is 4.52.1, for Gemma 3), and the API the official uses to re-create the rotary buffers (`head_dim_key=
"global_head_dim"`) and the config layout (5.24 moved head sizes into `per_layer_config`) changed between 5.14 and
5.24. This module is the spec's forward, independent of the transformers release, holds no non-persistent buffers
(the rotary tables and the embedding scale are computed in `forward`), and loads through
`ltx_core.loader.load_model` (strict, on meta) like every other model here.

Parameter names are the HF language model's (`embed_tokens`, `layers.{i}.self_attn.q_proj`, ..., `norm`), so the
checkpoint maps onto it by prefix alone. `layer_scalar` is a parameter here (a persistent buffer in HF): it is in
every checkpoint and must stream with its layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.text_encoders.gemma.gemma4_config import FULL, SLIDING, Gemma4TextConfig, RopeSpec


class RMSNorm(nn.Module):
    """Gemma-4 RMSNorm: in float32, `x · (mean(x²) + eps)^(−0.5)` (a power, not rsqrt), times `weight` (not
    1 + weight as in Gemma 3), cast back to the input dtype. Without `weight` (the value norm) no scale."""

    def __init__(self, width: int, eps: float, with_weight: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width)) if with_weight else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        out = h * torch.pow(h.pow(2).mean(-1, keepdim=True) + self.eps, -0.5)
        if self.weight is not None:
            out = out * self.weight.float()
        return out.type_as(x)


def rope_inv_freq(spec: RopeSpec, head_dim: int) -> torch.Tensor:
    """(head_dim / 2,) float32 angles per position step. `proportional`: the first
    int(partial_rotary_factor · head_dim // 2) angles 1/θ^(2k/head_dim), the rest 0 (no rotation); all / factor."""
    if spec.rope_type == "default":
        inv = 1.0 / (spec.theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    else:
        rotated = int(spec.partial_rotary_factor * head_dim // 2)
        angles = 1.0 / (spec.theta ** (torch.arange(0, 2 * rotated, 2, dtype=torch.int64).float() / head_dim))
        inv = torch.cat([angles, torch.zeros(head_dim // 2 - rotated, dtype=torch.float32)])
    return inv / spec.factor if spec.factor != 1.0 else inv


def rope_cos_sin(
    inv_freq: torch.Tensor, seq_len: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (T, head_dim) in `dtype`: angles position · inv_freq in float32, duplicated over both halves."""
    positions = torch.arange(seq_len, device=device, dtype=torch.float32)
    freqs = positions[:, None] * inv_freq.to(device)[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, hd); cos/sin (T, hd): the rotate-half convention."""
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    return (x * cos) + (_rotate_half(x) * sin)


class Attention(nn.Module):
    """q/k RMSNorm per head, RoPE, a weightless value norm, GQA, softmax scale 1.0, no biases."""

    def __init__(self, config: Gemma4TextConfig, layer: int) -> None:
        super().__init__()
        width, heads = config.hidden_size, config.num_heads
        self.head_dim = config.layer_head_dim(layer)
        self.kv_heads = config.layer_kv_heads(layer)
        self.q_proj = nn.Linear(width, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(width, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(width, self.kv_heads * self.head_dim, bias=False) if config.has_v_proj(layer) else None
        self.o_proj = nn.Linear(heads * self.head_dim, width, bias=False)
        self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.k_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.v_norm = RMSNorm(self.head_dim, config.rms_norm_eps, with_weight=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        shape = (b, t, -1, self.head_dim)
        q = apply_rope(self.q_norm(self.q_proj(x).view(shape)), cos, sin).transpose(1, 2)
        k_raw = self.k_proj(x).view(shape)
        v_raw = self.v_proj(x).view(shape) if self.v_proj is not None else k_raw  # attention_k_eq_v: raw K
        k = apply_rope(self.k_norm(k_raw), cos, sin).transpose(1, 2)
        v = self.v_norm(v_raw).transpose(1, 2)
        repeat = q.shape[1] // self.kv_heads
        if repeat > 1:
            k = k.repeat_interleave(repeat, dim=1)
            v = v.repeat_interleave(repeat, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(width, hidden, bias=False)
        self.up_proj = nn.Linear(width, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.gelu(self.gate_proj(x), approximate="tanh") * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Sandwich norms around attention and MLP, residuals in the running dtype, then the learned layer scalar."""

    def __init__(self, config: Gemma4TextConfig, layer: int) -> None:
        super().__init__()
        width, eps = config.hidden_size, config.rms_norm_eps
        self.layer_type = config.layer_types[layer]
        self.input_layernorm = RMSNorm(width, eps)
        self.self_attn = Attention(config, layer)
        self.post_attention_layernorm = RMSNorm(width, eps)
        self.pre_feedforward_layernorm = RMSNorm(width, eps)
        self.mlp = MLP(width, config.intermediate_size)
        self.post_feedforward_layernorm = RMSNorm(width, eps)
        self.layer_scalar = nn.Parameter(torch.ones(1), requires_grad=False)

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = h + self.post_attention_layernorm(self.self_attn(self.input_layernorm(h), cos, sin, mask))
        h = h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        return h * self.layer_scalar


def attention_masks(attention_mask: torch.Tensor, sliding_window: int) -> dict[str, torch.Tensor]:
    """Boolean masks (B, 1, T, T), True = attend: causal ∧ key padding, and for sliding layers also i − j < window.
    A left-pad query sees no key at all; SDPA then returns zeros for its row (finite, later zeroed anyway)."""
    t = attention_mask.shape[1]
    pos = torch.arange(t, device=attention_mask.device)
    distance = pos[:, None] - pos[None, :]
    full = (distance >= 0)[None] & attention_mask.bool()[:, None, :]
    sliding = full & (distance < sliding_window)[None]
    return {FULL: full[:, None], SLIDING: sliding[:, None]}


class Gemma4TextModel(nn.Module):
    """Token ids → the L + 1 hidden states LTX uses: the scaled embeddings, the output of every layer but the last,
    and the final norm of the last layer's output (§6). Positions are 0..T−1 over the padded row (left pads
    included), as the official encoder calls it (no position ids)."""

    def __init__(self, config: Gemma4TextConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i) for i in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def _rope_tables(self, t: int, dtype: torch.dtype, device: torch.device) -> dict[str, tuple[torch.Tensor, ...]]:
        cfg = self.config
        head_dims = {SLIDING: cfg.head_dim, FULL: cfg.global_head_dim}
        tables = {}
        for kind, spec in cfg.rope.items():
            tables[kind] = rope_cos_sin(rope_inv_freq(spec, head_dims[kind]), t, dtype, device)
        return tables

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        weight = self.embed_tokens.weight
        ids = input_ids.to(weight.device)
        if self.config.placeholder_ids:
            placeholders = torch.tensor(self.config.placeholder_ids, device=ids.device)
            ids = torch.where(torch.isin(ids, placeholders), self.config.pad_token_id, ids)
        scale = torch.tensor(self.config.hidden_size**0.5).to(weight.dtype)  # f32 first, then the weight dtype
        h = F.embedding(ids, weight) * scale.to(weight.device)
        masks = attention_masks(attention_mask.to(weight.device), self.config.sliding_window)
        tables = self._rope_tables(ids.shape[1], h.dtype, h.device)
        states = [h]
        for layer in self.layers:
            cos, sin = tables[layer.layer_type]
            h = layer(h, cos, sin, masks[layer.layer_type])
            states.append(h)
        states[-1] = self.norm(h)
        return tuple(states)
