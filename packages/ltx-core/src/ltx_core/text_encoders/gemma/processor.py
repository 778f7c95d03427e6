"""Embeddings processor: features → right-padded order → video/audio connectors (spec A.10).

Module names (`feature_extractor`, `video_connector`, `audio_connector`) are the official ones; the key map in
`loading.py` routes checkpoint tensors onto them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ltx_core.errors import InputError
from ltx_core.text_encoders.gemma.config import TextPathConfig
from ltx_core.text_encoders.gemma.connector import EmbeddingsConnector
from ltx_core.text_encoders.gemma.features import FeatureExtractorV1, FeatureExtractorV2, stack_hidden_states


@dataclass(frozen=True)
class TextContexts:
    """What the transformer's cross-attention consumes, plus the intermediate features (for tests/debugging).

    video_context: (B, S, Dv); audio_context: (B, S, Da); mask: (B, S) int64, all ones (every slot is a token or a
    register). For LTX-2 Dv = Da = Gemma width: the transformer applies its own caption projections.
    """

    video_context: torch.Tensor
    audio_context: torch.Tensor
    mask: torch.Tensor
    video_features: torch.Tensor
    audio_features: torch.Tensor


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Binary (B, T) → additive (B, 1, 1, T): 0 for real tokens, −finfo(dtype).max for pads."""
    return (mask - 1).to(dtype).reshape(mask.shape[0], 1, 1, -1) * torch.finfo(dtype).max


def right_pad_order(mask: torch.Tensor) -> torch.Tensor:
    """Per-row permutation putting real tokens first (original order kept), pads after: stable descending sort."""
    return torch.argsort((mask > 0).to(torch.int32), dim=-1, descending=True, stable=True)


class EmbeddingsProcessor(nn.Module):
    def __init__(self, config: TextPathConfig) -> None:
        super().__init__()
        self.config = config
        d, n = config.gemma_width, config.num_hidden_states
        if config.version == 1:
            self.feature_extractor: nn.Module = FeatureExtractorV1(d, n)
        else:
            self.feature_extractor = FeatureExtractorV2(d, n, config.video_width, config.audio_width)
        self.video_connector = EmbeddingsConnector(config.video_connector)
        self.audio_connector = EmbeddingsConnector(config.audio_connector)

    @property
    def dtype(self) -> torch.dtype:
        return self.video_connector.learnable_registers.dtype

    def forward(
        self, hidden_states: Sequence[torch.Tensor] | torch.Tensor, attention_mask: torch.Tensor
    ) -> TextContexts:
        """hidden_states: L tensors (B, T, D) (index 0 = embeddings) or one (L, B, T, D); attention_mask (B, T)."""
        x = stack_hidden_states(hidden_states)
        if attention_mask.ndim != 2:
            raise InputError(f"attention mask has shape {tuple(attention_mask.shape)}; expected (B, T)")
        attention_mask = attention_mask.to(x.device)
        video_features, audio_features = self.feature_extractor(x.to(self.dtype), attention_mask)
        order = right_pad_order(attention_mask)
        mask = additive_mask(attention_mask, video_features.dtype)
        mask = torch.gather(mask, -1, order[:, None, None, :])

        def sort(t: torch.Tensor) -> torch.Tensor:
            return torch.gather(t, 1, order[:, :, None].expand(-1, -1, t.shape[-1]))

        video_context, video_mask = self.video_connector(sort(video_features), mask)
        binary = (video_mask < 1e-6).to(torch.int64)[:, 0, 0, :]
        video_context = video_context * binary[:, :, None].to(video_context.dtype)
        audio_context, _ = self.audio_connector(sort(audio_features), mask)
        return TextContexts(video_context, audio_context, binary, video_features, audio_features)
