"""An audio-only checkpoint cut from a full one, as the official T2A test file is made (golden README_120_pipelines
§2.1): what text to audio reads and nothing else.

Kept: the transformer's audio stream (the keys the audio-only model's key map selects: `audio_*` at the top level
and in every block, the audio → video cross-attention excepted), the text path (`text_embedding_projection.*` and
the embeddings connectors), the audio VAE decoder with its latent statistics, the vocoder and the duration head when
the file has one. Dropped: the video stream, the A↔V cross-attention, the video VAE and the audio VAE encoder. The
metadata keeps the config sections `transformer`, `audio_vae`, `vocoder` (and `duration_head`), `model_version` and
`gemma_source_checkpoint`. Tensors are copied as stored (same dtype and values).
"""

from __future__ import annotations

import json
from pathlib import Path

from ltx_core.errors import CheckpointError
from ltx_core.loader import open_checkpoint
from ltx_core.model.duration_head.loading import DURATION_HEAD_PREFIX
from ltx_core.model.transformer import ModelType, transformer_config, transformer_key_map
from ltx_core.model.transformer.loading import TEXT_CONNECTOR_PREFIXES, check_transformer_streams

AUDIO_ONLY_PREFIXES = (
    *TEXT_CONNECTOR_PREFIXES,
    "text_embedding_projection.",
    "audio_vae.decoder.",
    "audio_vae.per_channel_statistics.",
    "vocoder.",
    DURATION_HEAD_PREFIX,
)
AUDIO_ONLY_CONFIG_SECTIONS = ("transformer", "audio_vae", "vocoder", "duration_head")
AUDIO_ONLY_METADATA = ("model_version", "gemma_source_checkpoint")


def audio_only_keys(monolith: str | Path) -> list[str]:
    """The keys of `monolith` an audio-only file keeps, sorted."""
    ckpt = open_checkpoint(monolith)
    check_transformer_streams(ckpt, ModelType.AUDIO_ONLY)
    config = transformer_config(ckpt.config, ModelType.AUDIO_ONLY, source=ckpt.path)
    transformer = set(transformer_key_map(config).select(ckpt.keys()).values())
    return sorted(k for k in ckpt.keys() if k in transformer or k.startswith(AUDIO_ONLY_PREFIXES))


def audio_only_file(monolith: str | Path, out_path: str | Path) -> Path:
    """Write the audio-only checkpoint of the single-file checkpoint `monolith` to `out_path` (atomically: a temp
    file, then renamed); returns `out_path`."""
    from ltx_core.testing.tiny_checkpoints import _save

    ckpt = open_checkpoint(monolith)
    if len(ckpt.paths) != 1:
        raise CheckpointError(f"{ckpt.path}: an audio-only file is cut from a single-file checkpoint")
    keys = audio_only_keys(ckpt)
    config = {k: v for k, v in ckpt.config.items() if k in AUDIO_ONLY_CONFIG_SECTIONS}
    metadata = {"config": json.dumps(config)}
    metadata.update({k: v for k, v in ckpt.metadata.items() if k in AUDIO_ONLY_METADATA})
    tensors = dict(ckpt.iter_tensors(keys))  # as stored, one pass over the file
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    _save(out, tensors, metadata)
    return out
