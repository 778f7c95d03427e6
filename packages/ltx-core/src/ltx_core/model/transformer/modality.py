"""The per-stream input record of the transformer (one for video, one for audio)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class Modality:
    """One stream's input to the audio-video transformer.

    latent:        [B, T, C] patchified tokens (generated tokens, then any appended conditioning tokens);
                   its dtype is the compute dtype.
    sigma:         [B] (or 0-d) per-sample noise level; drives the prompt AdaLN (own σ) and the *other* stream's
                   audio↔video cross-attention AdaLN.
    timesteps:     [B, T, 1] per-token σ = σ · denoise mask (0 for clean conditioning tokens), not yet ×1000.
    positions:     [B, 3, T, 2] video (time s, y px, x px) or [B, 1, T, 2] audio (s); [start, end) per axis.
    context:       [B, S, D] text context for this stream's cross-attention.
    enabled:       False skips this stream's own updates (its tokens still serve as keys for the other stream).
    context_mask:  None, integer [B, S] (1 keep) or an additive float bias.
    attention_mask: None or [B, T, T] multiplicative self-attention weights in [0, 1].
    keyframes_mask: None or [B, T, 1] (video): tokens > 0 get the keyframe embedding (LTX-2.5 files that have one).
    """

    latent: torch.Tensor
    sigma: torch.Tensor
    timesteps: torch.Tensor
    positions: torch.Tensor
    context: torch.Tensor
    enabled: bool = True
    context_mask: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    keyframes_mask: torch.Tensor | None = None

    def with_(self, **changes: object) -> Modality:
        return replace(self, **changes)
