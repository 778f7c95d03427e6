"""The LTX-2.5 duration head (spec delta C.2): the prompt's video and audio contexts → predicted seconds.

Both streams projected to the pooler width plus a per-modality embedding, concatenated (video first), pooled by
learned queries through one multi-head cross-attention (PyTorch's `nn.MultiheadAttention`, whose packed key/value
projection the official numbers come from), then a GELU(tanh) MLP to a log-duration; `exp` gives seconds. No mask:
every context slot, register-filled ones included, takes part.
"""

from __future__ import annotations

import torch
from torch import nn

from ltx_core.errors import InputError
from ltx_core.model.duration_head.config import DurationHeadConfig


class AttentionPooler(nn.Module):
    def __init__(self, width: int, num_queries: int, num_heads: int) -> None:
        super().__init__()
        self.query_tokens = nn.Parameter(torch.empty(num_queries, width))
        self.cross_attn = nn.MultiheadAttention(width, num_heads, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        queries = self.query_tokens.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        pooled, _ = self.cross_attn(queries, tokens, tokens, need_weights=False)
        return pooled


class DurationHead(nn.Module):
    def __init__(self, config: DurationHeadConfig) -> None:
        super().__init__()
        self.config = config
        p = config.pooler_width
        self.video_input_proj = nn.Linear(config.video_width, p)
        self.video_modality_emb = nn.Parameter(torch.empty(p))
        self.audio_input_proj = nn.Linear(config.audio_width, p)
        self.audio_modality_emb = nn.Parameter(torch.empty(p))
        self.attention_pooler = AttentionPooler(p, config.num_queries, config.num_heads)
        self.mlp_hidden = nn.Linear(p * config.num_queries, config.mlp_width)
        self.mlp_out = nn.Linear(config.mlp_width, 1)

    def forward(self, video: torch.Tensor | None = None, audio: torch.Tensor | None = None) -> torch.Tensor:
        """Seconds per batch item `[B]`, from `video` `[B, T, video_width]` and/or `audio` `[B, T, audio_width]`."""
        streams = []
        if video is not None:
            streams.append(self.video_input_proj(video) + self.video_modality_emb)
        if audio is not None:
            streams.append(self.audio_input_proj(audio) + self.audio_modality_emb)
        if not streams:
            raise InputError("the duration head needs a video or an audio context")
        pooled = self.attention_pooler(torch.cat(streams, dim=1))
        hidden = nn.functional.gelu(self.mlp_hidden(pooled.reshape(pooled.shape[0], -1)), approximate="tanh")
        return torch.exp(self.mlp_out(hidden).squeeze(-1))
