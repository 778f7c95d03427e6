"""Transformer ↔ checkpoint: key map, factory from the checkpoint config, loader and the inverse state dict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader import Checkpoint, KeyMap, LoraSpec, load_model, open_checkpoint, strip_prefix_map
from ltx_core.model.transformer.config import ModelType, TransformerConfig
from ltx_core.model.transformer.model import LTXModel
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.quantization.fp8_scaled_mm import is_scaled_fp8_checkpoint

TRANSFORMER_PREFIX = "model.diffusion_model."
# Under the transformer's prefix but owned by the text path (AV layout, and the video-only layout).
TEXT_CONNECTOR_PREFIXES = (
    TRANSFORMER_PREFIX + "video_embeddings_connector.",
    TRANSFORMER_PREFIX + "audio_embeddings_connector.",
    TRANSFORMER_PREFIX + "embeddings_connector.",
)
TRANSFORMER_KEY_MAP = strip_prefix_map("transformer", TRANSFORMER_PREFIX, exclude=TEXT_CONNECTOR_PREFIXES)

# Parts of an audio-video checkpoint a video-only model does not have (top level and per block).
_AUDIO_TOP = ("audio_", "av_ca_")
_AUDIO_BLOCK = ("audio_", "scale_shift_table_a2v_", "video_to_audio_attn.")
# The audio stream of a block: every per-block `audio_*` key but the audio → video cross-attention (spec delta B.5).
_AUDIO_STREAM_BLOCK_EXCLUDE = ("audio_to_video_attn.",)
# A key that shows a file holds each stream of the transformer.
VIDEO_STREAM_KEY = TRANSFORMER_PREFIX + "patchify_proj.weight"
AUDIO_STREAM_KEY = TRANSFORMER_PREFIX + "audio_patchify_proj.weight"


def transformer_key_map(config: TransformerConfig) -> KeyMap:
    """The key map for a model of `config.model_type`: a video-only model skips the audio and AV keys; an audio-only
    model (text to audio) keeps only the audio stream's (`audio_*` at the top level and in each block, the audio →
    video cross-attention excepted), so it loads from an audio-video checkpoint as well as from an audio-only file."""
    if config.model_type is ModelType.AUDIO_ONLY:
        blocks = [f"{TRANSFORMER_PREFIX}transformer_blocks.{i}." for i in range(config.num_layers)]
        return replace(
            TRANSFORMER_KEY_MAP,
            name="transformer_audio_only",
            prefixes=(TRANSFORMER_PREFIX + "audio_", *(b + "audio_" for b in blocks)),
            exclude=TEXT_CONNECTOR_PREFIXES + tuple(b + e for b in blocks for e in _AUDIO_STREAM_BLOCK_EXCLUDE),
        )
    if config.model_type is not ModelType.VIDEO_ONLY:
        return TRANSFORMER_KEY_MAP
    skip = [TRANSFORMER_PREFIX + p for p in _AUDIO_TOP]
    for i in range(config.num_layers):
        skip += [f"{TRANSFORMER_PREFIX}transformer_blocks.{i}.{p}" for p in _AUDIO_BLOCK]
    return replace(TRANSFORMER_KEY_MAP, name="transformer_video_only", exclude=TEXT_CONNECTOR_PREFIXES + tuple(skip))


def check_transformer_streams(
    checkpoint: str | Path | Sequence[str | Path] | Checkpoint, model_type: ModelType
) -> None:
    """The file holds the stream(s) a model of `model_type` runs (header only): one line naming what is missing and
    what the file can run instead, rather than a list of missing weights. An audio-only file (text to audio) has no
    video stream; a video-only one no audio stream."""
    ckpt = open_checkpoint(checkpoint)
    keys = set(ckpt.keys())
    video, audio = VIDEO_STREAM_KEY in keys, AUDIO_STREAM_KEY in keys
    if model_type.has_video and not video:
        runs = "; it runs only text to audio (ltx_pipelines.t2a_one_stage)" if audio else ""
        raise CheckpointError(f"{ckpt.path} has no video transformer (no {VIDEO_STREAM_KEY}){runs}")
    if model_type.has_audio and not audio:
        raise CheckpointError(
            f"{ckpt.path} has no audio transformer (no {AUDIO_STREAM_KEY}), which "
            f"{'text to audio' if model_type is ModelType.AUDIO_ONLY else 'an audio-video model'} needs"
        )


def transformer_config(
    config: dict[str, Any], model_type: ModelType = ModelType.AUDIO_VIDEO, source: str | Path = "<config>"
) -> TransformerConfig:
    return TransformerConfig.from_checkpoint_config(config, model_type, source=str(source))


def build_transformer(
    config: dict[str, Any], model_type: ModelType = ModelType.AUDIO_VIDEO, numerics: Numerics = DEFAULT_NUMERICS
) -> LTXModel:
    """Factory from a checkpoint config dict (random init on the current default device)."""
    return LTXModel(transformer_config(config, model_type), numerics)


def load_transformer(
    checkpoint: str | Path | Sequence[str | Path] | Checkpoint,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    loras: Sequence[LoraSpec] = (),
    model_type: ModelType = ModelType.AUDIO_VIDEO,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> LTXModel:
    """Build the transformer from a (single-file or sharded) checkpoint; dtype None keeps the stored dtypes.
    `numerics` is the model's (its forward, delta A.1) and the LoRA fusion's (delta A.12)."""
    ckpt = open_checkpoint(checkpoint)
    if is_scaled_fp8_checkpoint(ckpt):
        raise CheckpointError(
            f"{ckpt.path}: a pre-quantized fp8 checkpoint; load it with quantization 'fp8-scaled-mm' "
            "(quantization='fp8-scaled-mm' in ltx_core.offload.streaming.load_resident_transformer)"
        )
    cfg = transformer_config(ckpt.config, model_type, source=ckpt.path)
    check_transformer_streams(ckpt, model_type)
    model = load_model(
        lambda: LTXModel(cfg, numerics),
        ckpt,
        transformer_key_map(cfg),
        component="transformer",
        dtype=dtype,
        device=device,
        loras=loras,
        numerics=numerics,
    )
    assert isinstance(model, LTXModel)
    return model


def transformer_checkpoint_state_dict(model: LTXModel) -> dict[str, torch.Tensor]:
    """The model's weights under their official checkpoint keys (inverse of the key map)."""
    return {TRANSFORMER_PREFIX + k: v for k, v in model.state_dict().items()}


def read_model_version(checkpoint: str | Path | Sequence[str | Path] | Checkpoint) -> str | None:
    """The top-level metadata `model_version` (e.g. "2.3.0" for LTX-2.3; absent in LTX-2 files)."""
    return open_checkpoint(checkpoint).metadata.get("model_version")
