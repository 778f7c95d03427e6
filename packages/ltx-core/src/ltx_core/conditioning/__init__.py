"""Conditioning items: each edits a patchified `LatentState` and may only append tokens at the end."""

from ltx_core.conditioning.attention_strength import ConditioningItemAttentionStrengthWrapper
from ltx_core.conditioning.errors import ConditioningError
from ltx_core.conditioning.keyframe import VideoConditionByKeyframeIndex
from ltx_core.conditioning.latent_index import VideoConditionByLatentIndex
from ltx_core.conditioning.reference_audio import (
    AudioConditionByReferenceLatent,
    patchify_lipdub_audio_reference_latent,
)
from ltx_core.conditioning.reference_video import VideoConditionByReferenceLatent
from ltx_core.conditioning.temporal_region import TemporalRegionMask

__all__ = [
    "AudioConditionByReferenceLatent",
    "ConditioningError",
    "ConditioningItemAttentionStrengthWrapper",
    "TemporalRegionMask",
    "VideoConditionByKeyframeIndex",
    "VideoConditionByLatentIndex",
    "VideoConditionByReferenceLatent",
    "patchify_lipdub_audio_reference_latent",
]
